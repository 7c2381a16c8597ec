"""The dataset directories a loader reads: found, checked and compared before training starts.

Every problem is a `LukeError` naming the directory: no `metadata.json` (an unfinished build),
metadata that contradicts itself or the files, a shard missing, or directories that cannot be
mixed (different lengths, tokenizers or entity vocabularies).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass

from luke_core import storage
from luke_core.dataset.format import TOKENIZER_DIR, DatasetMetadata, load_metadata
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

# Fields that must agree between mixed directories: the model is built from them.
MIXING_FIELDS = (
    "max_seq_length",
    "max_entity_length",
    "max_mention_length",
    "tokenizer_class",
    "tokenizer_sha256",
    "word_vocab_size",
    "entity_vocab_size",
    "entity_vocab_sha256",
)


@dataclass(frozen=True)
class DatasetSource:
    """One dataset directory: its URI, metadata and content fingerprint."""

    uri: str
    metadata: DatasetMetadata

    @property
    def fingerprint(self) -> str:
        """Identifies the content whatever the URI (local copy or s3://)."""
        digest = hashlib.sha256()
        for shard in self.metadata.shards:
            digest.update(f"{shard.name}:{shard.items}:{shard.sha256}\n".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class DatasetInfo:
    """What the trainer checks against its model: shared by all the mixed directories."""

    max_seq_length: int
    max_entity_length: int
    max_mention_length: int
    tokenizer_class: str
    tokenizer_sha256: str
    word_vocab_size: int
    entity_vocab_size: int
    entity_vocab_sha256: str
    languages: tuple[str | None, ...]
    number_of_items: int


def open_sources(dataset_dirs: list[str]) -> list[DatasetSource]:
    """Expand globs, load and check every directory, and check that they can be mixed."""
    if not dataset_dirs:
        raise LukeError("no dataset directory given")
    uris = [uri.rstrip("/") for uri in storage.expand(dataset_dirs, what="dataset directory")]
    seen: set[str] = set()
    for uri in uris:
        if uri in seen:
            raise LukeError(f"{uri}: dataset directory given twice")
        seen.add(uri)
    sources = [_open_source(uri) for uri in uris]
    for source in sources[1:]:
        _check_mixable(sources[0], source)
    first_with: dict[str, str] = {}
    for source in sources:
        same = first_with.setdefault(source.fingerprint, source.uri)
        if same != source.uri:  # a second path to it, or a copy: it would count twice
            raise LukeError(f"{source.uri}: the same dataset as {same}, given twice")
    return sources


def _open_source(uri: str) -> DatasetSource:
    metadata = load_metadata(uri)
    if metadata.number_of_items <= 0:
        raise LukeError(f"{uri}: the dataset holds no items")
    for name in ("max_seq_length", "max_entity_length", "max_mention_length"):
        if getattr(metadata, name) <= 0:
            raise LukeError(f"{uri}: inconsistent metadata: {name} is {getattr(metadata, name)}")
    names = [shard.name for shard in metadata.shards]
    if len(set(names)) != len(names) or any("/" in n or n.startswith(".") for n in names):
        raise LukeError(f"{uri}: inconsistent metadata: shard names repeat or are not plain")
    present = {storage.basename(path) for path in storage.list_files(uri)}
    missing = [name for name in names if name not in present]
    if missing:
        raise LukeError(
            f"{uri}: shard {missing[0]} is listed in metadata.json but missing "
            f"({len(missing)} of {len(names)} shards missing)"
        )
    return DatasetSource(uri, metadata)


def _check_mixable(first: DatasetSource, other: DatasetSource) -> None:
    for name in MIXING_FIELDS:
        a, b = getattr(first.metadata, name), getattr(other.metadata, name)
        if a != b:
            raise LukeError(
                f"{other.uri}: cannot be mixed with {first.uri}: {name} is {b!r} there, "
                f"{a!r} here; mixed datasets must share lengths, tokenizer and vocabularies"
            )


def dataset_info(sources: list[DatasetSource]) -> DatasetInfo:
    first = sources[0].metadata
    return DatasetInfo(
        **{name: getattr(first, name) for name in MIXING_FIELDS},
        languages=tuple(source.metadata.language for source in sources),
        number_of_items=sum(source.metadata.number_of_items for source in sources),
    )


def load_tokenizer(source: DatasetSource):
    """The tokenizer saved beside the shards (`tokenizer/`), checked against the metadata."""
    from transformers import AutoTokenizer

    uri = storage.join(source.uri, TOKENIZER_DIR)
    with tempfile.TemporaryDirectory(prefix="luke-tokenizer-") as scratch:
        if storage.is_s3(uri):
            if not storage.download_dir(uri, scratch):
                raise LukeError(f"{uri}: the dataset's tokenizer folder is missing")
            local = scratch
        else:
            local = uri
            if not os.path.isdir(local):
                raise LukeError(f"{uri}: the dataset's tokenizer folder is missing")
        try:
            tokenizer = AutoTokenizer.from_pretrained(local)
        except (OSError, ValueError) as exc:
            raise LukeError(f"{uri}: cannot load the dataset's tokenizer ({exc})") from None
    expected = source.metadata.word_vocab_size
    if expected not in (len(tokenizer), tokenizer.vocab_size):
        raise LukeError(
            f"{uri}: the tokenizer has {len(tokenizer)} ids, the dataset's metadata says "
            f"word_vocab_size {expected}"
        )
    for name in ("cls_token_id", "sep_token_id", "pad_token_id", "mask_token_id"):
        if getattr(tokenizer, name) is None:
            raise LukeError(f"{uri}: the tokenizer has no {name.removesuffix('_id')}")
    return tokenizer
