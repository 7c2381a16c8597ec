"""`pretrain`: the entry function of `luke pretrain` (step 4), run in every process.

Reads: dataset directories (`luke build-pretraining-dataset` outputs), the base model, a
DeepSpeed config, optionally a checkpoint to start from. Writes into the output dir (local
or s3://): checkpoints, metadata.json, entity_vocab.jsonl, tokenizer/, metrics.jsonl and
TensorBoard events (layout in `run_files.py`).

One process per device (torchrun, the `deepspeed` launcher, or alone). Everything that can
be wrong with the input is found by `plan_run` in every process before the process group
starts; then the DeepSpeed engine trains over the loader's batches. Optimizer steps align
with the data: an epoch is the largest multiple of the gradient accumulation steps that the
loader's batches per epoch allow, so checkpoints always fall on step boundaries and a
resumed run continues the exact stream (the loader's state travels in the checkpoint).
Dropout is reseeded at every step from (seed, rank, step), which makes a resumed run
repeat the uninterrupted one exactly without storing generator states.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from luke_core.progress import log_summary, progress_bar
from luke_core.training.checkpoints import (
    CheckpointInfo,
    CheckpointStore,
    epoch_tag,
    staging_root,
    step_tag,
)
from luke_core.training.distributed import (
    DistributedEnv,
    destroy_process_group,
    init_process_group,
    prepare_accelerator,
)
from luke_core.training.metrics import MetricsLog
from luke_core.training.options import PretrainOptions
from luke_core.training.plan import RunPlan, plan_run
from luke_core.training.run_files import write_run_files
from luke_core.training.step_metrics import StepMeter

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PretrainSummary:
    """How the run ended (metrics as of the last logged step; set on the first process)."""

    output_dir: str
    world_size: int
    steps: int
    total_steps: int
    epochs: int
    samples: int
    resumed_from: str | None
    last_checkpoint: str | None
    loss: float | None = None
    masked_lm_accuracy: float | None = None
    masked_entity_accuracy: float | None = None
    seconds: float = 0.0
    samples_per_second: float = 0.0


def pretrain(
    dataset_dir: str | Sequence[str], output_dir: str, options: PretrainOptions
) -> PretrainSummary:
    """Train (or continue training) LUKE; every process of the job calls this."""
    env = DistributedEnv.from_environ()
    env.check_devices()
    if not env.is_main:  # one process speaks for all; the others only warn
        logging.getLogger("luke_core").setLevel(logging.WARNING)
    prepare_accelerator(env)
    if options.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    # DeepSpeed prints and logs to stdout, from its import on (the plan checks the config
    # with it); stdout is for the summary (the CLI's JSON)
    with contextlib.redirect_stdout(sys.stderr):
        plan = plan_run(dataset_dir, output_dir, options, env)
        init_process_group(env)
        try:
            summary = _Trainer(plan, env).run()
        finally:
            destroy_process_group()
    if env.is_main:
        log_summary("pretrain", summary)
    return summary


class _Trainer:
    def __init__(self, plan: RunPlan, env: DistributedEnv):
        self.plan = plan
        self.env = env
        self.options = plan.options
        self.store = CheckpointStore(plan.output_dir, env)
        self.step = 0
        self.epoch = 0  # epochs finished
        self.last_checkpoint: str | None = None
        self.log: MetricsLog | None = None

    def run(self) -> PretrainSummary:
        started = time.monotonic()
        if self.env.is_main:
            write_run_files(self.plan)
        engine = self._engine()
        loader = self._loader()
        self._restore(engine, loader)
        first_step = self.step
        accumulation = engine.gradient_accumulation_steps()
        steps_per_epoch = loader.num_batches_per_epoch // accumulation
        total_steps = steps_per_epoch * self.options.num_epochs
        meter = StepMeter(engine.device, samples_per_step=engine.train_batch_size())
        if self.env.is_main:
            self.log = MetricsLog(
                self.plan.output_dir,
                self.plan.log_dir,
                os.path.join(staging_root(self.plan.output_dir), "logs"),
                resume_step=self.step,
            )
        bar = progress_bar(
            total=total_steps,
            desc="pretrain",
            unit="step",
            disable=not (self.env.is_main and self.options.progress),
        )
        bar.update(self.step)
        try:
            while loader.epoch < self.options.num_epochs:
                self._train_epoch(engine, loader, meter, steps_per_epoch * accumulation, bar)
        finally:
            bar.close()
            if self.log is not None:
                self.log.close()
        return self._summary(engine, meter, first_step, total_steps, time.monotonic() - started)

    def _engine(self):
        import deepspeed

        from luke_core.model import LukeForPretraining
        from luke_core.training.parameters import parameter_groups, set_trainable

        torch.manual_seed(self.options.seed)  # same initial entity weights in every process
        config = self.plan.model_config
        fresh = self.plan.resume is None
        model = (
            LukeForPretraining.from_base(config)
            if fresh
            else LukeForPretraining.from_config(config)
        )
        trained = set_trainable(model, fix_bert_weights=self.options.fix_bert_weights)
        logger.info("training %d parameter tensors", len(trained))
        engine, _, _, _ = deepspeed.initialize(
            model=model,
            model_parameters=parameter_groups(model),
            config=self.plan.deepspeed_config,
        )
        if self.env.world_size == 1:
            # nothing to average with: skip DeepSpeed's flatten-copy-allreduce of every grad
            engine.enable_backward_allreduce = False
        engine.train()
        return engine

    def _loader(self):
        from luke_core.dataset.loading.loader import PretrainingLoader

        o = self.options
        return PretrainingLoader(
            list(self.plan.data.dirs),
            batch_size=self.plan.deepspeed_config["train_micro_batch_size_per_gpu"],
            rank=self.env.rank,
            world_size=self.env.world_size,
            num_workers=o.num_workers,
            seed=o.seed,
            sampling_smoothing=o.sampling_smoothing,
            masking=o.masking,
            pin_memory=self.env.uses_gpus,
        )

    def _restore(self, engine, loader) -> None:
        resume = self.plan.resume
        if resume is None:
            return
        weights_only = self.plan.resume_weights_only
        client_state = self.store.load(engine, resume, weights_only=weights_only)
        if weights_only:
            logger.info("weights of %s loaded; optimizer and schedule start anew", resume.uri)
            return
        progress = client_state["luke"]
        self.step, self.epoch = progress["step"], progress["epoch"]
        loader.load_state_dict(progress["data"])
        self.last_checkpoint = resume.uri
        logger.info("resumed %s at step %d (epoch %d)", resume.uri, self.step, loader.epoch)

    def _train_epoch(self, engine, loader, meter: StepMeter, micro_batches: int, bar) -> None:
        """The rest of the loader's current epoch, `micro_batches` long in all."""
        epoch = loader.epoch
        accumulation = engine.gradient_accumulation_steps()
        batches = iter(loader)
        lr = 0.0
        try:
            for _ in range(loader.position, micro_batches):
                batch = next(batches)  # first: may start workers, which draws from torch's RNG
                if (loader.position - 1) % accumulation == 0:
                    torch.manual_seed(_step_seed(self.options.seed, self.env.rank, self.step))
                    lr = float(engine.optimizer.param_groups[0]["lr"])  # what this step uses
                out = _micro_step(engine, batch)
                meter.add(out)
                if loader.position % accumulation == 0:
                    self.step += 1
                    meter.end_step(lr)
                    bar.update(1)
                    epoch_ends = loader.position == micro_batches
                    self._after_step(engine, loader, meter, epoch, epoch_ends=epoch_ends)
        finally:
            batches.close()  # stops the loader's workers; the rest of the epoch is skipped
        loader.set_epoch(epoch + 1)
        self.epoch = epoch + 1
        self._write_metrics(meter, epoch)
        self._save(engine, loader, epoch_tag(self.epoch))

    def _after_step(self, engine, loader, meter, epoch: int, *, epoch_ends: bool) -> None:
        if self.step % self.options.log_interval_steps == 0:
            self._write_metrics(meter, epoch)
        interval = self.options.save_interval_steps
        # at an epoch's last step the epoch's checkpoint follows: the same state, once
        if interval and self.step % interval == 0 and not epoch_ends:
            self._save(engine, loader, step_tag(self.step))

    def _write_metrics(self, meter: StepMeter, epoch: int) -> None:
        record = meter.collect()  # a collective: every process takes part
        if record is None or self.log is None:
            return
        samples = self.step * meter.samples_per_step
        self.log.log({"step": self.step, "epoch": epoch + 1, **record, "samples": samples})

    def _save(self, engine, loader, tag: str) -> None:
        info = CheckpointInfo(
            tag=tag,
            step=self.step,
            epoch=self.epoch,
            samples=self.step * engine.train_batch_size(),
            model_config=self.plan.model_config.to_json(),
            fix_bert_weights=self.options.fix_bert_weights,
            world_size=self.env.world_size,
            saved_at="",
        )
        progress = {"step": self.step, "epoch": self.epoch, "data": loader.state_dict()}
        saved = self.store.save(engine, info, {"luke": progress})
        self.last_checkpoint = saved.uri
        if self.log is not None:
            self.log.sync()

    def _summary(self, engine, meter: StepMeter, first_step: int, total: int, seconds: float):
        samples = (self.step - first_step) * engine.train_batch_size()
        last = meter.last_record or {}
        return PretrainSummary(
            output_dir=self.plan.output_dir,
            world_size=self.env.world_size,
            steps=self.step,
            total_steps=total,
            epochs=self.epoch,
            samples=self.step * engine.train_batch_size(),
            resumed_from=self.plan.resume.uri if self.plan.resume else None,
            last_checkpoint=self.last_checkpoint,
            loss=last.get("loss"),
            masked_lm_accuracy=last.get("masked_lm_accuracy"),
            masked_entity_accuracy=last.get("masked_entity_accuracy"),
            seconds=seconds,
            samples_per_second=samples / seconds if seconds > 0 else 0.0,
        )


def _micro_step(engine, batch: dict[str, torch.Tensor]):
    from luke_core.model import MODEL_INPUTS

    inputs = {key: batch[key].to(engine.device, non_blocking=True) for key in MODEL_INPUTS}
    out = engine(**inputs)
    engine.backward(out.loss)
    engine.step()
    return out


def _step_seed(seed: int, rank: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])
