"""DeepSpeed configs: the shipped ones (package data), loading, checking and completing.

Every mistake is found here, in every process, before any process group exists: a process
that fails after `init_distributed` leaves the others waiting for it until a timeout.

`resolve_config` makes the three batch sizes explicit for the world size (DeepSpeed itself
floor-divides silently), and fills `total_num_steps` of the scheduler when the config leaves
it to us ("auto" or absent) from the dataset size: ceil(items * epochs / train_batch_size).
"""

from __future__ import annotations

import copy
import importlib.resources
import json
from dataclasses import dataclass
from typing import Any

import torch

from luke_core import storage
from luke_core.dataset.describe import total_training_steps
from luke_core.errors import LukeError
from luke_core.training.config_checks import check_config

CONFIG_PACKAGE = "luke_core.training.configs"
AUTO = "auto"
_ADAM_TYPES = ("adam", "adamw")
# DeepSpeed's own optimizers and schedulers (deepspeed.runtime.config / lr_schedules); other
# names must be torch.optim (or torch.optim.lr_scheduler) classes, as DeepSpeed falls back
_DEEPSPEED_OPTIMIZERS = ("adagrad", "adam", "adamw", "lamb", "muadam", "muadamw", "musgd",
                         "lion", "muon", "onebitadam", "zerooneadam", "onebitlamb")  # fmt: skip
_DEEPSPEED_SCHEDULERS = ("LRRangeTest", "OneCycle", "WarmupLR", "WarmupDecayLR", "WarmupCosineLR")
_SCHEDULERS_WITH_TOTAL = ("WarmupDecayLR", "WarmupCosineLR")
_BATCH_KEYS = ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps")


def shipped_config_names() -> list[str]:
    files = importlib.resources.files(CONFIG_PACKAGE).iterdir()
    return sorted(f.name[: -len(".json")] for f in files if f.name.endswith(".json"))


@dataclass(frozen=True)
class LoadedConfig:
    config: dict[str, Any]
    source: str
    """The path, URI or `shipped:NAME` it came from (named in every error)."""


def load_config(name_or_path: str) -> LoadedConfig:
    """A config file (local or s3://) or the name of a shipped config."""
    if storage.is_s3(name_or_path) or storage.exists(name_or_path):
        return LoadedConfig(_parse(storage.read_text(name_or_path), name_or_path), name_or_path)
    name = name_or_path.removesuffix(".json")
    if name in shipped_config_names():
        resource = importlib.resources.files(CONFIG_PACKAGE) / f"{name}.json"
        return LoadedConfig(
            _parse(resource.read_text("utf-8"), f"shipped:{name}"), f"shipped:{name}"
        )
    raise LukeError(
        f"{name_or_path}: no such DeepSpeed config file, nor a shipped config "
        f"(shipped: {', '.join(shipped_config_names())})"
    )


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LukeError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise LukeError(f"{source}: a DeepSpeed config is a JSON object")
    return config


def train_batch_size(loaded: LoadedConfig, world_size: int) -> int:
    """The samples per optimizer step training will use with this many processes (a config
    may give only the per-process batch)."""
    return _batch_sizes(loaded.config, world_size, loaded.source)["train_batch_size"]


def resolve_config(loaded: LoadedConfig, *, world_size: int, number_of_items: int, num_epochs: int):
    """A copy of the config ready for `deepspeed.initialize`, or a LukeError naming the file.
    Keys starting with `_` are notes for humans and are dropped."""
    source = loaded.source
    config = {k: copy.deepcopy(v) for k, v in loaded.config.items() if not k.startswith("_")}
    config.update(_batch_sizes(config, world_size, source))
    _check_optimizer(config, source)
    _fill_schedule(config, number_of_items, num_epochs, source)
    leftover = _auto_paths(config)
    if leftover:
        raise LukeError(
            f"{source}: only the scheduler's total_num_steps may be 'auto' ({leftover})"
        )
    check_config(config, source)
    return config


def _batch_sizes(config: dict[str, Any], world_size: int, source: str) -> dict[str, int]:
    values = {key: config.get(key) for key in _BATCH_KEYS}
    for key, value in values.items():
        if value is not None and (not isinstance(value, int) or value < 1):
            raise LukeError(f"{source}: {key} must be a positive integer, not {value!r}")
    total, micro, accumulation = values.values()
    if micro is None and total is None:
        raise LukeError(f"{source}: needs train_batch_size or train_micro_batch_size_per_gpu")
    if micro is None:
        accumulation = accumulation or 1
        micro, rest = divmod(total, world_size * accumulation)
        if rest or micro == 0:
            raise LukeError(
                f"{source}: train_batch_size {total} is not a multiple of "
                f"{world_size} processes x {accumulation} accumulation steps"
            )
    if accumulation is None:
        accumulation = 1 if total is None else total // (micro * world_size)
    if total is None:
        total = micro * accumulation * world_size
    if total != micro * accumulation * world_size or accumulation < 1:
        raise LukeError(
            f"{source}: train_batch_size {total} != train_micro_batch_size_per_gpu {micro} x "
            f"gradient_accumulation_steps {accumulation} x {world_size} processes"
        )
    return dict(zip(_BATCH_KEYS, (total, micro, accumulation), strict=True))


def _check_optimizer(config: dict[str, Any], source: str) -> None:
    optimizer = config.get("optimizer")
    if not isinstance(optimizer, dict) or not optimizer.get("type"):
        raise LukeError(f"{source}: needs an 'optimizer' section with a 'type' (e.g. AdamW)")
    name = optimizer["type"]
    if name.lower() not in _DEEPSPEED_OPTIMIZERS and not hasattr(torch.optim, name):
        raise LukeError(f"{source}: unknown optimizer type {name!r} (e.g. AdamW, Adam, Lamb)")
    params = optimizer.get("params", {})
    if not isinstance(params, dict) or "lr" not in params:
        raise LukeError(f"{source}: the optimizer's params need an 'lr'")
    is_adam = optimizer["type"].lower() in _ADAM_TYPES
    if is_adam and params.get("torch_adam") and "bias_correction" in params:
        raise LukeError(
            f"{source}: torch_adam uses torch.optim.AdamW, which has no bias_correction; "
            "drop one of the two (DeepSpeed's fused Adam honours bias_correction)"
        )


def _fill_schedule(config: dict[str, Any], items: int, epochs: int, source: str) -> None:
    scheduler = config.get("scheduler")
    if scheduler is None:
        return
    if not isinstance(scheduler, dict) or "type" not in scheduler:
        raise LukeError(f"{source}: the 'scheduler' section needs a 'type'")
    name = scheduler["type"]
    if name not in _DEEPSPEED_SCHEDULERS and not hasattr(torch.optim.lr_scheduler, name):
        raise LukeError(f"{source}: unknown scheduler type {name!r} (e.g. WarmupDecayLR)")
    params = scheduler.setdefault("params", {})
    if name not in _SCHEDULERS_WITH_TOTAL:
        return
    if params.get("total_num_steps", AUTO) == AUTO:
        params["total_num_steps"] = total_training_steps(items, config["train_batch_size"], epochs)
    elif not isinstance(params["total_num_steps"], int) or params["total_num_steps"] < 1:
        raise LukeError(f"{source}: total_num_steps must be a positive integer or 'auto'")


def _auto_paths(value: Any, path: str = "") -> str:
    if value == AUTO:
        return path or "<root>"
    if isinstance(value, dict):
        found = [_auto_paths(v, f"{path}.{k}" if path else k) for k, v in value.items()]
        return ", ".join(f for f in found if f)
    return ""
