"""Masked instances -> one batch in the reference's layout (see docs/architecture.md).

Words are padded to the batch's longest sequence + 2 (CLS, SEP) with the tokenizer's pad id,
entities to the batch's largest entity count (at least 1) with id 0; a mention's token span
[start, end) becomes a row of `max_mention_length` position ids shifted by one for CLS and
padded with -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from luke_core.dataset.loading.masking import MaskedInstance

BATCH_KEYS = (
    "word_ids",
    "word_segment_ids",
    "word_attention_mask",
    "masked_lm_labels",
    "entity_ids",
    "entity_position_ids",
    "entity_segment_ids",
    "entity_attention_mask",
    "masked_entity_labels",
    "page_id",
)


@dataclass(frozen=True, eq=False)
class LoadedItem:
    """A masked instance with what the batch needs from the stored one."""

    masked: MaskedInstance
    entity_starts: np.ndarray
    entity_ends: np.ndarray
    page_id: int


def mention_positions(starts: np.ndarray, ends: np.ndarray, max_mention_length: int) -> np.ndarray:
    """(n_entities, max_mention_length): positions start+1 .. end (CLS shift), then -1."""
    offsets = np.arange(max_mention_length)
    positions = starts.astype(np.int64)[:, None] + offsets[None, :]
    return np.where(positions < ends[:, None], positions + 1, -1)


def build_batch(items: list[LoadedItem], *, pad_id: int, max_mention_length: int) -> dict:
    """A dict of long tensors (keys `BATCH_KEYS`) for `items`."""
    size = len(items)
    words = max(len(item.masked.word_ids) for item in items)
    entities = max(1, max(len(item.masked.entity_ids) for item in items))
    out = {
        "word_ids": np.full((size, words), pad_id, dtype=np.int64),
        "word_attention_mask": np.zeros((size, words), dtype=np.int64),
        "masked_lm_labels": np.full((size, words), -1, dtype=np.int64),
        "entity_ids": np.zeros((size, entities), dtype=np.int64),
        "entity_position_ids": np.full((size, entities, max_mention_length), -1, dtype=np.int64),
        "entity_attention_mask": np.zeros((size, entities), dtype=np.int64),
        "masked_entity_labels": np.full((size, entities), -1, dtype=np.int64),
        "page_id": np.array([item.page_id for item in items], dtype=np.int64),
    }
    for b, item in enumerate(items):
        n, m = len(item.masked.word_ids), len(item.masked.entity_ids)
        out["word_ids"][b, :n] = item.masked.word_ids
        out["word_attention_mask"][b, :n] = 1
        out["masked_lm_labels"][b, :n] = item.masked.masked_lm_labels
        out["entity_ids"][b, :m] = item.masked.entity_ids
        out["entity_position_ids"][b, :m] = mention_positions(
            item.entity_starts, item.entity_ends, max_mention_length
        )
        out["entity_attention_mask"][b, :m] = 1
        out["masked_entity_labels"][b, :m] = item.masked.masked_entity_labels
    out["word_segment_ids"] = np.zeros((size, words), dtype=np.int64)
    out["entity_segment_ids"] = np.zeros((size, entities), dtype=np.int64)
    return {key: torch.from_numpy(out[key]) for key in BATCH_KEYS}
