"""`PretrainOptions`: the options of `luke pretrain`, named and defaulted as the reference's,
with a preset (`luke_core.presets`) filling what is not given."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from luke_core.errors import LukeError
from luke_core.presets import base_model, get_preset, stage_config

ENTITY_EMB_SIZE = 256
"""The reference's default, without a preset."""


@dataclass(frozen=True, kw_only=True)
class PretrainOptions:
    """Options of `luke pretrain` (stage 1: `fix_bert_weights`; stage 2: `resume_checkpoint_id`
    of a stage 1 checkpoint with `reset_optimization_states`).

    With a `preset`, what is left as None comes from it (the DeepSpeed config of stage 1
    when `fix_bert_weights`, else of stage 2); without one, `deepspeed_config_file` and
    `bert_model_name` must be given. After construction none of them is None."""

    preset: str | None = None
    """`luke-base`, `luke-large`, `mluke-base`, `mluke-large` or `tiny`."""
    deepspeed_config_file: str | None = None
    """A DeepSpeed JSON config: a path, an s3:// URI, or a shipped name (`luke-base-stage1`)."""
    bert_model_name: str | None = None
    """The base model: a hub name, a local folder or an s3:// prefix."""
    entity_emb_size: int | None = None
    """The entity table's width (the preset's, else 256)."""
    fix_bert_weights: bool = False
    """Stage 1: train only `luke.entity_embeddings.*` and `entity_predictions.*`."""
    reset_optimization_states: bool = False
    """With `resume_checkpoint_id`: load the weights only; optimizer and schedule start anew."""
    resume_checkpoint_id: str | None = None
    """A checkpoint tag in the output dir, a checkpoint folder, a run folder (its latest
    checkpoint), local or s3://. A complete checkpoint of the output dir itself wins."""
    num_epochs: int = 20
    masked_lm_prob: float = 0.15
    masked_entity_prob: float = 0.15
    random_word_prob: float = 0.1
    unmasked_word_prob: float = 0.1
    random_entity_prob: float = 0.0
    unmasked_entity_prob: float = 0.0
    whole_word_masking: bool | None = None
    """Mask whole words (RoBERTa); False masks single subwords (mLUKE, XLM-R). The preset's,
    else whole words."""
    mask_words_in_entity_span: bool = False
    save_interval_steps: int | None = 1000
    """Checkpoint every N optimizer steps (None: only at the end of each epoch). A restarted
    job loses at most this many steps."""
    sampling_smoothing: float = 0.7
    """Several datasets: draw each example's dataset with probability ~ size ** smoothing."""
    log_dir: str | None = None
    """TensorBoard event files (local or s3://); default OUTPUT_DIR/tensorboard."""
    log_interval_steps: int = 10
    """Steps between metrics lines (metrics.jsonl, TensorBoard); values are interval means."""
    seed: int = 42
    num_workers: int = 2
    """Data loader worker processes per training process."""
    deterministic: bool = False
    """torch.use_deterministic_algorithms: bit-identical reruns and resumes, slower on GPUs."""
    progress: bool = True

    def __post_init__(self) -> None:
        self._apply_preset()
        for name in ("masked_lm_prob", "masked_entity_prob", "sampling_smoothing"):
            _check_probability(name, getattr(self, name))
        for kind in ("word", "entity"):
            random_p = getattr(self, f"random_{kind}_prob")
            unmasked_p = getattr(self, f"unmasked_{kind}_prob")
            _check_probability(f"random_{kind}_prob", random_p)
            _check_probability(f"unmasked_{kind}_prob", unmasked_p)
            if random_p + unmasked_p > 1:
                raise LukeError(
                    f"--random-{kind}-prob {random_p} + --unmasked-{kind}-prob {unmasked_p} "
                    "exceed 1"
                )
        _check_at_least("num_epochs", self.num_epochs, 1)
        _check_at_least("entity_emb_size", self.entity_emb_size, 1)
        _check_at_least("log_interval_steps", self.log_interval_steps, 1)
        _check_at_least("num_workers", self.num_workers, 0)
        if self.save_interval_steps is not None:
            _check_at_least("save_interval_steps", self.save_interval_steps, 1)
        if self.reset_optimization_states and not self.resume_checkpoint_id:
            raise LukeError("--reset-optimization-states needs --resume-checkpoint-id")

    def _apply_preset(self) -> None:
        preset = get_preset(self.preset) if self.preset else None
        stage = 1 if self.fix_bert_weights else 2
        filled = {
            "deepspeed_config_file": stage_config(self.preset, self.deepspeed_config_file, stage),
            "bert_model_name": base_model(self.preset, self.bert_model_name),
            "entity_emb_size": preset.entity_emb_size if preset else ENTITY_EMB_SIZE,
            "whole_word_masking": preset.whole_word_masking if preset else True,
        }
        for name, value in filled.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def masking(self):
        """The loader's `MaskingOptions`: the fields of the same names."""
        from luke_core.dataset.loading.masking import MaskingOptions

        names = [f.name for f in dataclasses.fields(MaskingOptions)]
        return MaskingOptions(**{name: getattr(self, name) for name in names})


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise LukeError(f"--{name.replace('_', '-')} must lie in [0, 1], not {value}")


def _check_at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise LukeError(f"--{name.replace('_', '-')} must be at least {minimum}, not {value}")
