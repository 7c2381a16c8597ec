"""The pretraining dataset on disk: the contract between the builder and the loader.

A dataset directory holds:
- `shard-00000.arrow`, ...: Arrow IPC files (pyarrow, uncompressed so the loader can
  memory-map them), one record batch per `ROWS_PER_BATCH` instances, with the columns of
  `SCHEMA`. A mention is stored as its token span `[start, end)` in `word_ids` (0-based, no
  CLS/SEP, `end - start <= max_mention_length`): the loader expands it to the reference's
  position-id rows (n_entities x max_mention_length, +1 for CLS, padded with -1).
- `metadata.json`: `DatasetMetadata` (written last: the directory's completion marker).
- `entity_vocab.jsonl` and `tokenizer/` (the tokenizer's files) beside them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from luke_core import storage
from luke_core.errors import LukeError

KIND = "dataset"
FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
EARLIER_DATASET = storage.EarlierOutput(METADATA_FILE, "kind", KIND, "a dataset directory")
ENTITY_VOCAB_FILE = "entity_vocab.jsonl"
TOKENIZER_DIR = "tokenizer"
ROWS_PER_BATCH = 1024

SCHEMA = pa.schema(
    [
        ("page_id", pa.int32()),
        ("word_ids", pa.list_(pa.int32())),
        ("entity_ids", pa.list_(pa.int32())),
        ("entity_starts", pa.list_(pa.int32())),
        ("entity_ends", pa.list_(pa.int32())),
    ]
)


@dataclass(frozen=True, slots=True)
class Instance:
    """One training sequence, as the builder emits it and a shard stores it."""

    page_id: int
    word_ids: Sequence[int]
    entity_ids: Sequence[int]
    entity_starts: Sequence[int]
    entity_ends: Sequence[int]


@dataclass(frozen=True)
class ShardInfo:
    name: str
    items: int
    bytes: int
    sha256: str


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.arrow"


def write_shard(path: str, instances: Iterable[Instance]) -> ShardInfo:
    """Write instances to a local Arrow IPC file; returns its name, size and checksum."""
    items = 0
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        batch: list[Instance] = []
        for instance in instances:
            batch.append(instance)
            if len(batch) == ROWS_PER_BATCH:
                writer.write_batch(_record_batch(batch))
                items += len(batch)
                batch = []
        if batch:
            writer.write_batch(_record_batch(batch))
            items += len(batch)
    return ShardInfo(os.path.basename(path), items, os.path.getsize(path), file_sha256(path))


def _record_batch(instances: list[Instance]) -> pa.RecordBatch:
    columns = {name: [getattr(i, name) for i in instances] for name in SCHEMA.names}
    return pa.RecordBatch.from_pydict(columns, schema=SCHEMA)


def open_shard(path: str) -> pa.ipc.RecordBatchFileReader:
    """Memory-map a local shard for random access by record batch."""
    try:
        reader = pa.ipc.open_file(pa.memory_map(path, "r"))
    except (pa.ArrowInvalid, OSError) as exc:
        raise LukeError(f"{path}: not a dataset shard ({exc})") from None
    if not reader.schema.equals(SCHEMA):
        raise LukeError(f"{path}: shard columns {reader.schema.names}, expected {SCHEMA.names}")
    return reader


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class DatasetMetadata:
    """`metadata.json` of a dataset directory (field names follow the reference's)."""

    number_of_items: int
    max_seq_length: int
    max_entity_length: int
    max_mention_length: int
    min_sentence_length: int
    tokenizer_class: str
    tokenizer_name: str
    language: str | None
    entity_vocab_size: int
    word_vocab_size: int
    shards: tuple[ShardInfo, ...]
    tokenizer_sha256: str = ""
    """Of the tokenizer's vocabulary: the same tokenizer whatever path or name it had."""
    entity_vocab_sha256: str = ""
    """Of `entity_vocab.jsonl`: mixed datasets must mean the same entity by an id."""
    build_options: dict[str, Any] = field(default_factory=dict)
    """The options as given, defaults resolved, and the inputs by name."""
    summary: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    """What the dataset was built from (`luke_core.reuse.Recipe`): what `--reuse` compares."""
    kind: str = KIND
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any], source: str) -> DatasetMetadata:
        if obj.get("kind") != KIND:
            raise LukeError(f"{source}: not a dataset's metadata (kind {obj.get('kind')!r})")
        if obj.get("format_version") != FORMAT_VERSION:
            raise LukeError(
                f"{source}: dataset format {obj.get('format_version')}, this version reads "
                f"{FORMAT_VERSION}; rebuild the dataset"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            shards = tuple(ShardInfo(**s) for s in obj["shards"])
            meta = cls(**{**{k: v for k, v in obj.items() if k in names}, "shards": shards})
        except (KeyError, TypeError) as exc:
            raise LukeError(f"{source}: incomplete dataset metadata ({exc})") from None
        if sum(s.items for s in meta.shards) != meta.number_of_items:
            raise LukeError(
                f"{source}: inconsistent metadata: the shards hold "
                f"{sum(s.items for s in meta.shards)} items, number_of_items says "
                f"{meta.number_of_items}"
            )
        return meta


def tokenizer_sha256(tokenizer) -> str:
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    return hashlib.sha256(json.dumps(vocabulary, ensure_ascii=False).encode()).hexdigest()


def load_metadata(dataset_dir: str) -> DatasetMetadata:
    """Read and check a dataset directory's metadata (local or s3://)."""
    uri = storage.join(dataset_dir, METADATA_FILE)
    if not storage.is_file(uri):
        raise LukeError(f"{dataset_dir}: not a finished dataset directory (no {METADATA_FILE})")
    return DatasetMetadata.from_json(storage.read_json(uri), uri)
