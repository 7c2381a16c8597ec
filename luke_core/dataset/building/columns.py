"""`InstanceColumns`: many instances as flat numpy columns, the form in which work units
travel from worker processes to the shard writer (cheap to pickle, sliced and joined
without a Python object per instance, turned into an Arrow record batch without copies
of the values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from luke_core.dataset.format import SCHEMA, Instance

_INT = np.int32


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=_INT)
    np.cumsum(lengths, out=out[1:])
    return out


@dataclass(frozen=True)
class InstanceColumns:
    """Rows of the dataset schema: `page_id[i]`; the words of row i are
    `word_ids[word_offsets[i]:word_offsets[i + 1]]`, its entities likewise. Offsets
    always start at 0 and end at the length of their value arrays."""

    page_id: np.ndarray
    word_offsets: np.ndarray
    word_ids: np.ndarray
    entity_offsets: np.ndarray
    entity_ids: np.ndarray
    entity_starts: np.ndarray
    entity_ends: np.ndarray

    def __len__(self) -> int:
        return len(self.page_id)

    @classmethod
    def empty(cls) -> InstanceColumns:
        return cls.from_lists([], [], [], [], [], [], [])

    @classmethod
    def from_lists(
        cls,
        page_ids: Sequence[int],
        word_lengths: Sequence[int],
        word_ids: Sequence[int],
        entity_counts: Sequence[int],
        entity_ids: Sequence[int],
        entity_starts: Sequence[int],
        entity_ends: Sequence[int],
    ) -> InstanceColumns:
        return cls(
            page_id=np.asarray(page_ids, dtype=_INT),
            word_offsets=_offsets(np.asarray(word_lengths, dtype=_INT)),
            word_ids=np.asarray(word_ids, dtype=_INT),
            entity_offsets=_offsets(np.asarray(entity_counts, dtype=_INT)),
            entity_ids=np.asarray(entity_ids, dtype=_INT),
            entity_starts=np.asarray(entity_starts, dtype=_INT),
            entity_ends=np.asarray(entity_ends, dtype=_INT),
        )

    @classmethod
    def concat(cls, parts: Sequence[InstanceColumns]) -> InstanceColumns:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts])

        return cls.from_lists(
            joined("page_id"),
            np.concatenate([np.diff(p.word_offsets) for p in parts]),
            joined("word_ids"),
            np.concatenate([np.diff(p.entity_offsets) for p in parts]),
            joined("entity_ids"),
            joined("entity_starts"),
            joined("entity_ends"),
        )

    def slice(self, start: int, stop: int) -> InstanceColumns:
        """Rows [start, stop): views, offsets rebased to 0."""
        words = self.word_offsets[start : stop + 1]
        entities = self.entity_offsets[start : stop + 1]
        return InstanceColumns(
            page_id=self.page_id[start:stop],
            word_offsets=words - words[0],
            word_ids=self.word_ids[words[0] : words[-1]],
            entity_offsets=entities - entities[0],
            entity_ids=self.entity_ids[entities[0] : entities[-1]],
            entity_starts=self.entity_starts[entities[0] : entities[-1]],
            entity_ends=self.entity_ends[entities[0] : entities[-1]],
        )

    def to_record_batch(self) -> pa.RecordBatch:
        words = pa.array(self.word_offsets, pa.int32())
        entities = pa.array(self.entity_offsets, pa.int32())
        return pa.RecordBatch.from_arrays(
            [
                pa.array(self.page_id, pa.int32()),
                pa.ListArray.from_arrays(words, pa.array(self.word_ids, pa.int32())),
                pa.ListArray.from_arrays(entities, pa.array(self.entity_ids, pa.int32())),
                pa.ListArray.from_arrays(entities, pa.array(self.entity_starts, pa.int32())),
                pa.ListArray.from_arrays(entities, pa.array(self.entity_ends, pa.int32())),
            ],
            schema=SCHEMA,
        )

    def instance(self, i: int) -> Instance:
        w0, w1 = self.word_offsets[i], self.word_offsets[i + 1]
        e0, e1 = self.entity_offsets[i], self.entity_offsets[i + 1]
        return Instance(
            page_id=int(self.page_id[i]),
            word_ids=self.word_ids[w0:w1].tolist(),
            entity_ids=self.entity_ids[e0:e1].tolist(),
            entity_starts=self.entity_starts[e0:e1].tolist(),
            entity_ends=self.entity_ends[e0:e1].tolist(),
        )
