"""A `luke pretrain` output folder written directly, without training: tests and benchmarks of
the export get a checkpoint of any size and any weights in seconds.

The layout is what `luke pretrain` writes (`luke_core/training/run_files.py`): metadata.json
(kind "pretraining_run"), entity_vocab.jsonl, tokenizer/, metrics.jsonl, and a checkpoint
folder per tag holding DeepSpeed's `mp_rank_00_model_states.pt` (the module's state dict
under "module", beside what DeepSpeed stores with it) and the completion marker
`checkpoint.json`, then `latest`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

import torch

import luke_core
from luke_core.base_model import random_base_config
from luke_core.entity_vocab.vocab import EntityEntry, EntityVocab, special_entries
from luke_core.model import LukeForPretraining, LukeModelConfig
from luke_core.training.checkpoints import CheckpointInfo

DEEPSPEED_CONFIG = {
    "train_batch_size": 8,
    "train_micro_batch_size_per_gpu": 2,
    "optimizer": {"type": "AdamW", "params": {"lr": 0.001}},
    "zero_optimization": {"stage": 0},
}


def tiny_model_config(
    *,
    model_type: str = "roberta",
    vocab_size: int = 320,
    entity_vocab_size: int = 50,
    hidden_size: int = 32,
    entity_emb_size: int = 16,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    max_seq_length: int = 64,
    bert_model_name: str = "tiny-roberta",
) -> LukeModelConfig:
    """A LUKE model config over a tiny RoBERTa or XLM-R (`model_type` "xlm-roberta")."""
    base = random_base_config(
        model_type=model_type,
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=2 * hidden_size,
        max_seq_length=max_seq_length,
        layer_norm_eps=1e-5,
    )
    return LukeModelConfig(
        bert_model_name=bert_model_name,
        base_config=base.to_dict(),
        entity_vocab_size=entity_vocab_size,
        entity_emb_size=entity_emb_size,
    )


def random_model(config: LukeModelConfig, *, seed: int = 0, std: float = 0.2) -> LukeForPretraining:
    """The model with every parameter random and far from its initialisation (LayerNorm
    weights around 1, biases and padding rows non-zero), so that a conversion mistake in
    any tensor shows in the outputs. Tied parameters stay tied. Returned in eval mode."""
    torch.manual_seed(seed)
    model = LukeForPretraining.from_config(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            is_norm = "LayerNorm" in name or "layer_norm" in name
            parameter.normal_(0.0, 0.2 if is_norm else std)
            if is_norm and name.endswith("weight"):
                parameter.add_(1.0)
    return model.eval()


def entity_vocab_of(
    size: int, language: str | None = "en", *, prefix: str = "Entity"
) -> EntityVocab:
    """Specials, then `{prefix} 3` ... up to `size` entries, all in `language`."""
    entries = special_entries([language]) + [
        EntityEntry(i, ((f"{prefix} {i}", language),), size - i) for i in range(3, size)
    ]
    return EntityVocab(entries)


def write_pretraining_run(
    run_dir: str,
    model: LukeForPretraining,
    *,
    entity_vocab: EntityVocab,
    tokenizer_dir: str,
    tag: str = "epoch1",
    step: int = 10,
    epoch: int = 1,
    metrics: Sequence[dict[str, Any]] = (),
    datasets: Sequence[dict[str, Any]] = (),
    tokenizer_class: str = "RobertaTokenizer",
    language: str | None = "en",
    max_seq_length: int = 64,
    max_entity_length: int = 128,
    fix_bert_weights: bool = False,
) -> str:
    """Write the run folder (local) with one checkpoint of `model`; returns its folder."""
    os.makedirs(run_dir, exist_ok=True)
    config = model.config
    entity_vocab.save(os.path.join(run_dir, "entity_vocab.jsonl"))
    shutil.copytree(tokenizer_dir, os.path.join(run_dir, "tokenizer"), dirs_exist_ok=True)
    metadata = {
        "kind": "pretraining_run",
        "format_version": 1,
        "luke_version": luke_core.__version__,
        "started_at": "2026-01-01T00:00:00Z",
        "model_config": config.to_json(),
        "max_seq_length": max_seq_length,
        "max_entity_length": max_entity_length,
        "max_mention_length": 30,
        "tokenizer_class": tokenizer_class,
        "tokenizer_name": tokenizer_dir,
        "language": language,
        "datasets": list(datasets),
        "number_of_items": sum(d.get("number_of_items", 0) for d in datasets),
        "options": {
            "fix_bert_weights": fix_bert_weights,
            "masked_lm_prob": 0.15,
            "masked_entity_prob": 0.15,
            "whole_word_masking": True,
        },
        "world_size": 1,
        "total_num_steps": step,
        "deepspeed_config": DEEPSPEED_CONFIG,
        "resumed_from": None,
    }
    _write_json(os.path.join(run_dir, "metadata.json"), metadata)
    with open(os.path.join(run_dir, "metrics.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record in metrics)
    return write_checkpoint(
        run_dir, model, tag=tag, step=step, epoch=epoch, fix_bert_weights=fix_bert_weights
    )


def write_checkpoint(
    run_dir: str,
    model: LukeForPretraining,
    *,
    tag: str,
    step: int,
    epoch: int,
    fix_bert_weights: bool = False,
    marker: bool = True,
) -> str:
    """One checkpoint folder as DeepSpeed and `luke pretrain` leave it."""
    folder = os.path.join(run_dir, tag)
    os.makedirs(folder, exist_ok=True)
    states = {
        "module": model.state_dict(),
        "optimizer": {"state": {}, "param_groups": []},
        "global_steps": step,
        "ds_config": DEEPSPEED_CONFIG,
        "ds_version": "0.19.8",
        "luke": {"step": step, "epoch": epoch},
    }
    torch.save(states, os.path.join(folder, "mp_rank_00_model_states.pt"))
    if marker:
        info = CheckpointInfo(
            tag=tag,
            step=step,
            epoch=epoch,
            samples=step * 8,
            model_config=model.config.to_json(),
            fix_bert_weights=fix_bert_weights,
            world_size=1,
            saved_at="2026-01-01T01:00:00Z",
        )
        _write_json(os.path.join(folder, "checkpoint.json"), info.to_json())
        with open(os.path.join(run_dir, "latest"), "w") as f:
            f.write(tag)
    return folder


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
