"""The data order: which stored item each reader takes at each step of an epoch, computed
arithmetically so a run resumes anywhere without touching the items before that point.

Terms:
- reader: one (rank, dataloader worker) pair. With R ranks and W workers per rank there are
  R * W readers; reader `rank * W + w` produces the rank's batches w, w + W, w + 2W, ...
  (the order in which a DataLoader collects them from its workers).
- pass: one shuffled traversal of one dataset directory. Pass p orders the directory's shards
  by a permutation seeded with (seed, dataset, p) and concatenates them; reader s owns the
  contiguous range [s * L, (s + 1) * L) of that sequence, where L = N // (R * W * B) * B:
  every reader gets the same whole number of batches, and the fewer than R * W * B items at
  the end of the pass's order (different ones each pass) are left out of that pass. Within
  its range a reader visits each shard's part in a permuted order seeded with (seed,
  dataset, p, shard, start of the part). So readers never open each other's shards (except
  for the one shard that straddles two readers' ranges), downloads divide among machines,
  and reads stay within one or two shards per dataset at a time. The trade-off against a
  global shuffle: a batch's items come from the few shards a reader is on; the builder
  shuffles pages before writing, so each shard is already a random sample of the corpus.
- stream: a reader's ranges of passes 0, 1, 2, ... of one dataset, end to end.
- epoch: C = sum(N_k) // (R * W * B) * B items per reader (C / B batches per reader, W * C / B
  batches per rank), split among the datasets by `mixing.apportion` quotas q_k; epoch e
  takes items [e * q_k, (e + 1) * q_k) of each stream. With one dataset q = L = C and epoch
  e is exactly pass e: every item once, except the left-out remainder. With several, an
  epoch holds as many items as all the datasets together, in the smoothed proportions: a
  small dataset runs through several passes per epoch, a large one continues its pass in the
  next epoch (no item repeats before its whole dataset has been seen).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from luke_core.dataset.loading.mixing import apportion, interleave, sampling_probabilities

SHARD_ORDER, ITEM_ORDER, MIXING, MASKING = 1, 2, 3, 4


def seeded_rng(*keys: int) -> np.random.Generator:
    """A generator that depends on every key (seed, purpose, ...), never on the process."""
    return np.random.default_rng([int(k) for k in keys])


@dataclass(frozen=True)
class EpochLayout:
    """How an epoch of the datasets divides among readers; identical on every rank."""

    dataset_items: tuple[int, ...]
    world_size: int
    workers_per_rank: int
    batch_size: int
    sampling_smoothing: float

    @property
    def readers(self) -> int:
        return self.world_size * self.workers_per_rank

    @property
    def _round(self) -> int:
        return self.readers * self.batch_size

    @cached_property
    def reader_items(self) -> int:
        """Items each reader takes per epoch (a multiple of the batch size)."""
        return sum(self.dataset_items) // self._round * self.batch_size

    @cached_property
    def pass_items(self) -> tuple[int, ...]:
        """Items each reader takes from one pass of each dataset."""
        return tuple(n // self._round * self.batch_size for n in self.dataset_items)

    @cached_property
    def probabilities(self) -> tuple[float, ...]:
        return tuple(sampling_probabilities(self.dataset_items, self.sampling_smoothing))

    @cached_property
    def quotas(self) -> tuple[int, ...]:
        """Items each reader takes from each dataset per epoch."""
        return tuple(apportion(self.reader_items, self.probabilities))

    @property
    def batches_per_epoch(self) -> int:
        """Batches each rank yields per epoch."""
        return self.workers_per_rank * self.reader_items // self.batch_size

    @property
    def items_per_epoch(self) -> int:
        """Items all ranks together see per epoch."""
        return self.readers * self.reader_items

    def reader(self, rank: int, worker: int) -> int:
        return rank * self.workers_per_rank + worker

    def batches_done(self, position: int, worker: int) -> int:
        """How many of a rank's first `position` batches came from `worker`."""
        return max(0, -(-(position - worker) // self.workers_per_rank))


@dataclass(frozen=True, slots=True)
class ItemRef:
    """A stored item as one reader meets it: dataset, pass, shard (index in the metadata)
    and row within the shard."""

    dataset: int
    pass_index: int
    shard: int
    row: int


class _PassPart:
    """One reader's range of one pass: (shard, first row, end row) pieces in order."""

    def __init__(self, shard_items: np.ndarray, pass_items: int, reader: int, order: np.ndarray):
        bounds = np.concatenate([[0], np.cumsum(shard_items[order])])
        begin, end = reader * pass_items, (reader + 1) * pass_items
        self.pieces: list[tuple[int, int, int]] = []
        j = int(np.searchsorted(bounds, begin, side="right")) - 1
        while j < len(order) and bounds[j] < end:
            lo, hi = max(begin, bounds[j]), min(end, bounds[j + 1])
            if hi > lo:
                self.pieces.append((int(order[j]), int(lo - bounds[j]), int(hi - bounds[j])))
            j += 1
        self.starts = np.cumsum([0] + [hi - lo for _, lo, hi in self.pieces])


class DatasetStream:
    """Stream index -> item, for one reader and one dataset; caches the current pass and
    piece, so sequential access costs a lookup per item."""

    def __init__(
        self, shard_items: Sequence[int], pass_items: int, reader: int, *, seed: int, dataset: int
    ):
        self.shard_items = np.asarray(shard_items, dtype=np.int64)
        self.pass_items = pass_items
        self.reader = reader
        self.seed = seed
        self.dataset = dataset
        self._parts: dict[int, _PassPart] = {}
        self._permutation_key: tuple[int, int] | None = None
        self._permutation = np.empty(0, dtype=np.int64)

    def locate(self, index: int) -> ItemRef:
        pass_index, position = divmod(index, self.pass_items)
        part = self._part(pass_index)
        piece = int(np.searchsorted(part.starts, position, side="right")) - 1
        shard, lo, hi = part.pieces[piece]
        if self._permutation_key != (pass_index, piece):
            rng = seeded_rng(self.seed, ITEM_ORDER, self.dataset, pass_index, shard, lo)
            self._permutation = rng.permutation(hi - lo)
            self._permutation_key = (pass_index, piece)
        row = lo + int(self._permutation[position - part.starts[piece]])
        return ItemRef(self.dataset, pass_index, shard, row)

    def next_shard(self, index: int) -> int:
        """The shard this reader opens after the one holding stream item `index`."""
        pass_index, position = divmod(index, self.pass_items)
        part = self._part(pass_index)
        piece = int(np.searchsorted(part.starts, position, side="right"))
        if piece < len(part.pieces):
            return part.pieces[piece][0]
        return self._part(pass_index + 1).pieces[0][0]

    def _part(self, pass_index: int) -> _PassPart:
        if pass_index not in self._parts:
            if len(self._parts) > 2:
                self._parts.pop(min(self._parts))
            order = seeded_rng(self.seed, SHARD_ORDER, self.dataset, pass_index).permutation(
                len(self.shard_items)
            )
            self._parts[pass_index] = _PassPart(
                self.shard_items, self.pass_items, self.reader, order
            )
        return self._parts[pass_index]


class ReaderPlan:
    """The items one reader takes in one epoch, in order."""

    def __init__(
        self,
        layout: EpochLayout,
        shard_items: Sequence[Sequence[int]],
        *,
        seed: int,
        epoch: int,
        reader: int,
    ):
        self.layout = layout
        self.epoch = epoch
        self.streams = [
            DatasetStream(items, layout.pass_items[k], reader, seed=seed, dataset=k)
            for k, items in enumerate(shard_items)
        ]
        rng = seeded_rng(seed, MIXING, epoch, reader)
        # one byte per item (a label per dataset); None with a single dataset
        self.labels = (
            interleave(layout.quotas, rng).astype(np.uint8 if len(shard_items) < 256 else np.int32)
            if len(shard_items) > 1
            else None
        )

    def items(self, start: int = 0) -> Iterator[tuple[ItemRef, DatasetStream, int]]:
        """(item, its stream, its stream index) for the epoch's items from `start` on."""
        quotas, total = self.layout.quotas, self.layout.reader_items
        if self.labels is None:
            stream = self.streams[0]
            for index in range(self.epoch * total + start, (self.epoch + 1) * total):
                yield stream.locate(index), stream, index
            return
        taken = np.bincount(self.labels[:start], minlength=len(quotas)).tolist()
        for chunk in range(start, total, 4096):
            for label in self.labels[chunk : chunk + 4096].tolist():
                index = self.epoch * quotas[label] + taken[label]
                taken[label] += 1
                stream = self.streams[label]
                yield stream.locate(index), stream, index
