"""`luke build-wikipedia-pretraining-dataset` and `luke compute-total-training-steps`."""

import click

from luke_core.cli_options import (
    default,
    options_of,
    processes_option,
    progress_option,
    reuse_option,
)
from luke_core.dataset.building.options import OPENNLP_MODEL_ENV, BuildDatasetOptions
from luke_core.progress import summary_dict


def _default(name: str):
    return default(BuildDatasetOptions, name)


@click.command("build-wikipedia-pretraining-dataset")
@click.argument("dump_db")
@click.argument("tokenizer")
@click.argument("entity_vocab")
@click.argument("out_dir")
@click.option(
    "--sentence-splitter",
    default=None,
    help="'opennlp' or an ICU locale (en, ja, pt_BR...). Default: ICU for the language.",
)
@click.option(
    "--opennlp-model",
    help=f"OpenNLP sentence model, e.g. en-sent.bin [${OPENNLP_MODEL_ENV}].",
)
@click.option(
    "--language",
    default=None,
    help="Language of the titles (default: the dump's; required with a multilingual vocab).",
)
@click.option("--max-seq-length", type=int, default=_default("max_seq_length"), show_default=True)
@click.option(
    "--max-entity-length", type=int, default=_default("max_entity_length"), show_default=True
)
@click.option(
    "--max-mention-length", type=int, default=_default("max_mention_length"), show_default=True
)
@click.option(
    "--min-sentence-length", type=int, default=_default("min_sentence_length"), show_default=True
)
@click.option(
    "--include-unk-entities/--skip-unk-entities",
    default=_default("include_unk_entities"),
    show_default=True,
    help="Keep links to entities outside the vocabulary as [UNK].",
)
@click.option("--abstract-only", is_flag=True, help="Only the paragraphs before the first heading.")
@click.option(
    "--include-sentences-without-entities",
    is_flag=True,
    help="Also emit sequences without any entity.",
)
@click.option("--max-num-documents", type=int, default=None, help="Stop after this many pages.")
@click.option(
    "--predefined-entities-only",
    is_flag=True,
    help="Only the pages whose title is in the entity vocabulary.",
)
@click.option(
    "--seed", type=int, default=_default("seed"), show_default=True, help="Seed of the page order."
)
@processes_option("--pool-size")
@click.option(
    "--shard-size",
    type=int,
    default=_default("shard_size"),
    show_default=True,
    help="Instances per shard.",
)
@reuse_option
@progress_option
def build_dataset_command(dump_db, tokenizer, entity_vocab, out_dir, **options) -> None:
    """Build the pretraining dataset of DUMP_DB (step 1's dump database) with TOKENIZER (a
    Hugging Face name or folder) and ENTITY_VOCAB into the directory OUT_DIR (local or
    s3://), and print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.dataset.building.build import build_dataset

    options = options_of(BuildDatasetOptions, **options)
    summary = build_dataset(dump_db, tokenizer, entity_vocab, out_dir, options)
    echo_json(summary_dict(summary))


@click.command("compute-total-training-steps")
@click.option(
    "--dataset-dir",
    "dataset_dirs",
    multiple=True,
    required=True,
    help="Dataset directory or glob of them (local or s3://); repeatable.",
)
@click.option("--train-batch-size", type=int, required=True)
@click.option("--num-epochs", type=int, required=True)
def compute_total_training_steps_command(dataset_dirs, train_batch_size, num_epochs) -> None:
    """Print ceil(items / train batch size * epochs) of the dataset directories, read from
    their metadata (plain, for scripts)."""
    from luke_core.dataset.describe import compute_total_training_steps

    click.echo(compute_total_training_steps(list(dataset_dirs), train_batch_size, num_epochs))


commands = [build_dataset_command, compute_total_training_steps_command]
