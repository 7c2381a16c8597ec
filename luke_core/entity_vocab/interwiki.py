"""`build_interwiki_db`: the Wikidata JSON dump -> the interwiki database (mLUKE, step 2).

Reads: a Wikidata JSON dump (see `wikidata.py`). Writes: one SQLite file, published
atomically, mapping (title, language) -> Wikidata item and item -> all its
(title, language) pairs, for the Wikipedia sitelinks of the kept languages.

Why SQLite (as for the dump database): the standard library has it, the file is one
object in object storage, readers in many processes need no locking, a person can query
it with the `sqlite3` shell, and its B-trees build from a stream far larger than memory.
The reference kept a trie and numpy arrays in memory, which needs the whole mapping in
RAM at build time; the real dump has more than 100 million entities.

Tables:
- `items(id INTEGER PRIMARY KEY, qid TEXT, line INTEGER)`: items with at least one kept
  sitelink; `id` from 0 in dump order (dense unless duplicate titles were dropped),
  `qid` the Wikidata id (`Q42`; NULL in dumps trimmed without ids), `line` the item's
  line in the dump.
- `sitelinks(item, language, title)`, clustered by (item, language), with an index on
  (language, title, item) built after the bulk insert (building an index once from a
  full table is much faster than keeping it up to date row by row). A (language, title)
  pair belongs to one item: the first in the dump when a broken dump repeats it.
- `meta(key, value)`: JSON values: kind `interwiki_db`, languages, counts, sources.

`-` reads the dump from standard input, so a parallel decompressor can feed it
(`lbzip2 -dc latest-all.json.bz2 | luke build-interwiki-db - OUT`): Python decompresses
bz2 at a few tens of MB/s in one thread, which bounds the whole build on the real dump.

Parsing runs in worker processes over blocks of lines, results taken in submission
order with a bounded number of blocks in flight: memory stays flat and the database is
the same whatever the number of processes. With msgspec a parsing process keeps up with
tens of thousands of items per second, so on a few cores the main process (decompression,
inserts) sets the pace; on many cores, more processes keep it from waiting on parsing.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from luke_core import storage
from luke_core.dump_db.database import new_build_meta
from luke_core.entity_vocab.interwiki_db import FORMAT_VERSION, KIND, InterwikiDB
from luke_core.entity_vocab.wikidata import (
    STDIN,
    ParsedBatch,
    WikidataDumpReader,
    normalize_language,
    parse_batch,
)
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

logger = logging.getLogger(__name__)

_LOGGED_BAD_LINES = 20

__all__ = [
    "BuildInterwikiDbOptions",
    "BuildInterwikiDbSummary",
    "InterwikiDB",
    "build_interwiki_db",
]

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (id INTEGER PRIMARY KEY, qid TEXT, line INTEGER NOT NULL);
CREATE TABLE sitelinks (
    item INTEGER NOT NULL,
    language TEXT NOT NULL,
    title TEXT NOT NULL,
    PRIMARY KEY (item, language)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, kw_only=True)
class BuildInterwikiDbOptions:
    """Options of `luke build-interwiki-db`."""

    languages: tuple[str, ...] = ()
    """Keep only these Wikipedias' titles (empty: every language Wikipedia)."""
    max_bad_lines: int = neutral(default=10)
    """Malformed lines skipped (each reported) before the build fails."""
    processes: int = neutral(default_factory=available_cpus)
    """Processes parsing JSON; 1 parses in the main process."""
    batch_bytes: int = neutral(default=4 << 20)
    """Bytes of (decompressed) dump lines per task sent to a parsing process."""
    reuse: bool = neutral(default=False)
    """Keep OUT when it was built from the same Wikidata dump (unchanged since) for the
    same languages (never for a dump read from standard input): the full dump takes hours."""
    progress: bool = neutral(default=True)

    def __post_init__(self) -> None:
        normal = tuple(sorted({normalize_language(code) for code in self.languages}))
        object.__setattr__(self, "languages", normal)
        if self.max_bad_lines < 0:
            raise LukeError(f"--max-bad-lines must be 0 or more, not {self.max_bad_lines}")
        if self.processes < 1:
            raise LukeError(f"processes must be at least 1, not {self.processes}")
        if self.batch_bytes < 1:
            raise LukeError(f"batch bytes must be at least 1, not {self.batch_bytes}")


