"""Step 4: `luke pretrain`, two-stage DeepSpeed pretraining of LUKE (see `trainer.py`).

The package stays light to import (the `luke` command imports its cli module at start-up):
`pretrain`, `PretrainOptions` and `PretrainSummary` load their modules on first use."""

_LAZY = {
    "pretrain": "luke_core.training.trainer",
    "PretrainSummary": "luke_core.training.trainer",
    "PretrainOptions": "luke_core.training.options",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
