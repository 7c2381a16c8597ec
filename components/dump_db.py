"""Components of step 1: a dump (or one part of it) -> dump database; parts -> one."""

from kfp import dsl
from kfp.dsl import Artifact, Metrics, Output

from luke_k8s.images import preprocess_image


@dsl.component(base_image=preprocess_image(), install_kfp_package=False)
def build_dump_db(
    dump_uri: str,
    work_dir: str,
    name: str,
    s3_endpoint: str,
    reuse_outputs: bool,
    metrics: Output[Metrics],
    dump_db: Output[Artifact],
) -> str:
    """Parse a MediaWiki XML dump (a file, a glob of parts, or one part) into the database
    of the language `name` in the work dir; with an empty name (one part of a dump fanned
    out), into the part's own database (`WorkDir.dump_db_part`). A glob's files are read in
    the order of their part numbers. With `reuse_outputs` a database built from the same
    dump files, none written since, is kept. Returns its URI."""
    from components.support import log_metrics, setup, write_pointer
    from luke_core import storage
    from luke_core.dump_db import BuildDumpDbOptions, build_dump_db
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    work = WorkDir(work_dir)
    out = work.dump_db(name) if name else work.dump_db_part(dump_uri)
    sources = storage.expand(dump_uri, what="dump file")
    summary = build_dump_db(sources, out, BuildDumpDbOptions(reuse=reuse_outputs))
    log_metrics(metrics, summary)
    write_pointer(dump_db, out, "dump_db", pages=summary.pages, redirects=summary.redirects,
                  reused=summary.reused)  # fmt: skip
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
    part10) into the database of the language `name`. With `reuse_outputs` a database
    merged from the same parts, none built again since, is kept (so that the dataset built
    from it can be kept too)."""
    from components.support import log_metrics, setup, write_pointer
    from luke_core import storage
    from luke_core.dump_db import MergeDumpDbOptions, merge_dump_dbs
    from luke_core.workdir import WorkDir

    setup(s3_endpoint)
    out = WorkDir(work_dir).dump_db(name)
    parts = sorted(part_uris, key=storage.natural_key)
    summary = merge_dump_dbs(parts, out, MergeDumpDbOptions(reuse=reuse_outputs))
    log_metrics(metrics, summary)
    write_pointer(dump_db, out, "dump_db", pages=summary.pages, parts=summary.parts,
                  reused=summary.reused)  # fmt: skip
    return out
