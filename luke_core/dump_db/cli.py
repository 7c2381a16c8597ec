"""`luke build-dump-db` and `luke merge-dump-db`."""

import click

from luke_core.cli_options import (
    default,
    options_of,
    processes_option,
    progress_option,
    reuse_option,
)
from luke_core.dump_db.build import BuildDumpDbOptions
from luke_core.dump_db.merge import MergeDumpDbOptions
from luke_core.progress import summary_dict


@click.command("build-dump-db")
@click.argument("dump", nargs=-1, required=True)
@click.argument("out")
@processes_option("--pool-size")
@click.option(
    "--chunk-size",
    type=int,
    default=default(BuildDumpDbOptions, "chunk_size"),
    show_default=True,
    help="Articles per task sent to a parsing process.",
)
@click.option(
    "--image-captions/--no-image-captions",
    default=default(BuildDumpDbOptions, "image_captions"),
    show_default=True,
    help="Keep the captions of [[File:...]] / [[Image:...]] as text with their links, as the "
    "reference's data did; --no-image-captions drops them with the image.",
)
@reuse_option
@progress_option
def build_dump_db_command(dump, out, **options) -> None:
    """Parse a MediaWiki XML dump (DUMP..., parts in order; globs and s3:// URIs work)
    into a dump database at OUT, and print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.dump_db.build import build_dump_db

    summary = build_dump_db(list(dump), out, options_of(BuildDumpDbOptions, **options))
    echo_json(summary_dict(summary))


@click.command("merge-dump-db")
@click.argument("part", nargs=-1, required=True)
@click.argument("out")
@reuse_option
@progress_option
def merge_dump_db_command(part, out, **options) -> None:
    """Merge the dump databases of a dump's parts (PART..., in order; globs and s3:// URIs
    work) into one database at OUT, and print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.dump_db.merge import merge_dump_dbs

    summary = merge_dump_dbs(list(part), out, options_of(MergeDumpDbOptions, **options))
    echo_json(summary_dict(summary))


commands = [build_dump_db_command, merge_dump_db_command]
