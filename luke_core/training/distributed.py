"""One process per device: where this process stands, and the process group.

torchrun (as a PyTorchJob starts it) and the `deepspeed` launcher both set MASTER_ADDR,
MASTER_PORT, WORLD_SIZE, RANK and LOCAL_RANK; a plain `luke pretrain` without a launcher is a
world of one. GPUs use NCCL, one device per local rank; without GPUs DeepSpeed runs on its
CPU accelerator over gloo (DS_ACCELERATOR=cpu, set here before DeepSpeed is imported).
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
from dataclasses import dataclass

import torch

from luke_core.errors import LukeError
from luke_core.parallel import available_cpus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedEnv:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int

    @classmethod
    def from_environ(cls) -> DistributedEnv:
        try:
            world_size = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
            # torchrun says LOCAL_WORLD_SIZE, the deepspeed launcher LOCAL_SIZE
            local = os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("LOCAL_SIZE")
            local_world_size = int(local or world_size)
        except ValueError as exc:
            raise LukeError(f"malformed launcher environment ({exc})") from None
        if not 0 <= rank < world_size or not 0 <= local_rank < max(local_world_size, 1):
            raise LukeError(
                f"launcher environment: RANK {rank}, LOCAL_RANK {local_rank} do not fit "
                f"WORLD_SIZE {world_size}"
            )
        return cls(rank, world_size, local_rank, local_world_size)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_node_main(self) -> bool:
        """The first process of its machine (node-local files are its job)."""
        return self.local_rank == 0

    @property
    def uses_gpus(self) -> bool:
        return torch.cuda.is_available()

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.uses_gpus else torch.device("cpu")

    def check_devices(self) -> None:
        if self.uses_gpus and self.local_rank >= torch.cuda.device_count():
            raise LukeError(
                f"LOCAL_RANK {self.local_rank} but this machine has "
                f"{torch.cuda.device_count()} GPUs: start one process per GPU"
            )


def prepare_accelerator(env: DistributedEnv) -> None:
    """Pick DeepSpeed's accelerator before it is imported; bind this process's GPU."""
    if env.uses_gpus:
        torch.cuda.set_device(env.local_rank)
    else:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
        if "OMP_NUM_THREADS" not in os.environ:  # torchrun sets 1; share the CPUs otherwise
            torch.set_num_threads(max(1, available_cpus() // env.local_world_size))
    if env.world_size == 1:  # no launcher: a process group of one on this machine
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
        os.environ.setdefault("RANK", "0")
        os.environ.setdefault("LOCAL_RANK", "0")
        os.environ.setdefault("WORLD_SIZE", "1")


def init_process_group(env: DistributedEnv, timeout_minutes: int = 60) -> None:
    import deepspeed

    backend = "nccl" if env.uses_gpus else "gloo"
    deepspeed.init_distributed(
        dist_backend=backend,
        timeout=datetime.timedelta(minutes=timeout_minutes),
        verbose=False,
    )
    logger.info("process group: rank %d of %d over %s", env.rank, env.world_size, backend)


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def all_gather_objects(value) -> list:
    """Every process's `value`, in rank order (the values are small: states, metrics)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return [value]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_object(value, src: int = 0):
    import torch.distributed as dist

    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


def destroy_process_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
