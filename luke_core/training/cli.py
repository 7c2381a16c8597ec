"""`luke pretrain`."""

import dataclasses

import click

from luke_core.presets import PRESETS
from luke_core.progress import summary_dict
from luke_core.training.options import ENTITY_EMB_SIZE, PretrainOptions

# the options' defaults are PretrainOptions' (options.py imports nothing heavy)
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(PretrainOptions)}


@click.command("pretrain")
@click.option(
    "--dataset-dir",
    "dataset_dirs",
    multiple=True,
    required=True,
    help="Dataset directory or glob of them, local or s3:// (repeatable; mLUKE: one per language).",
)
@click.option("--output-dir", required=True, help="Checkpoints and logs (local or s3://).")
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    help="A published recipe: base model, DeepSpeed configs of both stages (stage 1 with "
    "--fix-bert-weights, else stage 2), entity embedding size, masking. Options given "
    "explicitly win.",
)
@click.option(
    "--deepspeed-config-file",
    help="DeepSpeed JSON config: a path, an s3:// URI or a shipped name: luke-base-stage1, "
    "luke-base-stage2, luke-large-stage{1,2}, mluke-base-stage{1,2}, mluke-large-stage{1,2}, "
    "tiny-cpu [the preset's].",
)
@click.option(
    "--bert-model-name",
    help="Base model: hub name, local folder or s3:// prefix [the preset's].",
)
@click.option(
    "--entity-emb-size",
    type=int,
    help=f"Width of the entity table [the preset's, else {ENTITY_EMB_SIZE}].",
)
@click.option(
    "--fix-bert-weights",
    is_flag=True,
    help="Stage 1: train only the entity embeddings and the entity prediction head.",
)
@click.option(
    "--reset-optimization-states",
    is_flag=True,
    help="With --resume-checkpoint-id: take its weights only; optimizer and schedule restart.",
)
@click.option(
    "--resume-checkpoint-id",
    help="Start from a checkpoint: a tag of --output-dir, a checkpoint folder or a run "
    "folder (its latest), local or s3://. A complete checkpoint in --output-dir wins.",
)
@click.option("--num-epochs", type=int, default=_DEFAULTS["num_epochs"], show_default=True)
@click.option(
    "--masked-lm-prob", type=float, default=_DEFAULTS["masked_lm_prob"], show_default=True
)
@click.option(
    "--masked-entity-prob", type=float, default=_DEFAULTS["masked_entity_prob"], show_default=True
)
@click.option(
    "--random-word-prob", type=float, default=_DEFAULTS["random_word_prob"], show_default=True
)
@click.option(
    "--unmasked-word-prob", type=float, default=_DEFAULTS["unmasked_word_prob"], show_default=True
)
@click.option(
    "--random-entity-prob", type=float, default=_DEFAULTS["random_entity_prob"], show_default=True
)
@click.option(
    "--unmasked-entity-prob",
    type=float,
    default=_DEFAULTS["unmasked_entity_prob"],
    show_default=True,
)
@click.option(
    "--whole-word-masking/--subword-masking",
    default=None,
    help="[the preset's (subwords for mLUKE), else whole words]",
)
@click.option(
    "--mask-words-in-entity-span",
    is_flag=True,
    help="Mask the words of each masked entity's mention too.",
)
@click.option(
    "--save-interval-steps",
    type=int,
    default=_DEFAULTS["save_interval_steps"],
    show_default=True,
    help="Checkpoint every N optimizer steps (0: only at the end of each epoch).",
)
@click.option(
    "--sampling-smoothing",
    type=float,
    default=_DEFAULTS["sampling_smoothing"],
    show_default=True,
    help="Several datasets: draw each by size ** smoothing.",
)
@click.option(
    "--log-dir", help="TensorBoard event files (local or s3://) [OUTPUT_DIR/tensorboard]."
)
@click.option(
    "--log-interval-steps",
    type=int,
    default=_DEFAULTS["log_interval_steps"],
    show_default=True,
    help="Steps per metrics line (metrics.jsonl, TensorBoard).",
)
@click.option("--seed", type=int, default=_DEFAULTS["seed"], show_default=True)
@click.option(
    "--num-workers",
    "--dataloader-workers",
    "num_workers",
    type=int,
    default=_DEFAULTS["num_workers"],
    show_default=True,
    help="Data loader worker processes per training process.",
)
@click.option(
    "--deterministic",
    is_flag=True,
    help="torch.use_deterministic_algorithms (bit-identical resumes; slower on GPUs).",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def pretrain_command(dataset_dirs, output_dir, save_interval_steps, **kwargs) -> None:
    """Pretrain LUKE (or continue a run) with DeepSpeed, one process per device: run it
    under torchrun (`python -m torch.distributed.run --nproc-per-node=N -m luke_core
    pretrain ...`), the `deepspeed` launcher, or alone. The first process prints the
    summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.training.trainer import pretrain

    options = PretrainOptions(save_interval_steps=save_interval_steps or None, **kwargs)
    summary = pretrain(list(dataset_dirs), output_dir, options)
    if summary.world_size == 1 or _is_first_process():
        echo_json(summary_dict(summary))


def _is_first_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


commands = [pretrain_command]
