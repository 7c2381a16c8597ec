"""`luke inspect DATASET_DIR [--items N]` and `luke compute-total-training-steps`: what a
dataset directory holds, read from its metadata and its first instances."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

from luke_core import storage
from luke_core.dataset.format import (
    ENTITY_VOCAB_FILE,
    TOKENIZER_DIR,
    load_metadata,
    open_shard,
)
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError


def compute_total_training_steps(
    dataset_dirs: str | Sequence[str], train_batch_size: int, num_epochs: int
) -> int:
    """ceil(items / train_batch_size * num_epochs) over the dataset directories (globs
    allowed, local or s3://), from their metadata alone; exact integer arithmetic."""
    if train_batch_size < 1:
        raise LukeError(f"train batch size must be at least 1, not {train_batch_size}")
    if num_epochs < 1:
        raise LukeError(f"number of epochs must be at least 1, not {num_epochs}")
    dirs = storage.expand(dataset_dirs, what="dataset directory")
    items = sum(load_metadata(d).number_of_items for d in dirs)
    return total_training_steps(items, train_batch_size, num_epochs)


def total_training_steps(number_of_items: int, train_batch_size: int, num_epochs: int) -> int:
    """The reference's compute-total-training-steps: ceil(items / batch * epochs)."""
    return -(-number_of_items * num_epochs // train_batch_size)  # exact integer ceiling


def describe_dataset(uri: str, options) -> dict[str, Any]:
    """The metadata and the first `options.items` instances decoded: the words as text,
    each entity with its title and the text its positions cover."""
    metadata = load_metadata(uri)
    out: dict[str, Any] = {"metadata": metadata.to_json()}
    count = max(0, options.items)
    if count == 0 or not metadata.shards:
        return out
    vocab = EntityVocab.load(storage.join(uri, ENTITY_VOCAB_FILE))
    with tempfile.TemporaryDirectory(prefix="luke-inspect-") as scratch:
        tokenizer = _load_dataset_tokenizer(uri, scratch)
        rows = _first_rows(uri, [s.name for s in metadata.shards], count)
        out["instances"] = [_decode(row, tokenizer, vocab, metadata.language) for row in rows]
    return out


def _load_dataset_tokenizer(uri: str, scratch: str):
    from transformers import AutoTokenizer

    source = storage.join(uri, TOKENIZER_DIR)
    if storage.is_s3(uri):
        storage.download_dir(source, os.path.join(scratch, TOKENIZER_DIR))
        source = os.path.join(scratch, TOKENIZER_DIR)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise LukeError(f"{source}: cannot load the dataset's tokenizer ({exc})") from None


def _first_rows(uri: str, shard_names: list[str], count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in shard_names:
        reader = open_shard(storage.local_copy(storage.join(uri, name)))
        for i in range(reader.num_record_batches):
            rows.extend(reader.get_batch(i).slice(0, count - len(rows)).to_pylist())
            if len(rows) >= count:
                return rows
    return rows


def _decode(row: dict[str, Any], tokenizer, vocab: EntityVocab, language: str | None) -> dict:
    words = row["word_ids"]
    entities = []
    for entity_id, start, end in zip(
        row["entity_ids"], row["entity_starts"], row["entity_ends"], strict=True
    ):
        entities.append(
            {
                "id": entity_id,
                "title": vocab.get_title(entity_id, language),
                "positions": [start, end],
                "text": tokenizer.decode(words[start:end]).strip(),
            }
        )
    page_id = row["page_id"]
    return {
        "page_id": page_id,
        "page_title": vocab.get_title(page_id, language) if page_id >= 0 else None,
        "num_words": len(words),
        "text": tokenizer.decode(words),
        "entities": entities,
    }
