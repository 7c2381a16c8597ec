"""Read access to the pipeline's SQLite files (dump database, interwiki database): local or on
S3 (fetched once into the cache), opened read-only, checked to be of the expected kind and
format by their `meta` table (JSON values), and picklable: a copy sent to a worker process
reopens the file there."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from typing import Any, ClassVar

from luke_core import storage
from luke_core.errors import LukeError

SQLITE_HEADER = b"SQLite format 3\x00"


def check_output_location(out: str, inputs: Sequence[str], description: str) -> None:
    """Refuse an OUT that is one of the inputs or an existing file other than an SQLite
    database, before any work: with `PART... OUT` a forgotten OUT makes the last input the
    output, and publishing the result would replace it."""
    if _same_place(out) in {_same_place(uri) for uri in inputs}:
        raise LukeError(f"{out}: is one of the inputs; give the output a path of its own")
    if storage.is_file(out):
        with storage.open_input(out) as f:
            header = f.read(len(SQLITE_HEADER))
        if header != SQLITE_HEADER:
            raise LukeError(
                f"{out}: exists and is not {description}; not replacing it "
                "(was the output left off the command line?)"
            )


def _same_place(uri: str) -> str:
    return uri if storage.is_s3(uri) else os.path.realpath(uri)


class SQLiteArtifact:
    KIND: ClassVar[str]
    FORMAT_VERSION: ClassVar[int]
    DESCRIPTION: ClassVar[str]
    """What the file is, with its article, for error messages: "a dump database"."""

    def __init__(self, uri: str):
        self.uri = uri
        self.path = storage.local_copy(uri)
        self._open()

    def _open(self) -> None:
        try:
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            rows = self.conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError as exc:
            raise LukeError(f"{self.uri}: not {self.DESCRIPTION} ({exc})") from None
        self.meta: dict[str, Any] = {k: json.loads(v) for k, v in rows}
        if self.meta.get("kind") != self.KIND:
            raise LukeError(
                f"{self.uri}: not {self.DESCRIPTION} (its kind is {self.meta.get('kind')!r})"
            )
        if self.meta.get("format_version") != self.FORMAT_VERSION:
            raise LukeError(
                f"{self.uri}: {self.DESCRIPTION.split(' ', 1)[1]} format "
                f"{self.meta.get('format_version')}, "
                f"this version reads {self.FORMAT_VERSION}; rebuild it"
            )

    def __getstate__(self) -> dict:
        return {"uri": self.uri, "path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.uri, self.path = state["uri"], state["path"]
        self._open()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
