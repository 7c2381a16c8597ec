"""Training checkpoints: DeepSpeed checkpoint folders that become visible only when complete.

A run's output dir (local or s3://) holds one folder per checkpoint, tagged `epoch{N}` (N
epochs finished) or `step{NNNNNNN}` (optimizer steps), as the reference names them. Saving:
DeepSpeed writes the folder (directly into a local output dir, or into a local staging dir
that the first process of each machine then uploads), then the first process writes the
folder's completion marker `checkpoint.json` and, last, the `latest` file naming the tag
(each an atomic write or a single PUT). A crash at any point leaves either the previous
complete state or the new one, never a folder that a resume would trust half-written:
only folders with a marker are ever resumed from.

Environment: LUKE_CHECKPOINT_STAGING, the local folder for S3 checkpoints (default: the
system temp dir); it needs room for one checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from luke_core import storage
from luke_core.errors import LukeError
from luke_core.training.distributed import DistributedEnv, barrier

logger = logging.getLogger(__name__)

MARKER_FILE = "checkpoint.json"
LATEST_FILE = "latest"
MARKER_KIND = "luke_checkpoint"
_TAG = re.compile(r"^(?:epoch(\d+)|step(\d+))$")


def step_tag(step: int) -> str:
    return f"step{step:07d}"


def epoch_tag(epoch: int) -> str:
    return f"epoch{epoch}"


def is_tag(name: str) -> bool:
    return bool(_TAG.match(name))


@dataclass(frozen=True, kw_only=True)
class CheckpointInfo:
    """A checkpoint's completion marker (`checkpoint.json`), plus where it lies."""

    tag: str
    step: int
    """Optimizer steps done."""
    epoch: int
    """Epochs finished."""
    samples: int
    model_config: dict[str, Any]
    fix_bert_weights: bool
    world_size: int
    saved_at: str
    uri: str = ""
    """The checkpoint folder (not stored: it is where the marker was read)."""
    kind: str = MARKER_KIND

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "uri"}

    @classmethod
    def from_json(cls, obj: dict[str, Any], uri: str) -> CheckpointInfo:
        if obj.get("kind") != MARKER_KIND:
            raise LukeError(f"{storage.join(uri, MARKER_FILE)}: not a checkpoint marker")
        names = {f.name for f in dataclasses.fields(cls)} - {"uri"}
        try:
            return cls(**{k: v for k, v in obj.items() if k in names}, uri=uri)
        except TypeError as exc:
            raise LukeError(
                f"{storage.join(uri, MARKER_FILE)}: incomplete marker ({exc})"
            ) from None


def read_marker(checkpoint_uri: str) -> CheckpointInfo | None:
    """The marker of a checkpoint folder, or None while it is incomplete."""
    marker = storage.join(checkpoint_uri, MARKER_FILE)
    if not storage.is_file(marker):
        return None
    return CheckpointInfo.from_json(storage.read_json(marker), checkpoint_uri.rstrip("/"))


def checkpoint_tags(run_dir: str) -> list[str]:
    """Tags of the checkpoint folders in a run's output dir, complete or not, by step."""
    if not storage.exists(run_dir) or storage.is_file(run_dir):
        return []
    root = run_dir.rstrip("/")
    if storage.is_s3(run_dir):
        names = {uri[len(root) + 1 :].split("/", 1)[0] for uri in storage.list_files(run_dir)}
    else:
        names = {n for n in os.listdir(run_dir) if os.path.isdir(os.path.join(run_dir, n))}
    return sorted((n for n in names if is_tag(n)), key=_tag_order)


def _tag_order(tag: str) -> tuple[int, int]:
    epoch, step = _TAG.match(tag).groups()
    return (0, int(epoch)) if epoch is not None else (1, int(step))


def list_checkpoints(run_dir: str) -> list[tuple[str, CheckpointInfo | None]]:
    """(tag, marker or None while incomplete), complete ones in step order first."""
    found = [(tag, read_marker(storage.join(run_dir, tag))) for tag in checkpoint_tags(run_dir)]
    return sorted(found, key=lambda item: (item[1] is None, item[1].step if item[1] else 0))


def latest_complete(run_dir: str) -> CheckpointInfo | None:
    """The complete checkpoint with the most steps (an epoch's end wins a tie): not just
    what `latest` says, since a crash may fall between a marker and `latest`."""
    complete = [info for _, info in list_checkpoints(run_dir) if info is not None]
    if not complete:
        return None
    return max(complete, key=lambda info: (info.step, info.tag.startswith("epoch")))


