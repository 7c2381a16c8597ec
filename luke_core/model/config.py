"""`LukeModelConfig`: everything needed to rebuild the LUKE model without its weights.

It is saved in the run's `metadata.json` and in every checkpoint's completion marker, so a
checkpoint can be reloaded (resume, stage 2, export) without the base model at hand, and a
checkpoint that does not fit the model being trained is refused with a clear message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from luke_core.errors import LukeError

# Fields of the base config that decide the shapes of the weights: two configs that agree on
# them load each other's checkpoints.
_SHAPE_FIELDS = (
    "model_type",
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
)


@dataclass(frozen=True, kw_only=True)
class LukeModelConfig:
    """The LUKE model: a transformers RoBERTa / XLM-R base plus the entity parts."""

    bert_model_name: str
    """Where the base weights came from (hub name, local folder or s3:// URI)."""
    base_config: dict[str, Any] = field(repr=False)
    """The base model's transformers config (`PretrainedConfig.to_dict()`)."""
    entity_vocab_size: int
    """Rows of the entity table (the dataset's entity vocabulary, specials included)."""
    entity_emb_size: int = 256
    """Width of the entity table; a dense layer maps it to the hidden size."""

    def __post_init__(self) -> None:
        missing = [name for name in _SHAPE_FIELDS if name not in self.base_config]
        if missing:
            raise LukeError(f"{self.bert_model_name}: base config lacks {', '.join(missing)}")
        if self.entity_vocab_size < 3:
            raise LukeError(f"entity vocabulary of {self.entity_vocab_size} entries: need >= 3")
        if self.entity_emb_size < 1:
            raise LukeError(f"--entity-emb-size must be positive, not {self.entity_emb_size}")

    @property
    def model_type(self) -> str:
        return self.base_config["model_type"]

    @property
    def hidden_size(self) -> int:
        return self.base_config["hidden_size"]

    @property
    def vocab_size(self) -> int:
        return self.base_config["vocab_size"]

    @property
    def max_position_embeddings(self) -> int:
        return self.base_config["max_position_embeddings"]

    @property
    def type_vocab_size(self) -> int:
        return self.base_config["type_vocab_size"]

    @property
    def layer_norm_eps(self) -> float:
        return self.base_config.get("layer_norm_eps", 1e-5)

    @property
    def hidden_dropout_prob(self) -> float:
        return self.base_config.get("hidden_dropout_prob", 0.1)

    @property
    def hidden_act(self) -> str:
        return self.base_config.get("hidden_act", "gelu")

    @property
    def initializer_range(self) -> float:
        return self.base_config.get("initializer_range", 0.02)

    def shape_signature(self) -> dict[str, Any]:
        """What must agree for a checkpoint of one config to load into the other."""
        return {
            **{name: self.base_config[name] for name in _SHAPE_FIELDS},
            "entity_vocab_size": self.entity_vocab_size,
            "entity_emb_size": self.entity_emb_size,
        }

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any], source: str) -> LukeModelConfig:
        try:
            return cls(**obj)
        except TypeError as exc:
            raise LukeError(f"{source}: not a LUKE model config ({exc})") from None


def describe_mismatch(expected: LukeModelConfig, found: LukeModelConfig) -> str:
    """'' when the two configs have the same weight shapes, else what differs."""
    ours, theirs = expected.shape_signature(), found.shape_signature()
    return ", ".join(
        f"{name} {theirs[name]} (this run: {ours[name]})"
        for name in ours
        if ours[name] != theirs[name]
    )
