"""`luke inspect PATH`: print what any artifact of the pipeline holds, as JSON.

The artifact's kind is sniffed from its content (an SQLite file's `meta` table, a
directory's `metadata.json`, a vocabulary's lines); the kind picks the describing
function of the step that made it. Step modules are imported only when needed."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass

import click

from luke_core import storage
from luke_core.errors import LukeError

SQLITE_MAGIC = b"SQLite format 3\x00"

# kind -> "module:function"; the function takes (uri, InspectOptions) and returns a dict.
DESCRIBERS = {
    "dump_db": "luke_core.dump_db.database:describe_dump_db",
    "dataset": "luke_core.dataset.describe:describe_dataset",
    "interwiki_db": "luke_core.entity_vocab.interwiki_db:describe_interwiki_db",
    "entity_vocab": "luke_core.entity_vocab.vocab:describe_entity_vocab",
    "pretraining_run": "luke_core.training.run_files:describe_pretraining_run",
    "huggingface_model": "luke_core.export.describe:describe_huggingface_model",
}


@dataclass(frozen=True, kw_only=True)
class InspectOptions:
    page: str | None = None
    title: str | None = None
    language: str | None = None
    items: int = 3
    top: int = 10


def artifact_kind(uri: str) -> str:
    """The kind of artifact at `uri`, as recorded in it."""
    if not storage.exists(uri):
        raise LukeError(f"{uri}: no such file or directory")
    if storage.is_file(uri):
        with storage.open_input(uri) as f:
            head = f.read(len(SQLITE_MAGIC))
        if head == SQLITE_MAGIC:
            return _sqlite_kind(uri)
        return _file_kind(uri, head)
    metadata_uri = storage.join(uri, "metadata.json")
    if not storage.is_file(metadata_uri):
        if _is_luke_huggingface_model(uri):
            return "huggingface_model"
        raise LukeError(f"{uri}: a directory without metadata.json is no artifact of ours")
    kind = storage.read_json(metadata_uri).get("kind")
    if not kind:
        raise LukeError(f"{metadata_uri}: has no 'kind' field")
    return kind


def _is_luke_huggingface_model(uri: str) -> bool:
    """An exported model folder: config.json (no metadata.json) of model_type "luke"."""
    config_uri = storage.join(uri, "config.json")
    if not storage.is_file(config_uri):
        return False
    config = storage.read_json(config_uri)
    return isinstance(config, dict) and config.get("model_type") == "luke"


def _sqlite_kind(uri: str) -> str:
    import sqlite3

    path = storage.local_copy(uri)
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'kind'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise LukeError(f"{uri}: an SQLite file, but not one of ours ({exc})") from None
    if row is None:
        raise LukeError(f"{uri}: an SQLite file without a 'kind' in its meta table")
    return json.loads(row[0])


def _file_kind(uri: str, head: bytes) -> str:
    name = storage.basename(uri)
    if name.endswith((".jsonl", ".tsv")) or (name.endswith(".json") and head.startswith(b"{")):
        return "entity_vocab"
    raise LukeError(f"{uri}: not an artifact luke knows how to inspect")


def describe(uri: str, options: InspectOptions) -> dict:
    kind = artifact_kind(uri)
    if kind not in DESCRIBERS:
        raise LukeError(f"{uri}: artifacts of kind {kind!r} cannot be inspected yet")
    module_name, func_name = DESCRIBERS[kind].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return {"kind": kind, "uri": uri, **func(uri, options)}


@click.command("inspect")
@click.argument("path")
@click.option("--page", help="Dump database: print this page (redirects followed).")
@click.option("--title", help="Interwiki database: the item of this title (with --language).")
@click.option("--language", help="Language of --title.")
@click.option("--items", default=3, show_default=True, help="Dataset: instances to decode.")
@click.option("--top", default=10, show_default=True, help="Vocabulary: top entries to list.")
def inspect_command(path, page, title, language, items, top) -> None:
    """Print an artifact's counts and metadata (and optionally some content) as JSON."""
    from luke_core.cli import echo_json

    options = InspectOptions(page=page, title=title, language=language, items=items, top=top)
    echo_json(describe(path, options))


commands = [inspect_command]
