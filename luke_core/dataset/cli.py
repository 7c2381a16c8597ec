"""`luke build-wikipedia-pretraining-dataset` and `luke compute-total-training-steps`."""

import click

from luke_core.progress import summary_dict


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
    envvar="LUKE_OPENNLP_MODEL",
    help="OpenNLP sentence model, e.g. en-sent.bin (env LUKE_OPENNLP_MODEL).",
)
@click.option(
    "--language",
    default=None,
    help="Language of the titles (default: the dump's; required with a multilingual vocab).",
)
@click.option("--max-seq-length", type=int, default=512, show_default=True)
@click.option("--max-entity-length", type=int, default=128, show_default=True)
@click.option("--max-mention-length", type=int, default=30, show_default=True)
@click.option("--min-sentence-length", type=int, default=5, show_default=True)
@click.option(
    "--include-unk-entities/--skip-unk-entities",
    default=False,
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
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the page order.")
@click.option(
    "--processes",
    "--pool-size",
    "-j",
    "processes",
    type=int,
    default=None,
    help="Worker processes (default: all cores).",
)
@click.option(
    "--shard-size",
    type=int,
    default=16384,
    show_default=True,
    help="Instances per shard.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def build_dataset_command(dump_db, tokenizer, entity_vocab, out_dir, processes, **options) -> None:
    """Build the pretraining dataset of DUMP_DB (step 1's dump database) with TOKENIZER (a
    Hugging Face name or folder) and ENTITY_VOCAB into the directory OUT_DIR (local or
    s3://), and print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset

    if processes is not None:
        options["processes"] = processes
    summary = build_dataset(
        dump_db, tokenizer, entity_vocab, out_dir, BuildDatasetOptions(**options)
    )
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
