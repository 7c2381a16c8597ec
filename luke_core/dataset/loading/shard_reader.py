"""Random access to the instances of one memory-mapped shard, as numpy views (no copies)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from luke_core.dataset.format import open_shard
from luke_core.errors import LukeError

_LIST_COLUMNS = ("word_ids", "entity_ids", "entity_starts", "entity_ends")


@dataclass(frozen=True, slots=True)
class RawInstance:
    """One stored instance (int32 views into the shard's memory map)."""

    page_id: int
    word_ids: np.ndarray
    entity_ids: np.ndarray
    entity_starts: np.ndarray
    entity_ends: np.ndarray


@dataclass(frozen=True)
class ItemLimits:
    """What the model built from a dataset's metadata can take of an item."""

    word_vocab_size: int
    max_seq_length: int
    max_entity_length: int
    entity_vocab_size: int
    max_mention_length: int


class _RecordBatchColumns:
    """The offsets and values of each list column of one record batch, checked against the
    limits as a whole when read (once per batch, not per item)."""

    def __init__(self, batch: pa.RecordBatch, limits: ItemLimits | None, first_row: int, source):
        self.page_id = batch.column("page_id").to_numpy(zero_copy_only=False)
        self.lists = {}
        for name in _LIST_COLUMNS:
            column = batch.column(name)
            self.lists[name] = (column.offsets.to_numpy(), column.values.to_numpy())
        if limits is not None:
            found = self._disagreement(limits)
            if found:
                row, problem = found
                raise LukeError(
                    f"{source}: row {first_row + row} {problem}: the shard and the dataset's "
                    "metadata.json disagree"
                )

    def _disagreement(self, limits: ItemLimits) -> tuple[int, str] | None:
        """(row, what) of the first item the model could not take (named here rather than
        failing as an index error deep in the model), or None."""
        word_offsets, words = self.lists["word_ids"]
        entity_offsets, entities = self.lists["entity_ids"]
        starts, ends = self.lists["entity_starts"][1], self.lists["entity_ends"][1]
        words_per_row, entities_per_row = np.diff(word_offsets), np.diff(entity_offsets)
        rows = np.arange(len(words_per_row))
        word_row, entity_row = np.repeat(rows, words_per_row), np.repeat(rows, entities_per_row)
        # per check: the rows it finds, in row order; a row's first failing check names it
        checks = (
            (word_row[words >= limits.word_vocab_size], "holds a word id outside the vocabulary"),
            (rows[words_per_row > limits.max_seq_length - 2],
             "holds {words} words, more than max_seq_length {max_seq_length}"),
            (rows[entities_per_row > limits.max_entity_length],
             "holds {entities} entities, more than max_entity_length"),
            (entity_row[entities >= limits.entity_vocab_size],
             "holds an entity id outside the entity vocabulary"),
            (entity_row[ends - starts > limits.max_mention_length],
             "holds a mention longer than max_mention_length"),
            (entity_row[(starts < 0) | (ends > words_per_row[entity_row])],
             "holds a mention outside its words"),
        )  # fmt: skip
        found = [(int(bad[0]), message) for bad, message in checks if bad.size]
        if not found:
            return None
        row, message = min(found, key=lambda item: item[0])
        return row, message.format(
            words=words_per_row[row],
            entities=entities_per_row[row],
            max_seq_length=limits.max_seq_length,
        )

    def row(self, index: int) -> RawInstance:
        views = []
        for name in _LIST_COLUMNS:
            offsets, values = self.lists[name]
            views.append(values[offsets[index] : offsets[index + 1]])
        return RawInstance(int(self.page_id[index]), *views)


class ShardReader:
    """`instance(offset)` for offsets 0..items-1 of one shard file."""

    def __init__(self, path: str, *, source: str, items: int, limits: ItemLimits | None = None):
        self.source = source
        self.limits = limits
        self._reader = open_shard(path)
        rows = [self._reader.get_batch(i).num_rows for i in range(self._reader.num_record_batches)]
        if sum(rows) != items:
            raise LukeError(f"{source}: holds {sum(rows)} items, the metadata says {items}")
        self._batch_starts = np.cumsum([0, *rows])
        self._batches: dict[int, _RecordBatchColumns] = {}

    def instance(self, offset: int) -> RawInstance:
        index = int(np.searchsorted(self._batch_starts, offset, side="right")) - 1
        columns = self._batches.get(index)
        if columns is None:
            columns = self._batches[index] = _RecordBatchColumns(
                self._reader.get_batch(index),
                self.limits,
                int(self._batch_starts[index]),
                self.source,
            )
        return columns.row(offset - int(self._batch_starts[index]))
