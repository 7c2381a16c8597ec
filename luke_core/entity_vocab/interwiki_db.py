"""`InterwikiDB`: read access to the interwiki database that `build_interwiki_db` writes
(the tables are described in `interwiki.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from luke_core.errors import LukeError
from luke_core.sqlite_artifact import SQLiteArtifact

KIND = "interwiki_db"
FORMAT_VERSION = 1


class InterwikiDB(SQLiteArtifact):
    """(title, language) -> item and item -> its (title, language) pairs.

    Local or on S3 (fetched once into the cache). Picklable: a copy sent to a worker
    process reopens the file there."""

    KIND = KIND
    FORMAT_VERSION = FORMAT_VERSION
    DESCRIPTION = "an interwiki database"

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with at least one title in the database, sorted."""
        return tuple(self.meta.get("languages", ()))

    def get_item(self, title: str, language: str) -> int | None:
        row = self.conn.execute(
            "SELECT item FROM sitelinks WHERE language = ? AND title = ?", (language, title)
        ).fetchone()
        return None if row is None else row[0]

    def get_entities(self, item: int) -> list[tuple[str, str]]:
        """All (title, language) pairs of an item, by language."""
        rows = self.conn.execute(
            "SELECT title, language FROM sitelinks WHERE item = ? ORDER BY language", (item,)
        )
        return [(title, language) for title, language in rows]

    def get_qid(self, item: int) -> str | None:
        row = self.conn.execute("SELECT qid FROM items WHERE id = ?", (item,)).fetchone()
        return None if row is None else row[0]

    def find_item(self, qid: str) -> int | None:
        row = self.conn.execute("SELECT id FROM items WHERE qid = ?", (qid,)).fetchone()
        return None if row is None else row[0]

    def iter_items(self) -> Iterator[tuple[int, list[tuple[str, str]]]]:
        """(item, [(title, language), ...]) in item order."""
        rows = self.conn.execute("SELECT item, title, language FROM sitelinks ORDER BY item")
        current, pairs = None, []
        for item, title, language in rows:
            if item != current and pairs:
                yield current, pairs
                pairs = []
            current = item
            pairs.append((title, language))
        if pairs:
            yield current, pairs

    def item_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def sitelink_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM sitelinks").fetchone()[0]

    def counts(self) -> dict[str, Any]:
        """Counts recorded at build time (no table scan)."""
        return {
            **self.meta.get("counts", {}),
            "languages": len(self.languages),
            "sitelinks_per_language": self.meta.get("sitelinks_per_language", {}),
        }


def describe_interwiki_db(uri: str, options) -> dict[str, Any]:
    """`luke inspect` of an interwiki database: counts and metadata, or with `--title`
    the item(s) holding that title (in `--language`, or in every language)."""
    with InterwikiDB(uri) as db:
        if not options.title:
            meta = {k: v for k, v in db.meta.items() if k != "sitelinks_per_language"}
            return {"counts": db.counts(), "meta": meta}
        languages = [options.language] if options.language else db.languages
        found = []
        for language in languages:
            item = db.get_item(options.title, language)
            if item is not None:
                found.append(
                    {
                        "language": language,
                        "item": item,
                        "qid": db.get_qid(item),
                        "entities": [list(pair) for pair in db.get_entities(item)],
                    }
                )
        if not found:
            where = f"language {options.language!r}" if options.language else "any language"
            raise LukeError(f"{uri}: no item has the title {options.title!r} in {where}")
        return {"title": options.title, "matches": found}
