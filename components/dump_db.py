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
    `{work_dir}/dump_db/parts/{dump file name}.db`. Returns the database's URI."""
    from components.support import log_metrics, output_uri, setup, write_pointer
    from luke_core import storage
    from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db

    setup(s3_endpoint)
    if name:
        out = output_uri(work_dir, "dump_db", f"{name}.db")
    else:
        out = output_uri(work_dir, "dump_db", "parts", storage.basename(dump_uri) + ".db")
    sources = storage.expand(dump_uri, what="dump file")
    if reuse_outputs and storage.exists(out):
        with DumpDB(out) as db:
            if db.meta.get("sources") == sources:
                print(f"reusing {out}: built from the same dump")
                log_metrics(metrics, db.meta["counts"])
                write_pointer(dump_db, out, "dump_db", **db.meta["counts"])
                return out
    options = BuildDumpDbOptions(pool_size=pool_size) if pool_size > 0 else BuildDumpDbOptions()
    summary = build_dump_db(sources, out, options)
    log_metrics(metrics, summary)
    write_pointer(dump_db, out, "dump_db", pages=summary.pages, redirects=summary.redirects)
    return out


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def merge_dump_db(
    part_uris: list,
    work_dir: str,
    name: str,
    s3_endpoint: str,
    metrics: Output[Metrics],
    dump_db: Output[Artifact],
) -> str:
    """Merge the databases of a dump's parts (ordered by their numbers) into
    `{work_dir}/dump_db/{name}.db`."""
    from components.support import log_metrics, natural_key, output_uri, setup, write_pointer
    from luke_core.dump_db import merge_dump_dbs

    setup(s3_endpoint)
    out = output_uri(work_dir, "dump_db", f"{name}.db")
    summary = merge_dump_dbs(sorted(part_uris, key=natural_key), out)
    log_metrics(metrics, summary)
    write_pointer(dump_db, out, "dump_db", pages=summary.pages, parts=summary.parts)
    return out