@dataclass(kw_only=True)
class BuildInterwikiDbSummary:
    lines: int = 0
    items: int = 0
    """Entities of type item read."""
    other_entities: int = 0
    items_with_sitelinks: int = 0
    """Items stored: those with a title in at least one kept language."""
    sitelinks: int = 0
    languages: int = 0
    bad_lines: int = 0
    duplicate_titles: int = 0
    """(title, language) pairs claimed by a second item; the first item keeps them."""
    layout: str = ""
    """`array` (the published dump: `[`, lines with commas, `]`) or `json-lines`."""
    closing_bracket: bool = False
    input_bytes: int = 0
    seconds: float = 0.0
    items_per_second: float = 0.0
    reused: bool = False


RULES_VERSION = 1


def build_interwiki_db(
    dump: str, out: str, options: BuildInterwikiDbOptions | None = None
) -> BuildInterwikiDbSummary:
    """Stream the Wikidata dump at `dump` into an interwiki database at `out`."""
    options = options or BuildInterwikiDbOptions()
    if dump != STDIN and not storage.is_file(dump):
        raise LukeError(f"{dump}: Wikidata dump not found")
    source = {"uri": STDIN} if dump == STDIN else file_stamp(dump)
    recipe = Recipe(
        "build-interwiki-db", RULES_VERSION, {"wikidata": source}, recipe_options(options)
    )
    if (
        options.reuse
        and dump != STDIN
        and (earlier := reused_summary(out, recipe, read_sidecar, BuildInterwikiDbSummary))
    ):
        return earlier
    started = time.perf_counter()
    summary = BuildInterwikiDbSummary()
    with published_file(out, recipe, summary) as tmp:
        writer = _InterwikiDBWriter(tmp)
        try:
            _load(dump, writer, summary, options)
            summary.duplicate_titles = writer.build_indexes()
            summary.sitelinks = sum(writer.per_language.values())
            summary.languages = len(writer.per_language)
            _finish_summary(summary, started)
            writer.finish(_meta(dump, summary, writer, options))
        except BaseException:
            writer.abort()
            raise
    log_summary("build-interwiki-db", summary)
    return summary


def _load(
    dump: str,
    writer: _InterwikiDBWriter,
    summary: BuildInterwikiDbSummary,
    options: BuildInterwikiDbOptions,
) -> None:
    languages = frozenset(options.languages) or None
    with (
        WikidataDumpReader(dump) as reader,
        OrderedPool(options.processes) as pool,
        progress_bar(
            total=None if dump == STDIN else storage.size(dump),
            desc="build-interwiki-db",
            unit="B",
            disable=not options.progress,
        ) as bar,
    ):
        tasks = ((languages, *batch) for batch in reader.batches(options.batch_bytes))
        for batch in pool.map(parse_batch, tasks):
            _count_bad_lines(dump, batch, summary, options.max_bad_lines)
            writer.add_items(batch.items)
            summary.items += batch.item_count
            summary.other_entities += batch.other_entities
            summary.items_with_sitelinks += len(batch.items)
            summary.closing_bracket |= batch.closing_bracket
            bar.update(reader.bytes_read - bar.n)  # the input file's bytes: an honest ETA
        summary.lines = reader.lines
        summary.layout = reader.layout
        summary.input_bytes = reader.bytes_read
    if summary.items == 0 and summary.other_entities == 0:
        raise LukeError(f"{dump}: no Wikidata entity in the file")
    if summary.layout == "array" and not summary.closing_bracket:
        logger.warning("%s: no closing ']' line: the dump may have been cut short", dump)


