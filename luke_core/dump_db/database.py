"""The dump database: one SQLite file per Wikipedia dump.

Why SQLite rather than LMDB (wikipedia2vec's choice): it is in Python's standard library,
a person can open it with the `sqlite3` shell or any SQL tool (`SELECT title FROM pages
WHERE is_disambiguation`), a paragraph's JSON can be queried with `json_extract`, it is a
single file that moves through object storage as one object, and concurrent readers in
several processes need no locking. Page bodies are plain JSON, not pickles, for the same
reason.

Tables:
- `pages(id, title, wiki_page_id, is_disambiguation, num_links, paragraphs)`: namespace-0
  articles, `id` 0..n-1 in dump order; `paragraphs` is a JSON list of
  `[text, [[target_title, start, end], ...], is_abstract]` (link text = text[start:end];
  targets normalised but not redirect-resolved: resolve them with `resolve_redirect`).
- `redirects(title, target, resolved)`: `target` as written, `resolved` the final target
  after following chains (NULL for a redirect loop).
- `meta(key, value)`: JSON values: kind, language, site information, sources, counts.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from luke_core.dump_db.wikitext import Link, Paragraph, WikitextRules, normalize_title
from luke_core.errors import LukeError
from luke_core.sqlite_artifact import SQLiteArtifact

KIND = "dump_db"
FORMAT_VERSION = 1
MAX_REDIRECT_HOPS = 100

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL UNIQUE,
    wiki_page_id INTEGER NOT NULL,
    is_disambiguation INTEGER NOT NULL,
    num_links INTEGER NOT NULL,
    paragraphs TEXT NOT NULL
);
CREATE TABLE redirects (title TEXT PRIMARY KEY, target TEXT NOT NULL, resolved TEXT);
"""


@dataclass(frozen=True, slots=True)
class Page:
    id: int
    title: str
    paragraphs: tuple[Paragraph, ...]
    is_disambiguation: bool


