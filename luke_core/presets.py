"""Presets: what belongs together in a published recipe (base model, the DeepSpeed configs of
both stages, tokenizer class, entity embedding size, masking), as Python data.

`luke pretrain --preset luke-base` and the pipelines' `preset` parameter take their defaults
from here; an option given explicitly still wins. `tiny` is the laptop-sized model of the
demo, the tests and the benchmarks: its base model is made locally (no model hub is needed)
by `luke_core.base_model` from `TINY_BASE`, the one definition of its sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from luke_core.errors import LukeError


@dataclass(frozen=True)
class ModelSize:
    """The shape of a base model that a DeepSpeed config's learning rates and batch sizes
    were chosen for."""

    hidden_size: int
    num_hidden_layers: int

    def describe(self) -> str:
        return f"hidden size {self.hidden_size}, {self.num_hidden_layers} layers"


@dataclass(frozen=True)
class TinyBase:
    """The sizes of the tiny preset's base model (a RoBERTa made with random weights)."""

    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 256
    max_seq_length: int = 128


TINY_BASE = TinyBase()


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    bert_model_name: str | None
    """The base model (a Hugging Face hub name); None: made locally (`tiny`)."""
    stage1_config: str
    stage2_config: str
    """Shipped DeepSpeed config names (`luke_core/training/configs/`)."""
    tokenizer_class: str
    """The exported tokenizer: `LukeTokenizer` (RoBERTa) or `MLukeTokenizer` (XLM-R)."""
    model_size: ModelSize | None
    """What the configs are for (None: any small model)."""
    entity_emb_size: int = 256
    whole_word_masking: bool = True
    """LUKE masks whole words; mLUKE masks single subwords (SentencePiece pieces)."""

    def stage_config(self, stage: int) -> str:
        return {1: self.stage1_config, 2: self.stage2_config}[stage]


BASE, LARGE = ModelSize(768, 12), ModelSize(1024, 24)
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("luke-base", "LUKE over roberta-base, as published", "roberta-base",
               "luke-base-stage1", "luke-base-stage2", "LukeTokenizer", BASE),
        Preset("luke-large", "LUKE over roberta-large, as published", "roberta-large",
               "luke-large-stage1", "luke-large-stage2", "LukeTokenizer", LARGE),
        Preset("mluke-base", "mLUKE over xlm-roberta-base, as published", "xlm-roberta-base",
               "mluke-base-stage1", "mluke-base-stage2", "MLukeTokenizer", BASE,
               whole_word_masking=False),
        Preset("mluke-large", "mLUKE over xlm-roberta-large, as published", "xlm-roberta-large",
               "mluke-large-stage1", "mluke-large-stage2", "MLukeTokenizer", LARGE,
               whole_word_masking=False),
        Preset("tiny", "a laptop-sized LUKE on CPU (base model made locally)", None,
               "tiny-cpu", "tiny-cpu", "LukeTokenizer", None, entity_emb_size=64),
    )
}  # fmt: skip


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise LukeError(f"no preset {name!r}; the presets are {', '.join(PRESETS)}")
    return PRESETS[name]


def base_model(preset: str | None, bert_model_name: str | None) -> str:
    """The base model of a run: the one named, else the preset's."""
    if bert_model_name:
        return bert_model_name
    if preset and get_preset(preset).bert_model_name:
        return get_preset(preset).bert_model_name
    if preset:
        raise LukeError(
            f"give --bert-model-name: the {preset} preset's base model is made locally "
            "(the demo makes one; see luke_core/base_model.py)"
        )
    raise LukeError("give --bert-model-name or a --preset")


def stage_config(preset: str | None, config: str | None, stage: int) -> str:
    """The DeepSpeed config of a training stage: the one named, else the preset's."""
    if config:
        return config
    if preset:
        return get_preset(preset).stage_config(stage)
    raise LukeError("give --deepspeed-config-file or a --preset")


def preset_of_config(config_name: str) -> Preset | None:
    """The preset that ships the DeepSpeed config of this name (a path: None)."""
    name = config_name.removesuffix(".json")
    for preset in PRESETS.values():
        if name in (preset.stage1_config, preset.stage2_config):
            return preset
    return None


def check_model_size(config_name: str, base_config: dict, bert_model_name: str) -> None:
    """Refuse a shipped config made for another model size than the base model's: the
    learning rate and batch of luke-large on roberta-base (or the reverse) is no recipe."""
    preset = preset_of_config(config_name)
    if preset is None or preset.model_size is None:
        return
    size = ModelSize(base_config.get("hidden_size", 0), base_config.get("num_hidden_layers", 0))
    if size != preset.model_size:
        matching = [
            p.name for p in PRESETS.values() if p.model_size == size and p.name != preset.name
        ]
        advice = f"; use the configs of {' or '.join(matching)}" if matching else ""
        raise LukeError(
            f"--deepspeed-config-file {config_name} is for a model of "
            f"{preset.model_size.describe()} ({preset.name}), but the base model "
            f"{bert_model_name} has {size.describe()}{advice}"
        )
