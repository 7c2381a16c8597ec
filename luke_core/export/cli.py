"""`luke convert-to-huggingface` and `luke upload`."""

from __future__ import annotations

import click

from luke_core.cli_options import default, options_of, progress_option, reuse_option
from luke_core.export.options import ExportOptions
from luke_core.export.tokenizer import TOKENIZER_CLASSES
from luke_core.progress import summary_dict


@click.command("convert-to-huggingface")
@click.argument("checkpoint", required=False)
@click.argument("out_dir", required=False)
@click.option(
    "--checkpoint-path",
    help="The checkpoint (instead of CHECKPOINT): a checkpoint folder, a run folder (its "
    "latest complete checkpoint) or a tag of --run-dir; local or s3://.",
)
@click.option(
    "--transformers-model-save-path",
    "--output-dir",
    "output_dir",
    help="The output folder (instead of OUT_DIR), local or s3://.",
)
@click.option(
    "--run-dir", help="The run folder: where a bare tag is looked up [the checkpoint's parent]."
)
@click.option("--metadata-path", help="The run's metadata.json [RUN/metadata.json].")
@click.option("--entity-vocab-path", help="The entity vocabulary [RUN/entity_vocab.jsonl].")
@click.option(
    "--tokenizer-path",
    help="The tokenizer folder [RUN/tokenizer]; mLUKE needs sentencepiece.bpe.model in it.",
)
@click.option(
    "--tokenizer-class",
    type=click.Choice(list(TOKENIZER_CLASSES)),
    help="[LukeTokenizer for RoBERTa, MLukeTokenizer for XLM-R]",
)
@click.option(
    "--set-entity-aware-attention-default",
    "--use-entity-aware-attention",
    "use_entity_aware_attention",
    type=click.BOOL,
    default=default(ExportOptions, "use_entity_aware_attention"),
    show_default=True,
    help="use_entity_aware_attention in the exported config (true/false); the entity-aware "
    "query weights are saved either way.",
)
@click.option(
    "--remove-entity-embeddings",
    "--lite",
    "remove_entity_embeddings",
    is_flag=True,
    help="Lite model: drop the entity table but for the special entities.",
)
@click.option(
    "--model-name", help="The model's name in the card, e.g. its hub id [OUT_DIR's name]."
)
@click.option("--license", "license_", help="The card's licence field (a Hub licence id).")
@reuse_option
@progress_option
def convert_command(checkpoint, out_dir, checkpoint_path, output_dir, license_, **kwargs) -> None:
    """Convert a `luke pretrain` checkpoint (CHECKPOINT: a checkpoint folder, a run folder or
    a tag of --run-dir) into a folder that transformers' LukeForMaskedLM / LukeModel and
    LukeTokenizer / MLukeTokenizer load with from_pretrained. Prints the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.export.convert import export_huggingface

    source = _one_of(checkpoint, checkpoint_path, "CHECKPOINT", "--checkpoint-path")
    target = _one_of(out_dir, output_dir, "OUT_DIR", "--transformers-model-save-path")
    options = options_of(ExportOptions, license=license_, **kwargs)
    echo_json(summary_dict(export_huggingface(source, target, options)))


def _one_of(argument: str | None, option: str | None, argument_name: str, option_name: str) -> str:
    if argument and option and argument != option:
        raise click.UsageError(f"give {argument_name} or {option_name}, not both")
    value = argument or option
    if not value:
        raise click.UsageError(f"missing {argument_name} (or {option_name})")
    return value


@click.command("upload")
@click.argument("folder")
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository private.")
@click.option("--revision", help="Branch to commit to (created from main if missing) [main].")
@click.option("--commit-message", help="[Upload REPO_ID with luke upload]")
@click.option("--dry-run", is_flag=True, help="List the files that would go; send nothing.")
def upload_command(folder, repo_id, **kwargs) -> None:
    """Upload an exported model FOLDER (local or s3://) to the Hugging Face Hub repository
    REPO_ID (NAMESPACE/NAME) in one commit. The token is read from HF_TOKEN only; the Hub
    is HF_ENDPOINT (default https://huggingface.co). Prints the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.export.upload import UploadOptions, upload_to_hub

    echo_json(summary_dict(upload_to_hub(folder, repo_id, UploadOptions(**kwargs))))


commands = [convert_command, upload_command]
aliases = {"convert-luke-to-huggingface-model": convert_command}  # the reference's name
