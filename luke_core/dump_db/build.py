"""`build_dump_db`: Wikipedia dump file(s) -> dump database (step 1 of the pipeline).

Reads: one or more MediaWiki XML exports (parts of one dump, in the order given).
Writes: one SQLite dump database (see `database.py`), published atomically at OUT.

The main process streams the XML and writes the database; articles travel in chunks to
a pool of worker processes that run mwparserfromhell and return each page's encoded
paragraphs. At most a few chunks per worker are in flight, so memory stays bounded
whatever the dump's size, and results are taken in submission order, so the database
is the same whatever the pool size.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

from luke_core import storage
from luke_core.dump_db.database import DumpDB, DumpDBWriter, encode_paragraphs, new_build_meta
from luke_core.dump_db.reader import DumpReader, RawPage, SiteInfo
from luke_core.dump_db.wikitext import WikitextRules, normalize_title, parse_wikitext
from luke_core.errors import LukeError
from luke_core.parallel import OrderedPool, available_cpus
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

_TEXT_REDIRECT = re.compile(
    r"\A\s*#\s*(?:REDIRECT|WEITERLEITUNG|REDIRECTION|REDIRECCI[ÓO]N|RINVIA|DOORVERWIJZING|"
    r"PATRZ|ПЕРЕНАПРАВЛЕНИЕ|転送|リダイレクト|重定向)\s*:?\s*\[\[([^\]|]+)",
    re.IGNORECASE,
)
# A chunk is also capped by its text size (articles vary 1000x in length); the first chunks
# are small so that every worker has work within milliseconds of the start.
_CHUNK_TEXT_BYTES = 1 << 18
_FIRST_CHUNK_TEXT_BYTES = 1 << 14
RULES_VERSION = 2
"""Raised when a change of the parsing rules changes the databases this step writes (2: image
captions kept as text)."""


@dataclass(frozen=True, kw_only=True)
class BuildDumpDbOptions:
    """Options of `luke build-dump-db`."""

    processes: int = neutral(default_factory=available_cpus)
    """Processes parsing wikitext; 1 parses in the main process."""
    chunk_size: int = neutral(default=100)
    """Articles per task sent to a worker (fewer when their text is long)."""
    image_captions: bool = True
    """Keep the captions of `[[File:...]]` / `[[Image:...]]` as text, with their links (the
    reference's data; see `wikitext.py`); False drops them with the image."""
    reuse: bool = neutral(default=False)
    """Keep OUT when it was built from the same dump files (unchanged since) by the same
    rules: see `luke_core.reuse`."""
    progress: bool = neutral(default=True)

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise LukeError(f"processes must be at least 1, not {self.processes}")
        if self.chunk_size < 1:
            raise LukeError(f"chunk size must be at least 1, not {self.chunk_size}")


@dataclass(kw_only=True)
class BuildDumpDbSummary:
    """What a build did; also the metrics the pipeline logs."""

    pages: int = 0
    redirects: int = 0
    disambiguation_pages: int = 0
    links: int = 0
    paragraphs: int = 0
    skipped_pages: int = 0
    """Pages outside namespace 0 (talk, user, category, ... pages)."""
    unparseable_pages: int = 0
    non_wikitext_pages: int = 0
    duplicate_titles: int = 0
    redirect_loops: int = 0
    input_bytes: int = 0
    xml_bytes: int = 0
    seconds: float = 0.0
    pages_per_second: float = 0.0
    megabytes_per_second: float = 0.0
    reused: bool = False
    """OUT was current and kept (`reuse`); the figures are those of its build."""


def build_dump_db(
    dumps: str | Sequence[str], out: str, options: BuildDumpDbOptions | None = None
) -> BuildDumpDbSummary:
    """Parse the dump (all its parts, in order) into a dump database at `out`."""
    options = options or BuildDumpDbOptions()
    sources = storage.expand(dumps, what="dump file")
    check_output_location(out, sources, DumpDB.DESCRIPTION)
    recipe = _recipe(sources, options)
    if options.reuse and (earlier := reused_summary(out, recipe, read_sidecar, BuildDumpDbSummary)):
        return earlier
    started = time.perf_counter()
    summary = BuildDumpDbSummary()
    with published_file(out, recipe, summary) as tmp:
        writer = DumpDBWriter(tmp)
        try:
            site = _parse_all(sources, writer, summary, options)
            if summary.pages == 0 and summary.redirects == 0:
                raise LukeError(
                    f"{', '.join(sources)}: empty dump: no article or redirect in namespace 0"
                )
            summary.redirect_loops = writer.resolve_redirects()
            _finish_summary(summary, started)
            writer.finish(_meta(site, sources, summary, options))
        except BaseException:
            writer.abort()
            raise
    log_summary("build-dump-db", summary)
    return summary


def _parse_all(
    sources: list[str],
    writer: DumpDBWriter,
    summary: BuildDumpDbSummary,
    options: BuildDumpDbOptions,
) -> SiteInfo:
    first_site: SiteInfo | None = None
    with (
        OrderedPool(options.processes) as pool,
        progress_bar(desc="build-dump-db", unit="page", disable=not options.progress) as bar,
    ):
        for uri in sources:
            with DumpReader(uri) as reader:
                chunks = _article_chunks(reader, writer, summary, options)
                for results in pool.map(_parse_chunk, chunks):
                    _store(results, writer, summary)
                    bar.update(len(results))
                summary.input_bytes += reader.bytes_read
                summary.xml_bytes += reader.xml_bytes
                first_site = _check_same_wiki(first_site, reader.siteinfo, uri)
            logger.info("read %s (%s, %d bytes)", uri, reader.compression, reader.bytes_read)
    assert first_site is not None
    return first_site


def _check_same_wiki(first: SiteInfo | None, site: SiteInfo, uri: str) -> SiteInfo:
    if first is not None and (first.dbname, first.language) != (site.dbname, site.language):
        raise LukeError(
            f"{uri}: a part of another wiki ({site.dbname}, language {site.language}) "
            f"than the first part ({first.dbname}, language {first.language})"
        )
    return first or site


def _article_chunks(
    reader: DumpReader,
    writer: DumpDBWriter,
    summary: BuildDumpDbSummary,
    options: BuildDumpDbOptions,
) -> Iterator[tuple[WikitextRules, list[tuple[str, int, str]]]]:
    """Chunks of articles to parse; redirects and skipped pages are handled on the way."""
    rules: WikitextRules | None = None
    chunk: list[tuple[str, int, str]] = []
    chunk_bytes = 0
    chunk_cap = _FIRST_CHUNK_TEXT_BYTES
    for page in reader.pages():
        if rules is None:
            rules = WikitextRules.for_site(
                reader.siteinfo.namespaces,
                reader.siteinfo.case,
                image_captions=options.image_captions,
            )
        if not _is_article(page, writer, summary, rules):
            continue
        chunk.append((page.title, page.page_id, page.text))
        chunk_bytes += len(page.text)
        if len(chunk) >= options.chunk_size or chunk_bytes >= chunk_cap:
            yield rules, chunk
            chunk, chunk_bytes = [], 0
            chunk_cap = min(2 * chunk_cap, _CHUNK_TEXT_BYTES)
    if chunk:
        yield rules, chunk


def _is_article(
    page: RawPage, writer: DumpDBWriter, summary: BuildDumpDbSummary, rules: WikitextRules
) -> bool:
    if page.namespace != 0:
        summary.skipped_pages += 1
        return False
    target = _redirect_target(page)
    if target is not None:
        target = normalize_title(target, rules)
        if target and writer.add_redirect(page.title, target):
            summary.redirects += 1
        return False
    if page.model not in (None, "wikitext"):
        summary.non_wikitext_pages += 1
        return False
    return True


def _redirect_target(page: RawPage) -> str | None:
    if page.redirect:
        return page.redirect
    match = _TEXT_REDIRECT.match(page.text)
    return match.group(1) if match else None


def _parse_chunk(task: tuple[WikitextRules, list[tuple[str, int, str]]]) -> list[tuple]:
    """Worker: parse articles; (title, id, is_disambiguation, json, links, paragraphs)
    per article, or (title, id, None, error message) when it cannot be parsed."""
    rules, articles = task
    results = []
    for title, page_id, text in articles:
        try:
            parsed = parse_wikitext(text, rules)
        except Exception as exc:  # mwparserfromhell raises assorted errors, recursion too
            results.append((title, page_id, None, f"{type(exc).__name__}: {exc}"))
            continue
        num_links = sum(len(p.links) for p in parsed.paragraphs)
        results.append(
            (
                title,
                page_id,
                parsed.is_disambiguation,
                encode_paragraphs(parsed.paragraphs),
                num_links,
                len(parsed.paragraphs),
            )
        )
    return results


def _store(results: list[tuple], writer: DumpDBWriter, summary: BuildDumpDbSummary) -> None:
    for result in results:
        title, page_id, is_disambiguation = result[:3]
        if is_disambiguation is None:
            logger.warning("skipped page %r (id %d): cannot parse: %s", title, page_id, result[3])
            summary.unparseable_pages += 1
            continue
        paragraphs_json, num_links, num_paragraphs = result[3:]
        if not writer.add_page(title, page_id, is_disambiguation, paragraphs_json, num_links):
            summary.duplicate_titles += 1
            continue
        summary.pages += 1
        summary.disambiguation_pages += is_disambiguation
        summary.links += num_links
        summary.paragraphs += num_paragraphs


def _finish_summary(summary: BuildDumpDbSummary, started: float) -> None:
    summary.seconds = time.perf_counter() - started
    summary.pages_per_second = summary.pages / summary.seconds if summary.seconds else 0.0
    summary.megabytes_per_second = summary.xml_bytes / 1e6 / summary.seconds


def _recipe(sources: list[str], options: BuildDumpDbOptions) -> Recipe:
    inputs = {f"dump[{i}]": file_stamp(uri) for i, uri in enumerate(sources)}
    return Recipe("build-dump-db", RULES_VERSION, inputs, recipe_options(options))


def _meta(
    site: SiteInfo, sources: list[str], summary: BuildDumpDbSummary, options: BuildDumpDbOptions
) -> dict:
    language = site.language or (site.dbname or "").removesuffix("wiki") or None
    return {
        **new_build_meta(),
        "language": language,
        "site": {k: v for k, v in asdict(site).items() if k != "namespaces"},
        "namespaces": {str(k): v for k, v in sorted(site.namespaces.items())},
        "sources": sources,
        "counts": {
            k: getattr(summary, k)
            for k in (
                "pages",
                "redirects",
                "disambiguation_pages",
                "links",
                "paragraphs",
                "skipped_pages",
                "unparseable_pages",
                "redirect_loops",
            )
        },
        "options": {"image_captions": options.image_captions},
    }
