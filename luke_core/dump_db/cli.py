"""`luke build-dump-db`."""

import click

from luke_core.progress import summary_dict


@click.command("build-dump-db")
@click.argument("dump", nargs=-1, required=True)
@click.argument("out")
@click.option(
    "--pool-size",
    "--processes",
    "-j",
    "pool_size",
    type=int,
    default=None,
    help="Parsing processes (default: all cores).",
)
@click.option(
    "--chunk-size",
    type=int,
    default=100,
    show_default=True,
    help="Articles per task sent to a parsing process.",
)
@click.option(
    "--image-captions/--no-image-captions",
    default=True,
    show_default=True,
    help="Keep the captions of [[File:...]] / [[Image:...]] as text with their links, as the "
    "reference's data did; --no-image-captions drops them with the image.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def build_dump_db_command(dump, out, pool_size, chunk_size, image_captions, progress) -> None:
    """Parse a MediaWiki XML dump (DUMP..., parts in order; globs and s3:// URIs work)
    into a dump database at OUT, and print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.dump_db.build import BuildDumpDbOptions, build_dump_db

    kwargs = {"chunk_size": chunk_size, "image_captions": image_captions, "progress": progress}
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
    echo_json(summary_dict(build_dump_db(list(dump), out, BuildDumpDbOptions(**kwargs))))


@click.command("merge-dump-db")
@click.argument("part", nargs=-1, required=True)
@click.argument("out")
@click.option("--progress/--no-progress", default=True, show_default=True)
def merge_dump_db_command(part, out, progress) -> None:
    """Merge the dump databases of a dump's parts (PART..., in order; globs and s3:// URIs
    work) into one database at OUT, and print the summary as JSON."""
    from luke_core.cli import echo_json
    from luke_core.dump_db.merge import merge_dump_dbs

    echo_json(summary_dict(merge_dump_dbs(list(part), out, progress=progress)))


commands = [build_dump_db_command, merge_dump_db_command]
