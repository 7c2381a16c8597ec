"""The word side of LUKE: a transformers RoBERTa or XLM-R, pretrained or rebuilt from a config.

`load_base` takes the base model's embeddings, encoder, pooler and MLM head with their
pretrained weights from a hub name, a local folder or an `s3://` prefix (copied to the
local cache first). `build_base` makes the same modules with random weights from a saved
config: what a resumed run uses, since its checkpoint overwrites every weight anyway.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

from luke_core import storage
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

SUPPORTED_MODEL_TYPES = ("roberta", "xlm-roberta")


@dataclass
class BaseParts:
    """The modules LUKE takes over from the base model (names as in transformers)."""

    config: Any  # transformers.PretrainedConfig
    embeddings: nn.Module
    encoder: nn.Module
    pooler: nn.Module
    lm_head: nn.Module


def resolve_source(name: str) -> str:
    """A hub name or local folder as is; an `s3://` prefix copied into the local cache."""
    if not storage.is_s3(name):
        return name
    target = storage.cache_dir() / "base-models" / name[len(storage.S3_PREFIX) :].strip("/")
    if not (target / "config.json").exists():
        storage.download_dir(name, str(target))
    return str(target)


def load_base_config(name: str):
    """The base model's transformers config; a LukeError if it is missing or unsupported."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(resolve_source(name))
    except (OSError, ValueError) as exc:
        raise LukeError(f"{name}: cannot load the base model's config ({exc})") from None
    _check_supported(name, config.model_type)
    return config


def load_base(name: str) -> BaseParts:
    """Embeddings, encoder, MLM head and pooler with the base checkpoint's weights."""
    from transformers import AutoModel, AutoModelForMaskedLM

    source = resolve_source(name)
    load_base_config(name)  # a clear error for a missing or unsupported model first
    with _quiet_transformers():
        try:
            masked_lm = AutoModelForMaskedLM.from_pretrained(source)
            # MaskedLM classes drop the pooler; LUKE keeps it (untrained, as the reference
            # did) so that the Hugging Face export gets the base checkpoint's pooler.
            pooler = AutoModel.from_pretrained(source, add_pooling_layer=True).pooler
        except (OSError, ValueError) as exc:
            raise LukeError(f"{name}: cannot load the base model ({exc})") from None
    return _parts(masked_lm, pooler)


def build_base(base_config: dict[str, Any]) -> BaseParts:
    """The same modules with fresh weights, from a config saved by `load_base`'s run."""
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

    settings = {k: v for k, v in base_config.items() if k != "model_type"}
    _check_supported("the saved model config", base_config["model_type"])
    config = AutoConfig.for_model(base_config["model_type"], **settings)
    with _quiet_transformers():
        masked_lm = AutoModelForMaskedLM.from_config(config)
        pooler = AutoModel.from_config(config, add_pooling_layer=True).pooler
    return _parts(masked_lm, pooler)


def _parts(masked_lm, pooler) -> BaseParts:
    encoder_model = masked_lm.base_model
    if not hasattr(masked_lm, "lm_head"):
        raise LukeError(f"{type(masked_lm).__name__}: expected a RoBERTa-style `lm_head`")
    return BaseParts(
        config=masked_lm.config,  # the model's own: it knows the attention implementation
        embeddings=encoder_model.embeddings,
        encoder=encoder_model.encoder,
        pooler=pooler,
        lm_head=masked_lm.lm_head,
    )


def _check_supported(name: str, model_type: str) -> None:
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise LukeError(
            f"{name}: a {model_type!r} model; LUKE pretraining builds on "
            f"{' or '.join(SUPPORTED_MODEL_TYPES)} encoders"
        )


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers prints a loading report and progress bars in every process; the pooler
    is missing from MaskedLM checkpoints by design, so keep that noise out of the logs."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    previous = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
        if previous is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = previous
