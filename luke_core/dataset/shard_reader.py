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


class _RecordBatchColumns:
    """The offsets and values of each list column of one record batch."""

    def __init__(self, batch: pa.RecordBatch):
        self.page_id = batch.column("page_id").to_numpy(zero_copy_only=False)
        self.lists = {}
        for name in _LIST_COLUMNS:
            column = batch.column(name)
            self.lists[name] = (column.offsets.to_numpy(), column.values.to_numpy())

    def row(self, index: int) -> RawInstance:
        views = []
        for name in _LIST_COLUMNS:
            offsets, values = self.lists[name]
            views.append(values[offsets[index] : offsets[index + 1]])
        return RawInstance(int(self.page_id[index]), *views)


class ShardReader:
    """`instance(offset)` for offsets 0..items-1 of one shard file."""

    def __init__(self, path: str, *, source: str, items: int):
        self.source = source
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
            columns = self._batches[index] = _RecordBatchColumns(self._reader.get_batch(index))
        return columns.row(offset - int(self._batch_starts[index]))
