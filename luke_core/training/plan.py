"""`plan_run`: every decision and every check of a run, made before the process group exists.

Each process makes the same plan from the same files, so bad input (a config with a mistake,
a dataset of another tokenizer, a missing checkpoint, datasets that do not fit together)
stops every process at once with the same LukeError, instead of leaving the others waiting
in a collective until a timeout.

Where the run starts:
- the output dir holds a complete checkpoint: resume from its latest one, everything
  restored (a restarted pod or job continues where it stopped; options about the start
  such as --resume-checkpoint-id no longer apply);
- else --resume-checkpoint-id: that checkpoint, everything restored, or only its weights
  with --reset-optimization-states (stage 2 from stage 1: schedule and step from 0);
- else the base model's weights and fresh entity parts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from luke_core import storage
from luke_core.errors import LukeError
from luke_core.model.base import load_base_config
from luke_core.model.config import LukeModelConfig, describe_mismatch
from luke_core.presets import check_model_size
from luke_core.training.checkpoints import CheckpointInfo, latest_complete, resolve_checkpoint
from luke_core.training.data import (
    TrainingData,
    check_model_fits,
    check_tokenizer,
    open_training_data,
)
from luke_core.training.deepspeed_config import load_config, resolve_config
from luke_core.training.distributed import DistributedEnv
from luke_core.training.options import PretrainOptions
from luke_core.training.run_files import read_run_metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPlan:
    output_dir: str
    log_dir: str
    options: PretrainOptions
    data: TrainingData
    model_config: LukeModelConfig
    deepspeed_config: dict[str, Any]
    deepspeed_config_source: str
    world_size: int
    resume: CheckpointInfo | None
    """The checkpoint to load, if any."""
    resume_weights_only: bool
    """Load only the weights (stage 2's reset): step, schedule and data start anew."""
    continued_run: dict[str, Any] | None = None
    """metadata.json of the run in the output dir when this plan continues it (from its own
    latest checkpoint): what it was first trained on and started from."""

    @property
    def total_steps(self) -> int | None:
        params = self.deepspeed_config.get("scheduler", {}).get("params", {})
        return params.get("total_num_steps")


def plan_run(
    dataset_dir: str | Sequence[str], output_dir: str, options: PretrainOptions, env: DistributedEnv
) -> RunPlan:
    output_dir = output_dir.rstrip("/")
    if storage.is_file(output_dir):
        raise LukeError(f"{output_dir}: is a file, expected the run's output directory")
    data = open_training_data(dataset_dir)
    loaded = load_config(options.deepspeed_config_file)
    deepspeed_config = resolve_config(
        loaded,
        world_size=env.world_size,
        number_of_items=data.number_of_items,
        num_epochs=options.num_epochs,
    )
    resume, weights_only, own = _starting_point(output_dir, options)
    continued_run = read_run_metadata(output_dir) if own else None
    if continued_run is not None:
        _check_same_data(output_dir, continued_run, data)
    model_config = _model_config(options, data, resume)
    check_model_size(
        options.deepspeed_config_file, model_config.base_config, options.bert_model_name
    )
    _check_steps_per_epoch(data, deepspeed_config, options, env, loaded.source)
    check_model_fits(data, model_config.base_config, options.bert_model_name)
    check_tokenizer(data, options.bert_model_name, model_config.model_type)
    return RunPlan(
        output_dir=output_dir,
        log_dir=(options.log_dir or storage.join(output_dir, "tensorboard")).rstrip("/"),
        options=options,
        data=data,
        model_config=model_config,
        deepspeed_config=deepspeed_config,
        deepspeed_config_source=loaded.source,
        world_size=env.world_size,
        resume=resume,
        resume_weights_only=weights_only,
        continued_run=continued_run,
    )


def _check_same_data(output_dir: str, earlier: dict[str, Any], data: TrainingData) -> None:
    """A run continues only on the data it was trained on: resuming its checkpoints on
    rebuilt datasets would pair trained entity embeddings with other entity ids."""
    before = sorted(d.get("fingerprint", "") for d in earlier.get("datasets", []))
    now = sorted(d["fingerprint"] for d in data.describe())
    if all(before) and before and before != now:
        raise LukeError(
            f"{output_dir}: its checkpoints were trained on other datasets than "
            f"{', '.join(data.dirs)} (their content differs from the run's metadata.json); "
            "continue it on the same datasets, or train into another output directory "
            "(the pipeline: another work_dir)"
        )


def _check_steps_per_epoch(data, config, options, env, source) -> None:
    """An epoch must hold at least one optimizer step in every process (the loader's split
    of the data, computed from the metadata alone)."""
    from luke_core.dataset.loading.order import EpochLayout

    layout = EpochLayout(
        dataset_items=tuple(s.metadata.number_of_items for s in data.sources),
        world_size=env.world_size,
        workers_per_rank=max(1, options.num_workers),
        batch_size=config["train_micro_batch_size_per_gpu"],
        sampling_smoothing=float(options.sampling_smoothing),
    )
    if layout.batches_per_epoch < config["gradient_accumulation_steps"]:
        raise LukeError(
            f"{data.dirs[0]}: {data.number_of_items} items make {layout.batches_per_epoch} "
            f"micro-batches per process per epoch ({env.world_size} processes x "
            f"{max(1, options.num_workers)} loader workers x batch "
            f"{config['train_micro_batch_size_per_gpu']}), fewer than the "
            f"{config['gradient_accumulation_steps']} of one optimizer step of {source}"
        )


def _starting_point(
    output_dir: str, options: PretrainOptions
) -> tuple[CheckpointInfo | None, bool, bool]:
    """(checkpoint to load, weights only, whether it is this output dir's own)."""
    own = latest_complete(output_dir)
    if own is not None:
        if own.fix_bert_weights != options.fix_bert_weights:
            raise LukeError(
                f"{own.uri}: this output dir holds a run "
                f"{'with' if own.fix_bert_weights else 'without'} --fix-bert-weights; continue "
                "it with the same setting or use another --output-dir"
            )
        logger.info("resuming from this run's latest complete checkpoint %s", own.uri)
        return own, False, True
    if not options.resume_checkpoint_id:
        return None, False, False
    source = resolve_checkpoint(options.resume_checkpoint_id, output_dir)
    if (
        not options.reset_optimization_states
        and source.fix_bert_weights != options.fix_bert_weights
    ):
        raise LukeError(
            f"{source.uri}: a checkpoint {'with' if source.fix_bert_weights else 'without'} "
            "--fix-bert-weights has optimizer states for other parameters; pass "
            "--reset-optimization-states to start from its weights only"
        )
    return source, options.reset_optimization_states, False


def _model_config(
    options: PretrainOptions, data: TrainingData, resume: CheckpointInfo | None
) -> LukeModelConfig:
    """The model this run trains: from the checkpoint it resumes, else from the base model;
    either way one that fits the dataset's entity vocabulary and the options."""
    if resume is not None:
        config = LukeModelConfig.from_json(resume.model_config, resume.uri)
        expected = LukeModelConfig(
            bert_model_name=options.bert_model_name,
            base_config=config.base_config,
            entity_vocab_size=data.first.entity_vocab_size,
            entity_emb_size=options.entity_emb_size,
        )
        mismatch = describe_mismatch(expected, config)
        if mismatch:
            raise LukeError(f"{resume.uri}: the checkpoint's model does not fit: {mismatch}")
        _check_same_base(options.bert_model_name, config, resume.uri)
        return config
    return LukeModelConfig(
        bert_model_name=options.bert_model_name,
        base_config=load_base_config(options.bert_model_name).to_dict(),
        entity_vocab_size=data.first.entity_vocab_size,
        entity_emb_size=options.entity_emb_size,
    )


def _check_same_base(bert_model_name: str, config: LukeModelConfig, uri: str) -> None:
    """A resumed checkpoint brings its own base config; when --bert-model-name can be read,
    it must describe the same architecture."""
    try:
        named = load_base_config(bert_model_name).to_dict()
    except LukeError as exc:
        logger.warning("cannot compare the checkpoint with --bert-model-name: %s", exc)
        return
    named_config = LukeModelConfig(**{**config.to_json(), "base_config": named})
    mismatch = describe_mismatch(named_config, config)
    if mismatch:
        raise LukeError(
            f"{uri}: trained over another base model than {bert_model_name}: {mismatch}"
        )
