"""Components of step 1: a dump (or one part of it) -> dump database; parts -> one."""

from kfp import dsl
from kfp.dsl import Artifact, Metrics, Output

from pipelines.images import preprocess_image


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def build_dump_db(
    dump_uri: str,
    work_dir: str,
    name: str,
    s3_endpoint: str,
    pool_size: int,
    reuse_outputs: bool,
    metrics: Output[Metrics],
    dump_db: Output[Artifact],
) -> str:
    """Parse a MediaWiki XML dump (a file, a glob of parts, or one part) into the database
    `{work_dir}/dump_db/{name}.db`; with an empty name (one part of a dump fanned out),
    `{work_dir}/dump_db/parts/{dump file name}.db` (glob characters replaced, so that the
    merge reads it as a name). A glob's files are read in the order of their part numbers.
    A database built from the same dump files, none written since, with the same text
    rules, is reused when `reuse_outputs`. Returns its URI."""
    from components.support import (
        dump_db_uri,
        log_metrics,
        natural_key,
        reusable_database,
        setup,
        worker_processes,
        write_pointer,
    )
    from luke_core import storage
    from luke_core.dump_db import BuildDumpDbOptions, build_dump_db

    setup(s3_endpoint)
    out = dump_db_uri(work_dir, name, dump_uri)
    sources = sorted(storage.expand(dump_uri, what="dump file"), key=natural_key)
    expected = {"sources": sources}
    options = BuildDumpDbOptions(pool_size=pool_size or worker_processes())
    if (
        reuse_outputs
        and (meta := reusable_database(out, "dump_db", expected=expected, inputs=sources))
        # a database parsed with other text rules (one built before captions were kept)
        and (meta.get("options") or {}).get("image_captions", False) == options.image_captions
    ):
        log_metrics(metrics, {**meta["counts"], "reused": 1})
        write_pointer(dump_db, out, "dump_db", reused=True, **meta["counts"])
        return out
    summary = build_dump_db(sources, out, options)
    log_metrics(metrics, {**vars(summary), "reused": 0})
    write_pointer(dump_db, out, "dump_db", pages=summary.pages, redirects=summary.redirects)
    return out


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def merge_dump_db(
    part_uris: list,
    work_dir: str,
    name: str,
    s3_endpoint: str,
    reuse_outputs: bool,
    metrics: Output[Metrics],
    dump_db: Output[Artifact],
) -> str:
    """Merge the databases of a dump's parts (ordered by their numbers: part2 before
    part10) into `{work_dir}/dump_db/{name}.db`. A database merged from the same parts,
    none built again since, is reused when `reuse_outputs` (so that the dataset built
    from it can be reused too)."""
    from components.support import (
        log_metrics,
        natural_key,
        output_uri,
        reusable_database,
        setup,
        write_pointer,
    )
    from luke_core.dump_db import merge_dump_dbs

    setup(s3_endpoint)
    out = output_uri(work_dir, "dump_db", f"{name}.db")
    parts = sorted(part_uris, key=natural_key)
    expected = {"merged_from": parts}
    if reuse_outputs and (
        meta := reusable_database(out, "dump_db", expected=expected, inputs=parts)
    ):
        log_metrics(metrics, {**meta["counts"], "parts": len(parts), "reused": 1})
        write_pointer(dump_db, out, "dump_db", parts=len(parts), reused=True, **meta["counts"])
        return out
    summary = merge_dump_dbs(parts, out)
    log_metrics(metrics, {**vars(summary), "reused": 0})
    write_pointer(dump_db, out, "dump_db", pages=summary.pages, parts=summary.parts)
    return out