def _count_bad_lines(
    dump: str, batch: ParsedBatch, summary: BuildInterwikiDbSummary, limit: int
) -> None:
    for number, reason in batch.bad_lines:
        summary.bad_lines += 1
        if summary.bad_lines <= _LOGGED_BAD_LINES:
            logger.warning("%s: line %d skipped, not a Wikidata entity: %s", dump, number, reason)
        if summary.bad_lines > limit:
            raise LukeError(
                f"{dump}: more than {limit} malformed lines (the last at line {number}: "
                f"{reason}); is this a Wikidata JSON dump, one entity per line? "
                "(--max-bad-lines raises the limit)"
            )


def _finish_summary(summary: BuildInterwikiDbSummary, started: float) -> None:
    summary.seconds = time.perf_counter() - started
    summary.items_per_second = summary.items / summary.seconds if summary.seconds else 0.0


def _meta(
    dump: str,
    summary: BuildInterwikiDbSummary,
    writer: _InterwikiDBWriter,
    options: BuildInterwikiDbOptions,
) -> dict:
    return {
        **new_build_meta(),
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "source": dump,
        "languages": sorted(writer.per_language),
        "language_filter": list(options.languages),
        "sitelinks_per_language": dict(sorted(writer.per_language.items())),
        "counts": {
            "items": writer.next_id,
            "sitelinks": summary.sitelinks,
            "dump_items": summary.items,
            "dump_lines": summary.lines,
            "bad_lines": summary.bad_lines,
            "duplicate_titles": summary.duplicate_titles,
        },
    }


class _InterwikiDBWriter:
    """Bulk-loads the tables; indexes come last (`build_indexes`)."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=16384;"
            "PRAGMA cache_size=-262144;" + _SCHEMA
        )
        self.conn.execute("BEGIN")
        self.next_id = 0
        self.per_language: Counter[str] = Counter()

    def add_items(self, items: Sequence[tuple[int, str | None, list[tuple[str, str]]]]) -> None:
        first = self.next_id
        self.conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?)",
            ((first + i, qid, line) for i, (line, qid, _) in enumerate(items)),
        )
        self.conn.executemany(
            "INSERT INTO sitelinks VALUES (?, ?, ?)",
            (
                (first + i, language, title)
                for i, (_, _, sitelinks) in enumerate(items)
                for language, title in sitelinks
            ),
        )
        for _, _, sitelinks in items:
            self.per_language.update(language for language, _ in sitelinks)
        self.next_id += len(items)

    def build_indexes(self) -> int:
        """Index titles; returns how many duplicate (language, title) rows were dropped.

        The title index covers the item, so a look-up never touches the table. It is
        not declared UNIQUE: a failed unique build cannot be rolled back without a
        journal, so duplicates are looked for through the finished index instead."""
        self.conn.execute("CREATE INDEX items_by_qid ON items(qid)")
        self.conn.execute("CREATE INDEX sitelinks_by_title ON sitelinks(language, title, item)")
        duplicates = self.conn.execute(
            "SELECT language, title, MIN(item) FROM sitelinks GROUP BY language, title "
            "HAVING COUNT(*) > 1"
        ).fetchall()
        return self._drop_duplicate_titles(duplicates) if duplicates else 0

    def _drop_duplicate_titles(self, duplicates: list[tuple[str, str, int]]) -> int:
        """Rare (a hand-made or corrupt dump): keep each title with its first item."""
        dropped = 0
        for language, title, first in duplicates:
            dropped += self.conn.execute(
                "DELETE FROM sitelinks WHERE language = ? AND title = ? AND item > ?",
                (language, title, first),
            ).rowcount
        self.conn.execute("DELETE FROM items WHERE id NOT IN (SELECT item FROM sitelinks)")
        self.per_language = Counter(
            dict(self.conn.execute("SELECT language, COUNT(*) FROM sitelinks GROUP BY language"))
        )
        self.next_id = self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        logger.warning("dropped %d titles claimed by more than one item", dropped)
        return dropped

    def finish(self, meta: dict) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, json.dumps(v, ensure_ascii=False)) for k, v in meta.items()],
        )
        self.conn.execute("COMMIT")
        self.conn.execute("ANALYZE")
        self.conn.close()

    def abort(self) -> None:
        self.conn.close()
