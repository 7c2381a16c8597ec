"""What every pod of a training PyTorchJob runs: torchrun, with exit statuses that tell the
training operator whether restarting the pod can help.

The PyTorchJob uses `restartPolicy: ExitCode`: the operator recreates a pod that exits with
128-255 (retryable) and fails the job at once on 1-127 (permanent). torchrun itself exits 1
for any failed worker, so a worker killed by the OOM killer and a worker that found a typo
in its config would look alike. This wrapper keeps them apart:

- a worker killed by a signal (OOM kill, the NCCL watchdog's abort, a segfault) -> 128 + signal
- every failed worker hit a distributed error (a peer died: `torch.distributed.DistError`),
  or the agent could not rendezvous (the master pod is being recreated)  -> RETRYABLE_EXIT_CODE
- anything else (a bad option, a missing dataset, a bug)  -> the worker's own status (1-127)

A recreated pod resumes from the latest checkpoint (`luke pretrain` does that by itself), so a
crash costs at most the checkpoint interval while a bad config fails the job in seconds.

Usage (the job's container command): `python -m luke_k8s.torchrun_node [torchrun options]
-m luke_core pretrain ARGS`. Each worker runs as `-m luke_k8s.torchrun_node --worker
luke_core pretrain ARGS`, which turns a distributed error into TRANSIENT_WORKER_EXIT_CODE.
Standard library, torch and `luke_core.parallel` only: this runs in the training image.
"""

from __future__ import annotations

import logging
import os
import runpy
import sys
from collections.abc import Sequence

logger = logging.getLogger("luke.torchrun_node")

RETRYABLE_EXIT_CODE = 200
"""Retryable for the operator (>= 128) and distinct from 128 + any signal number (<= 192)."""
TRANSIENT_WORKER_EXIT_CODE = 75
"""A worker's exit status for a distributed error (EX_TEMPFAIL in sysexits.h)."""
WORKER_FLAG = "--worker"
WRAPPER_MODULE = "luke_k8s.torchrun_node"


def node_main(argv: Sequence[str]) -> int:
    """Run torchrun with `argv` (its options, then `-m MODULE ARGS`); return the exit status."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    args = parse_args(list(argv))
    share_cpus(args.nproc_per_node)
    if args.module and not args.no_python:
        # Run the module through this file's worker mode, which classifies its errors.
        args.training_script_args = [WORKER_FLAG, args.training_script, *args.training_script_args]
        args.training_script = WRAPPER_MODULE
    try:
        run(args)
    except ChildFailedError as exc:
        codes = {rank: failure.exitcode for rank, failure in exc.failures.items()}
        logger.error("workers failed (global rank: exit code, negative for a signal): %s", codes)
        return _report(child_failure_exit_code(codes))
    except BaseException as exc:  # every agent failure is classified, or re-raised
        code = agent_failure_exit_code(exc)
        if code is None:
            raise
        logger.error("torchrun agent failed: %s: %s", type(exc).__name__, exc)
        return _report(code)
    return 0


def share_cpus(nproc_per_node: str) -> None:
    """Give each worker an equal share of the CPUs the pod may use (its cgroup quota, not
    the node's cores) as its thread count, unless OMP_NUM_THREADS says otherwise: torchrun
    would set 1, which starves the data loading and the CPU-side optimizer work."""
    from luke_core.parallel import available_cpus

    processes = int(nproc_per_node) if str(nproc_per_node).isdigit() else 1
    threads = max(1, available_cpus() // max(1, processes))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def child_failure_exit_code(worker_exit_codes: dict[int, int]) -> int:
    """The pod's exit status for these failed workers (global rank -> exit code, negative for
    a signal, as torchelastic reports them)."""
    signals = [-code for code in worker_exit_codes.values() if code < 0]
    if signals:
        return 128 + signals[0]
    codes = [code for code in worker_exit_codes.values() if code > 0]
    if codes and all(code == TRANSIENT_WORKER_EXIT_CODE for code in codes):
        return RETRYABLE_EXIT_CODE
    permanent = [code for code in codes if code != TRANSIENT_WORKER_EXIT_CODE]
    return min(max(permanent[0], 1), 127) if permanent else 1


def agent_failure_exit_code(exc: BaseException) -> int | None:
    """The exit status for an exception of the torchrun agent itself, or None to re-raise."""
    from torch.distributed import DistError
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.rendezvous.api import RendezvousError

    if isinstance(exc, SignalException):
        return 128 + int(exc.sigval)
    if isinstance(exc, RendezvousError | DistError | TimeoutError | ConnectionError):
        return RETRYABLE_EXIT_CODE
    return None


def worker_main(argv: Sequence[str]) -> int:
    """Run `python -m MODULE ARGS` in this process; a distributed error becomes
    TRANSIENT_WORKER_EXIT_CODE, everything else behaves as it would without the wrapper."""
    from torch.distributed import DistError

    module, *module_args = argv
    sys.argv = [module, *module_args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except DistError:
        logger.exception("distributed error: exiting %d (retryable)", TRANSIENT_WORKER_EXIT_CODE)
        return TRANSIENT_WORKER_EXIT_CODE
    return 0


def _report(code: int) -> int:
    kind = "retryable: the operator restarts the pod" if code >= 128 else "permanent"
    logger.error("training failed: exiting with %d (%s)", code, kind)
    return code


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    argv = sys.argv[1:]
    if argv[:1] == [WORKER_FLAG]:
        sys.exit(worker_main(argv[1:]))
    sys.exit(node_main(argv))


if __name__ == "__main__":
    main()
