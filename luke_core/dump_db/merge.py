"""`merge_dump_dbs`: the databases of a dump's parts, built in parallel tasks (a pipeline's
ParallelFor over `pages-articles1.xml...`, `pages-articles2.xml...`), become one database,
as if the parts had been built together: pages renumbered in part order, redirects of all
parts together, chains across parts resolved, one metadata record."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from luke_core import storage
from luke_core.dump_db.database import DumpDB, DumpDBWriter, new_build_meta
from luke_core.errors import LukeError
from luke_core.progress import log_summary, progress_bar
from luke_core.reuse import (
    Recipe,
    file_stamp,
    neutral,
    published_file,
    read_sidecar,
    recipe_options,
    reused_summary,
)
from luke_core.sqlite_artifact import check_output_location

logger = logging.getLogger(__name__)

_SUMMED_COUNTS = ("skipped_pages", "unparseable_pages")
RULES_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class MergeDumpDbOptions:
    """Options of `luke merge-dump-db`."""

    reuse: bool = neutral(default=False)
    """Keep OUT when it was merged from the same parts (unchanged since)."""
    progress: bool = neutral(default=True)


@dataclass(kw_only=True)
class MergeDumpDbSummary:
    parts: int = 0
    pages: int = 0
    redirects: int = 0
    disambiguation_pages: int = 0
    links: int = 0
    duplicate_titles: int = 0
    redirect_loops: int = 0
    seconds: float = 0.0
    reused: bool = False


def merge_dump_dbs(
    parts: str | Sequence[str], out: str, options: MergeDumpDbOptions | None = None
) -> MergeDumpDbSummary:
    """Merge part databases (in the order given; globs allowed) into `out`."""
    options = options or MergeDumpDbOptions()
    uris = storage.expand(parts, what="dump database")
    repeated = sorted({uri for uri in uris if uris.count(uri) > 1})
    if repeated:
        raise LukeError(f"{repeated[0]}: the same part given twice")
    check_output_location(out, uris, DumpDB.DESCRIPTION)
    inputs = {f"part[{i}]": file_stamp(uri) for i, uri in enumerate(uris)}
    recipe = Recipe("merge-dump-db", RULES_VERSION, inputs, recipe_options(options))
    if options.reuse and (earlier := reused_summary(out, recipe, read_sidecar, MergeDumpDbSummary)):
        return earlier
    started = time.perf_counter()
    summary = MergeDumpDbSummary(parts=len(uris))
    databases = [DumpDB(uri) for uri in uris]
    try:
        _check_same_wiki(databases)
        with published_file(out, recipe, summary) as tmp:
            writer = DumpDBWriter(tmp)
            try:
                _copy(databases, writer, summary, options.progress)
                summary.redirect_loops = writer.resolve_redirects()
                summary.seconds = time.perf_counter() - started
                writer.finish(_meta(databases, summary))
            except BaseException:
                writer.abort()
                raise
    finally:
        for db in databases:
            db.close()
    log_summary("merge-dump-db", summary)
    return summary


def _check_same_wiki(databases: list[DumpDB]) -> None:
    """The parts of one wiki, parsed with the same text rules."""
    first = databases[0]
    for db in databases[1:]:
        if (db.meta["site"].get("dbname"), db.language) != (
            first.meta["site"].get("dbname"),
            first.language,
        ):
            raise LukeError(
                f"{db.uri}: a part of another wiki ({db.meta['site'].get('dbname')}, "
                f"language {db.language}) than {first.uri}"
            )
        if db.image_captions != first.image_captions:
            raise LukeError(
                f"{db.uri}: image captions {_kept(db)}, but {_kept(first)} in {first.uri}: "
                "build all parts with the same --image-captions/--no-image-captions"
            )


def _kept(db: DumpDB) -> str:
    return "kept" if db.image_captions else "dropped"


def _copy(databases, writer: DumpDBWriter, summary: MergeDumpDbSummary, progress: bool) -> None:
    total = sum(db.page_count() for db in databases)
    with progress_bar(total=total, desc="merge-dump-db", unit="page", disable=not progress) as bar:
        for db in databases:
            rows = db.conn.execute(
                "SELECT title, wiki_page_id, is_disambiguation, paragraphs, num_links "
                "FROM pages ORDER BY id"
            )
            for title, wiki_id, disambiguation, paragraphs, links in rows:
                if writer.add_page(title, wiki_id, bool(disambiguation), paragraphs, links):
                    summary.pages += 1
                    summary.disambiguation_pages += disambiguation
                    summary.links += links
                else:
                    summary.duplicate_titles += 1
                bar.update()
            for title, target in db.conn.execute("SELECT title, target FROM redirects"):
                summary.redirects += writer.add_redirect(title, target)


def _meta(databases: list[DumpDB], summary: MergeDumpDbSummary) -> dict:
    first = databases[0].meta
    counts = {
        "pages": summary.pages,
        "redirects": summary.redirects,
        "disambiguation_pages": summary.disambiguation_pages,
        "links": summary.links,
        "redirect_loops": summary.redirect_loops,
        **{k: sum(db.meta.get("counts", {}).get(k, 0) for db in databases) for k in _SUMMED_COUNTS},
    }
    return {
        **new_build_meta(),
        "language": first.get("language"),
        "site": first.get("site"),
        "namespaces": first.get("namespaces"),
        "sources": [source for db in databases for source in db.meta.get("sources", [])],
        "merged_from": [db.uri for db in databases],
        "counts": counts,
    }
