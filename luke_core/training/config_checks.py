"""Checks of a DeepSpeed config beyond the batch sizes, run in every process before the
process group exists (a config DeepSpeed refuses later fails every process after start-up,
with a traceback instead of a message): DeepSpeed's own schema, the parameter names of the
optimizer and the scheduler against their constructors, number types, and precision against
the device."""

from __future__ import annotations

import copy
import inspect
import numbers
from typing import Any

import torch

from luke_core.errors import LukeError

# what DeepSpeed itself takes out of an Adam optimizer's params before building it
_DEEPSPEED_ADAM_KEYS = frozenset({"torch_adam", "adam_w_mode", "bias_correction", "fused"})
_NUMBER_PARAMS = ("lr", "eps", "weight_decay", "warmup_min_lr", "warmup_max_lr", "cos_min_ratio")


def check_config(config: dict[str, Any], source: str) -> None:
    """Raise a LukeError naming `source` for what DeepSpeed would refuse at initialize."""
    _check_schema(config, source)
    optimizer = config["optimizer"]
    _check_params(optimizer.get("params", {}), _optimizer_class(optimizer["type"]), source,
                  "optimizer", extra=_adam_extras(optimizer["type"]))  # fmt: skip
    scheduler = config.get("scheduler")
    if scheduler is not None:
        _check_params(scheduler.get("params", {}), _scheduler_class(scheduler["type"]), source,
                      "scheduler")  # fmt: skip
    _check_precision(config, source)


def _check_schema(config: dict[str, Any], source: str) -> None:
    """DeepSpeed's config classes (ZeRO stages, unknown keys of its sections). They take the
    world size from a process group that does not exist yet, so they see the batch of one
    process; the batch sizes were checked for the real world size before."""
    from deepspeed.runtime.config import DeepSpeedConfig

    single = copy.deepcopy(config)
    single["train_batch_size"] = (
        single["train_micro_batch_size_per_gpu"] * single["gradient_accumulation_steps"]
    )
    try:
        DeepSpeedConfig(single)
    except Exception as exc:  # pydantic, assertion and value errors alike
        message = " ".join(str(exc).split())
        raise LukeError(f"{source}: DeepSpeed refuses this config: {message}") from None


def _optimizer_class(name: str):
    lowered = name.lower()
    if lowered in ("adam", "adamw"):
        return torch.optim.AdamW  # what DeepSpeed builds with torch_adam; FusedAdam takes the same
    return getattr(torch.optim, name, None)  # DeepSpeed's own others are not checked


def _adam_extras(name: str) -> frozenset[str]:
    return _DEEPSPEED_ADAM_KEYS if name.lower() in ("adam", "adamw") else frozenset()


def _scheduler_class(name: str):
    from deepspeed.runtime import lr_schedules

    return getattr(lr_schedules, name, None) or getattr(torch.optim.lr_scheduler, name, None)


def _check_params(params: Any, cls, source: str, what: str, extra=frozenset()) -> None:
    if not isinstance(params, dict):
        raise LukeError(f"{source}: the {what}'s params must be an object")
    for key in _NUMBER_PARAMS:
        value = params.get(key)
        if key in params and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise LukeError(f"{source}: the {what}'s {key} must be a number, not {value!r}")
    if cls is None:
        return
    signature = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in signature.values()):
        return
    accepted = (set(signature) - {"self", "optimizer", "params"}) | extra
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise LukeError(
            f"{source}: the {what} {cls.__name__} has no parameter {', '.join(unknown)} "
            f"(it takes {', '.join(sorted(accepted))})"
        )


def _check_precision(config: dict[str, Any], source: str) -> None:
    fp16 = config.get("fp16", {})
    if isinstance(fp16, dict) and fp16.get("enabled") is True and not torch.cuda.is_available():
        raise LukeError(
            f"{source}: fp16 needs a GPU and none is visible here; use bf16 or disable fp16"
        )
