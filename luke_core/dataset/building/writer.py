"""`ShardWriter`: instances, in the order they come, into Arrow IPC shards of a fixed
number of items (the last shard holds the rest), each cut into record batches of
`format.ROWS_PER_BATCH` rows as `format.write_shard` does.

The shards' bytes depend only on the sequence of instances, not on how it was cut into
the pieces given to `add`: that is what makes the build's output independent of the
number of processes."""

from __future__ import annotations

import os

import pyarrow as pa

from luke_core.dataset.building.columns import InstanceColumns
from luke_core.dataset.format import ROWS_PER_BATCH, SCHEMA, ShardInfo, file_sha256, shard_name


class ShardWriter:
    def __init__(self, directory: str, items_per_shard: int):
        if items_per_shard < 1:
            raise ValueError(f"items per shard must be at least 1, not {items_per_shard}")
        self.directory = directory
        self.items_per_shard = items_per_shard
        self.shards: list[ShardInfo] = []
        self._pending: list[InstanceColumns] = []
        self._pending_rows = 0
        self._sink: pa.OSFile | None = None
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._rows_in_shard = 0

    @property
    def items(self) -> int:
        return sum(s.items for s in self.shards) + self._rows_in_shard + self._pending_rows

    def add(self, columns: InstanceColumns) -> None:
        if len(columns):
            self._pending.append(columns)
            self._pending_rows += len(columns)
        while self._pending_rows >= self._next_batch_rows():
            self._write_batch(self._next_batch_rows())

    def close(self) -> list[ShardInfo]:
        """Write what is left and finish the last shard; returns all shards."""
        while self._pending_rows:
            self._write_batch(min(self._pending_rows, self._next_batch_rows()))
        self._finish_shard()
        return self.shards

    def _next_batch_rows(self) -> int:
        return min(ROWS_PER_BATCH, self.items_per_shard - self._rows_in_shard)

    def _write_batch(self, rows: int) -> None:
        pending = InstanceColumns.concat(self._pending)
        batch, rest = pending.slice(0, rows), pending.slice(rows, len(pending))
        self._pending = [rest] if len(rest) else []
        self._pending_rows = len(rest)
        if self._writer is None:
            path = os.path.join(self.directory, shard_name(len(self.shards)))
            self._sink = pa.OSFile(path, "wb")
            self._writer = pa.ipc.new_file(self._sink, SCHEMA)
        self._writer.write_batch(batch.to_record_batch())
        self._rows_in_shard += rows
        if self._rows_in_shard == self.items_per_shard:
            self._finish_shard()

    def _finish_shard(self) -> None:
        if self._writer is None:
            return
        assert self._sink is not None
        self._writer.close()
        self._sink.close()
        path = os.path.join(self.directory, shard_name(len(self.shards)))
        info = ShardInfo(
            os.path.basename(path), self._rows_in_shard, os.path.getsize(path), file_sha256(path)
        )
        self.shards.append(info)
        self._writer = self._sink = None
        self._rows_in_shard = 0