def checkpoint_folder_of(value: str) -> str:
    """The folder of a file inside a checkpoint (`.../epoch2/mp_rank_00_model_states.pt`,
    as the reference's `--checkpoint-path` was used), else `value` itself."""
    if value.endswith(".pt") and storage.is_file(value):
        return storage.parent(value)
    return value


def resolve_checkpoint(value: str, output_dir: str) -> CheckpointInfo:
    """`--resume-checkpoint-id`: a tag of the output dir, a checkpoint folder, or a run's
    output dir (its latest complete checkpoint); local paths or s3:// URIs."""
    candidates = []
    if is_tag(value):
        candidates.append(storage.join(output_dir, value))
    candidates.append(checkpoint_folder_of(value))
    for uri in candidates:
        if not storage.exists(uri):
            continue
        info = read_marker(uri)
        if info is not None:
            return info
        if storage.is_file(storage.join(uri, LATEST_FILE)) or checkpoint_tags(uri):
            found = latest_complete(uri)
            if found is None:
                raise LukeError(f"{uri}: a run folder without a complete checkpoint")
            return found
        raise LukeError(
            f"{uri}: not a complete checkpoint (no {MARKER_FILE}: its save was interrupted)"
        )
    raise LukeError(f"--resume-checkpoint-id {value}: no such checkpoint (looked in {candidates})")


def staging_root(output_dir: str) -> str:
    """The local folder where an S3 run's checkpoints are written before the upload."""
    base = os.environ.get("LUKE_CHECKPOINT_STAGING") or os.path.join(
        tempfile.gettempdir(), "luke-checkpoints"
    )
    return os.path.join(base, hashlib.sha1(output_dir.encode()).hexdigest()[:16])


class CheckpointStore:
    """Saves and loads the DeepSpeed checkpoints of one run's output dir, in every process."""

    def __init__(self, output_dir: str, env: DistributedEnv):
        self.output_dir = output_dir.rstrip("/")
        self.env = env
        self.remote = storage.is_s3(output_dir)
        self.local_root = staging_root(output_dir) if self.remote else self.output_dir

    def save(self, engine, info: CheckpointInfo, client_state: dict[str, Any]) -> CheckpointInfo:
        """Every process calls this; returns the marker as written."""
        destination = storage.join(self.output_dir, info.tag)
        if self.env.is_main:  # an earlier, interrupted attempt at this tag must not survive
            storage.remove(storage.join(destination, MARKER_FILE))
            storage.remove(destination)
        if self.remote and self.env.is_node_main:
            shutil.rmtree(os.path.join(self.local_root, info.tag), ignore_errors=True)
        barrier()
        engine.save_checkpoint(
            self.local_root, tag=info.tag, client_state=client_state, save_latest=False
        )
        if self.remote:
            if self.env.is_node_main:
                storage.upload_dir(os.path.join(self.local_root, info.tag), destination)
            barrier()
        info = dataclasses.replace(info, uri=destination, saved_at=_now())
        if self.env.is_main:
            storage.write_json(storage.join(destination, MARKER_FILE), info.to_json())
            storage.write_text(storage.join(self.output_dir, LATEST_FILE), info.tag)
        barrier()
        if self.remote and self.env.is_node_main:
            shutil.rmtree(os.path.join(self.local_root, info.tag), ignore_errors=True)
        logger.info("checkpoint %s complete (step %d)", destination, info.step)
        return info

    def load(self, engine, info: CheckpointInfo, *, weights_only: bool) -> dict[str, Any]:
        """Load a complete checkpoint into the engine; returns the client state."""
        folder = storage.basename(info.uri)  # a copied checkpoint may bear another name
        if storage.is_s3(info.uri):
            load_dir = os.path.join(staging_root(self.output_dir), "resume")
            if self.env.is_node_main:
                shutil.rmtree(os.path.join(load_dir, folder), ignore_errors=True)
                storage.download_dir(info.uri, os.path.join(load_dir, folder))
            barrier()
        else:
            load_dir = storage.parent(info.uri)
        path, client_state = engine.load_checkpoint(
            load_dir,
            tag=folder,
            load_optimizer_states=not weights_only,
            load_lr_scheduler_states=not weights_only,
            load_module_only=weights_only,
        )
        if path is None:
            raise LukeError(f"{info.uri}: DeepSpeed could not load this checkpoint")
        if storage.is_s3(info.uri):  # the downloaded copy has served its purpose
            barrier()
            if self.env.is_node_main:
                shutil.rmtree(os.path.join(load_dir, folder), ignore_errors=True)
        return client_state or {}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
