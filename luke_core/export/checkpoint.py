"""What an export reads: a complete training checkpoint, the run files beside it, and the
model weights of the checkpoint on CPU.

A checkpoint is named by its folder (`RUN/epoch20`, local or s3://), by a run folder (its
latest complete checkpoint), or by a bare tag (`epoch20`, `step0001000`) of a run folder.
Only checkpoints with their completion marker (`checkpoint.json`, see
`luke_core.training.checkpoints`) are exported: a folder without one was never finished.

DeepSpeed keeps the module's state dict under "module" in `mp_rank_00_model_states.pt`
(without ZeRO, the file also holds the optimizer state: it is memory-mapped, and only the
weights are read). ZeRO stage 3 writes one partition per process instead
(`zero_pp_rank_N_mp_rank_00_model_states.pt`), which has to be consolidated first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch

from luke_core import storage
from luke_core.dataset.format import ENTITY_VOCAB_FILE, TOKENIZER_DIR
from luke_core.errors import LukeError
from luke_core.model.config import LukeModelConfig, describe_mismatch
from luke_core.training.checkpoints import (
    LATEST_FILE,
    CheckpointInfo,
    checkpoint_folder_of,
    checkpoint_tags,
    is_tag,
    latest_complete,
    list_checkpoints,
    read_marker,
)
from luke_core.training.run_files import METADATA_FILE, RUN_KIND

logger = logging.getLogger(__name__)

MODEL_STATE_FILE = "mp_rank_00_model_states.pt"
PARTITIONED_STATE_FILE = "zero_pp_rank_0_mp_rank_00_model_states.pt"
CONSOLIDATE = "consolidate it with DeepSpeed's zero_to_fp32.py first"


@dataclass(frozen=True)
class ExportSources:
    """The checkpoint and the files of its run that the export reads."""

    checkpoint: CheckpointInfo
    run_dir: str
    metadata_uri: str
    metadata: dict[str, Any]
    entity_vocab_uri: str
    tokenizer_uri: str

    @property
    def model_config(self) -> LukeModelConfig:
        return LukeModelConfig.from_json(self.checkpoint.model_config, self.checkpoint.uri)


def locate_sources(
    checkpoint: str,
    *,
    run_dir: str | None = None,
    metadata_path: str | None = None,
    entity_vocab_path: str | None = None,
    tokenizer_path: str | None = None,
) -> ExportSources:
    """Find the checkpoint and its run files (defaults: beside the checkpoint folder)."""
    info = find_checkpoint(checkpoint, run_dir)
    run = (run_dir or storage.parent(info.uri)).rstrip("/")
    metadata_uri = metadata_path or storage.join(run, METADATA_FILE)
    metadata = _read_run_metadata(metadata_uri, info)
    sources = ExportSources(
        checkpoint=info,
        run_dir=run,
        metadata_uri=metadata_uri,
        metadata=metadata,
        entity_vocab_uri=entity_vocab_path or storage.join(run, ENTITY_VOCAB_FILE),
        tokenizer_uri=(tokenizer_path or storage.join(run, TOKENIZER_DIR)).rstrip("/"),
    )
    if not storage.is_file(sources.entity_vocab_uri):
        raise LukeError(f"{sources.entity_vocab_uri}: entity vocabulary not found")
    if not storage.exists(sources.tokenizer_uri):
        raise LukeError(f"{sources.tokenizer_uri}: tokenizer folder not found")
    return sources


def find_checkpoint(value: str, run_dir: str | None = None) -> CheckpointInfo:
    """A complete checkpoint from a checkpoint folder, a run folder or a tag of `run_dir`."""
    value = value.rstrip("/")
    if is_tag(value) and not storage.exists(value):
        if not run_dir:
            raise LukeError(f"{value}: a checkpoint tag needs its run folder (--run-dir)")
        return _tagged(run_dir.rstrip("/"), value)
    if not storage.exists(value):
        raise LukeError(f"{value}: no such checkpoint")
    value = checkpoint_folder_of(value)
    info = read_marker(value)
    if info is not None:
        return info
    if _is_run_dir(value):
        latest = latest_complete(value)
        if latest is None:
            raise LukeError(f"{value}: a run folder without a complete checkpoint")
        logger.info("exporting the latest complete checkpoint of %s: %s", value, latest.tag)
        return latest
    if any(
        storage.is_file(storage.join(value, n)) for n in (MODEL_STATE_FILE, PARTITIONED_STATE_FILE)
    ):
        raise LukeError(
            f"{value}: not a complete checkpoint (no checkpoint.json: its save was interrupted, "
            "or `luke pretrain` did not write it)"
        )
    raise LukeError(f"{value}: neither a checkpoint folder nor a run folder of `luke pretrain`")


def _tagged(run_dir: str, tag: str) -> CheckpointInfo:
    info = read_marker(storage.join(run_dir, tag)) if storage.exists(run_dir) else None
    if info is None:
        complete = [t for t, marker in list_checkpoints(run_dir) if marker is not None]
        raise LukeError(
            f"{run_dir}: no complete checkpoint tagged {tag} "
            f"(complete ones: {', '.join(complete) or 'none'})"
        )
    return info


def _is_run_dir(uri: str) -> bool:
    return (
        storage.is_file(storage.join(uri, METADATA_FILE))
        or storage.is_file(storage.join(uri, LATEST_FILE))
        or bool(checkpoint_tags(uri))
    )


def _read_run_metadata(uri: str, info: CheckpointInfo) -> dict[str, Any]:
    if not storage.is_file(uri):
        raise LukeError(
            f"{info.uri}: its run's metadata is missing ({uri} not found); the export needs "
            "the metadata.json that `luke pretrain` writes beside the checkpoints "
            "(--metadata-path names another one)"
        )
    metadata = storage.read_json(uri)
    if not isinstance(metadata, dict) or metadata.get("kind") != RUN_KIND:
        raise LukeError(f"{uri}: not the metadata of a pretraining run (kind {RUN_KIND!r})")
    if "model_config" not in metadata:
        raise LukeError(f"{uri}: has no model_config")
    described = LukeModelConfig.from_json(metadata["model_config"], uri)
    saved = LukeModelConfig.from_json(info.model_config, info.uri)
    mismatch = describe_mismatch(saved, described)
    if mismatch:
        raise LukeError(f"{uri}: describes another model than {info.uri}: {mismatch}")
    return metadata


def load_model_state(info: CheckpointInfo, scratch_dir: str) -> dict[str, torch.Tensor]:
    """The module weights of a checkpoint, as fp32 CPU tensors. An s3:// checkpoint's model
    file is copied into `scratch_dir` first (it stays mapped there while the export runs)."""
    uri = storage.join(info.uri, MODEL_STATE_FILE)
    if not storage.is_file(uri):
        if storage.is_file(storage.join(info.uri, PARTITIONED_STATE_FILE)):
            raise LukeError(f"{info.uri}: a ZeRO stage 3 checkpoint (partitioned); {CONSOLIDATE}")
        raise LukeError(f"{info.uri}: no {MODEL_STATE_FILE} in this checkpoint folder")
    path = uri
    if storage.is_s3(uri):
        path = os.path.join(scratch_dir, storage.basename(uri))
        storage.copy_to_local(uri, path)
    try:
        # weights_only: a checkpoint from shared storage must not run code when loaded
        saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # any unpickling failure means a bad file
        raise LukeError(f"{uri}: cannot read the checkpoint ({exc})") from None
    module = saved.get("module") if isinstance(saved, dict) else None
    if not isinstance(module, dict) or not module:
        raise LukeError(f"{uri}: no model weights (no 'module' state dict)")
    zero = (saved.get("ds_config") or {}).get("zero_optimization", {})
    if isinstance(zero, dict) and zero.get("stage") == 3:
        raise LukeError(f"{uri}: a ZeRO stage 3 checkpoint (partitioned); {CONSOLIDATE}")
    return {name: _as_fp32(tensor) for name, tensor in module.items()}


def _as_fp32(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float() if tensor.is_floating_point() else tensor