def encode_paragraphs(paragraphs) -> str:
    """The stored JSON of a page's paragraphs (see the module docstring)."""
    return json.dumps(
        [
            [p.text, [[ln.title, ln.start, ln.end] for ln in p.links], p.is_abstract]
            for p in paragraphs
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_paragraphs(data: str) -> tuple[Paragraph, ...]:
    return tuple(
        Paragraph(text, tuple(Link(t, text[s:e], s, e) for t, s, e in links), abstract)
        for text, links, abstract in json.loads(data)
    )


class DumpDBWriter:
    """Builds a dump database file. Not for concurrent use: one writer per file."""

    def __init__(self, path: str):
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=16384;" + _SCHEMA
        )
        self.conn.execute("BEGIN")
        self.next_id = 0

    def add_page(
        self,
        title: str,
        wiki_page_id: int,
        is_disambiguation: bool,
        paragraphs_json: str,
        num_links: int,
    ) -> bool:
        """Store an article; False (and nothing stored) when the title is already there."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO pages VALUES (?, ?, ?, ?, ?, ?)",
            (self.next_id, title, wiki_page_id, int(is_disambiguation), num_links, paragraphs_json),
        )
        if cursor.rowcount == 0:
            return False
        self.next_id += 1
        return True

    def add_redirect(self, title: str, target: str) -> bool:
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO redirects (title, target) VALUES (?, ?)", (title, target)
        )
        return cursor.rowcount > 0

    def resolve_redirects(self) -> int:
        """Fill `resolved` by following chains; returns the number of redirects in loops
        (or chains longer than MAX_REDIRECT_HOPS), whose `resolved` stays NULL."""
        self.conn.execute("UPDATE redirects SET resolved = target")
        chained = self.conn.execute(
            "SELECT r.title FROM redirects r JOIN redirects t ON r.target = t.title"
        ).fetchall()
        loops = 0
        for (title,) in chained:
            final = self._follow(title)
            loops += final is None
            self.conn.execute("UPDATE redirects SET resolved = ? WHERE title = ?", (final, title))
        return loops

    def _follow(self, title: str) -> str | None:
        seen = {title}
        current = title
        for _ in range(MAX_REDIRECT_HOPS):
            row = self.conn.execute(
                "SELECT target FROM redirects WHERE title = ?", (current,)
            ).fetchone()
            if row is None:
                return current
            current = row[0]
            if current in seen:
                return None
            seen.add(current)
        return None

    def finish(self, meta: dict[str, Any]) -> None:
        """Write the metadata and close. The caller publishes the file afterwards."""
        meta = {"kind": KIND, "format_version": FORMAT_VERSION, **meta}
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, json.dumps(v, ensure_ascii=False)) for k, v in meta.items()],
        )
        self.conn.execute("COMMIT")
        self.conn.close()

    def abort(self) -> None:
        self.conn.close()


def new_build_meta() -> dict[str, Any]:
    """A build's identity and time (what it was built from is its build record: see
    `luke_core.reuse`)."""
    return {"build_id": uuid.uuid4().hex, "created": datetime.now(UTC).isoformat()}


class DumpDB(SQLiteArtifact):
    """Read access to a dump database, local or on S3 (fetched once into the cache).

    Picklable: a copy sent to a worker process reopens the file there."""

    KIND = KIND
    FORMAT_VERSION = FORMAT_VERSION
    DESCRIPTION = "a dump database"

    @property
    def language(self) -> str | None:
        return self.meta.get("language")

    @property
    def image_captions(self) -> bool:
        """Whether image captions were kept as text (`BuildDumpDbOptions.image_captions`;
        databases built before the option existed dropped them)."""
        options = self.meta.get("options")
        return bool(isinstance(options, dict) and options.get("image_captions", False))

    def namespaces(self) -> dict[int, str]:
        """The wiki's namespace names from the dump's metadata ({} when absent)."""
        found = self.meta.get("namespaces")
        return {int(k): v for k, v in found.items()} if isinstance(found, dict) else {}

    def wikitext_rules(self) -> WikitextRules:
        """The wiki's title rules (namespaces, first-letter case), to look titles up as
        MediaWiki resolves them."""
        site = self.meta.get("site") or {}
        return WikitextRules.for_site(self.namespaces(), site.get("case") or "first-letter")

    def page_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0]

    def redirect_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM redirects").fetchone()[0]

    def shard_range(self, rank: int = 0, world_size: int = 1) -> range:
        """Page ids of shard `rank` of `world_size`: contiguous, together all pages."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad shard {rank} of {world_size}")
        n = self.page_count()
        return range(rank * n // world_size, (rank + 1) * n // world_size)

    def iter_pages(self, rank: int = 0, world_size: int = 1) -> Iterator[Page]:
        """Articles in dump order; with `rank`/`world_size`, only that shard's."""
        ids = self.shard_range(rank, world_size)
        rows = self.conn.execute(
            "SELECT id, title, is_disambiguation, paragraphs FROM pages "
            "WHERE id >= ? AND id < ? ORDER BY id",
            (ids.start, ids.stop),
        )
        for page_id, title, disambiguation, paragraphs in rows:
            yield Page(page_id, title, decode_paragraphs(paragraphs), bool(disambiguation))

    def iter_link_targets(self, rank: int = 0, world_size: int = 1) -> Iterator[list[str]]:
        """Per article of the shard, its link targets as stored (not redirect-resolved).
        Faster than `iter_pages` when only the links matter."""
        ids = self.shard_range(rank, world_size)
        rows = self.conn.execute(
            "SELECT paragraphs FROM pages WHERE id >= ? AND id < ? ORDER BY id",
            (ids.start, ids.stop),
        )
        for (paragraphs,) in rows:
            yield [link[0] for _, links, _ in json.loads(paragraphs) for link in links]

    def titles(self) -> Iterator[str]:
        for (title,) in self.conn.execute("SELECT title FROM pages ORDER BY id"):
            yield title

    def get_page(self, title: str, follow_redirects: bool = True) -> Page | None:
        if follow_redirects:
            title = self.resolve_redirect(title)
        row = self.conn.execute(
            "SELECT id, title, is_disambiguation, paragraphs FROM pages WHERE title = ?",
            (title,),
        ).fetchone()
        if row is None:
            return None
        return Page(row[0], row[1], decode_paragraphs(row[3]), bool(row[2]))

    def resolve_redirect(self, title: str) -> str:
        """The final target of a redirect (chains followed); the title itself when it is
        no redirect or a redirect loop."""
        row = self.conn.execute(
            "SELECT resolved FROM redirects WHERE title = ?", (title,)
        ).fetchone()
        return row[0] if row is not None and row[0] is not None else title

    def is_redirect(self, title: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM redirects WHERE title = ?", (title,)).fetchone()
            is not None
        )

    def is_article(self, title: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM pages WHERE title = ?", (title,)).fetchone()
            is not None
        )

    def iter_redirects(self) -> Iterator[tuple[str, str | None]]:
        """(redirect title, resolved target or None for a loop) in title order."""
        yield from self.conn.execute("SELECT title, resolved FROM redirects ORDER BY title")

    def counts(self) -> dict[str, int]:
        pages, disambiguation, links = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(is_disambiguation), 0), COALESCE(SUM(num_links), 0) "
            "FROM pages"
        ).fetchone()
        loops = self.conn.execute(
            "SELECT COUNT(*) FROM redirects WHERE resolved IS NULL"
        ).fetchone()[0]
        return {
            "pages": pages,
            "redirects": self.redirect_count(),
            "disambiguation_pages": disambiguation,
            "links": links,
            "redirect_loops": loops,
        }


def page_as_json(page: Page) -> dict[str, Any]:
    return {
        "id": page.id,
        "title": page.title,
        "is_disambiguation": page.is_disambiguation,
        "paragraphs": [
            {
                "text": p.text,
                "is_abstract": p.is_abstract,
                "links": [
                    {"title": ln.title, "text": ln.text, "start": ln.start, "end": ln.end}
                    for ln in p.links
                ],
            }
            for p in page.paragraphs
        ],
    }


def describe_dump_db(uri: str, options) -> dict[str, Any]:
    """`luke inspect` of a dump database: counts and metadata, or one page."""
    with DumpDB(uri) as db:
        if options.page:
            title = normalize_title(options.page, db.wikitext_rules())  # as a link finds it
            if db.is_redirect(title) and db.resolve_redirect(title) == title:
                raise LukeError(f"{uri}: {title!r} is a redirect in a loop, no page")
            page = db.get_page(title)
            if page is None:
                raise LukeError(f"{uri}: no page titled {title!r}")
            return {
                "requested": options.page,
                "redirected_from": title if page.title != title else None,
                "page": page_as_json(page),
            }
        return {"counts": db.counts(), "meta": db.meta}
