"""What a pretraining run's output dir holds besides checkpoints, and `luke inspect` of it.

OUTPUT_DIR/
  metadata.json        kind "pretraining_run": model config, lengths, datasets, options,
                       the resolved DeepSpeed config (rewritten by every start of the run)
  entity_vocab.jsonl   the datasets' entity vocabulary (ids of the entity table)
  tokenizer/           the datasets' tokenizer files
  metrics.jsonl        one line per logged step (see metrics.py)
  latest               tag of the latest complete checkpoint
  epoch{N}/ step{NNNNNNN}/   DeepSpeed checkpoints, complete when checkpoint.json is there
  tensorboard/         TensorBoard events (unless --log-dir points elsewhere)
"""

from __future__ import annotations

import time
from typing import Any

import luke_core
from luke_core import storage
from luke_core.dataset.format import ENTITY_VOCAB_FILE, TOKENIZER_DIR
from luke_core.errors import LukeError
from luke_core.training.checkpoints import LATEST_FILE, list_checkpoints
from luke_core.training.metrics import read_metrics

RUN_KIND = "pretraining_run"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1


def run_metadata(plan) -> dict[str, Any]:
    """metadata.json of a run (`plan`: training.plan.RunPlan)."""
    meta = plan.data.first
    return {
        "kind": RUN_KIND,
        "format_version": FORMAT_VERSION,
        "luke_version": luke_core.__version__,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model_config": plan.model_config.to_json(),
        "max_seq_length": meta.max_seq_length,
        "max_entity_length": meta.max_entity_length,
        "max_mention_length": meta.max_mention_length,
        "tokenizer_class": meta.tokenizer_class,
        "tokenizer_name": meta.tokenizer_name,
        "language": meta.language if len(plan.data.dirs) == 1 else None,
        "datasets": plan.data.describe(),
        "number_of_items": plan.data.number_of_items,
        "options": plan.options.to_json(),
        "world_size": plan.world_size,
        "total_num_steps": plan.total_steps,
        "deepspeed_config_source": plan.deepspeed_config_source,
        "deepspeed_config": plan.deepspeed_config,
        "resumed_from": plan.resume.uri if plan.resume else None,
    }


def write_run_files(plan) -> None:
    """metadata.json, the entity vocabulary and the tokenizer, beside the checkpoints."""
    out = plan.output_dir
    vocab = storage.join(out, ENTITY_VOCAB_FILE)
    with storage.output_file(vocab) as tmp:
        storage.copy_to_local(plan.data.entity_vocab_uri, tmp)
    tokenizer_files = storage.list_files(plan.data.tokenizer_uri)
    root = plan.data.tokenizer_uri.rstrip("/")
    for uri in tokenizer_files:
        relative = uri[len(root) + 1 :].replace("\\", "/")
        with storage.output_file(storage.join(out, TOKENIZER_DIR, relative)) as tmp:
            storage.copy_to_local(uri, tmp)
    storage.write_json(
        storage.join(out, METADATA_FILE), _keep_origin(run_metadata(plan), plan.continued_run)
    )


def read_run_metadata(output_dir: str) -> dict[str, Any] | None:
    """The metadata.json of the run in `output_dir`, None when there is none."""
    uri = storage.join(output_dir, METADATA_FILE)
    if not storage.is_file(uri):
        return None
    metadata = storage.read_json(uri)
    return metadata if isinstance(metadata, dict) and metadata.get("kind") == RUN_KIND else None


def _keep_origin(metadata: dict[str, Any], earlier: dict[str, Any] | None) -> dict[str, Any]:
    """A run restarted from its own checkpoint still started where it first did (the base
    model, or stage 1's checkpoint for stage 2): keep that, and when it first started."""
    if earlier is None:
        return metadata
    restarted_at = metadata["started_at"]
    return {
        **metadata,
        "started_at": earlier.get("started_at", restarted_at),
        "restarted_at": restarted_at,
        "resumed_from": earlier.get("resumed_from"),
    }


def describe_pretraining_run(uri: str, options) -> dict[str, Any]:
    """`luke inspect OUTPUT_DIR`: the checkpoints (tag, step, epoch, complete or not), the
    latest complete one, the last logged metrics and a summary of the metadata."""
    metadata = storage.read_json(storage.join(uri, METADATA_FILE))
    if metadata.get("kind") != RUN_KIND:
        raise LukeError(f"{uri}: not a pretraining run")
    checkpoints = []
    for tag, info in list_checkpoints(uri):
        entry = {"tag": tag, "complete": info is not None}
        if info is not None:
            entry.update(step=info.step, epoch=info.epoch, saved_at=info.saved_at)
        checkpoints.append(entry)
    latest_uri = storage.join(uri, LATEST_FILE)
    metrics = read_metrics(uri)
    model = metadata["model_config"]
    return {
        "model": {
            "bert_model_name": model["bert_model_name"],
            "model_type": model["base_config"].get("model_type"),
            "hidden_size": model["base_config"].get("hidden_size"),
            "num_hidden_layers": model["base_config"].get("num_hidden_layers"),
            "entity_vocab_size": model["entity_vocab_size"],
            "entity_emb_size": model["entity_emb_size"],
        },
        "fix_bert_weights": metadata["options"].get("fix_bert_weights"),
        "started_from": metadata.get("resumed_from"),
        "datasets": metadata.get("datasets"),
        "world_size": metadata.get("world_size"),
        "total_num_steps": metadata.get("total_num_steps"),
        "checkpoints": checkpoints,
        "latest": storage.read_text(latest_uri).strip() if storage.is_file(latest_uri) else None,
        "logged_steps": len(metrics),
        "last_metrics": metrics[-1] if metrics else None,
    }
