"""The worker side of the loader: a torch IterableDataset that yields whole batches.

A DataLoader (batch_size=None) collects batches from its W workers in turn: the k-th batch it
yields comes from worker k mod W. Each worker plays the reader role `(worker id + start
position) % W`, so after a resume at position p the first worker asked produces batch p, and
every worker skips its own share of the p batches already consumed
(`EpochLayout.batches_done`) arithmetically, without reading them. Shards are opened on
demand through the `ShardCache` (the next one prefetched in a background thread) and masking
is seeded per item, so a batch depends only on (seed, epoch, position) and the layout, never
on timing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch.utils.data

from luke_core import storage
from luke_core.dataset.format import ShardInfo
from luke_core.dataset.loading.batch import LoadedItem, build_batch
from luke_core.dataset.loading.cache import ShardCache
from luke_core.dataset.loading.masking import Masker
from luke_core.dataset.loading.order import (
    MASKING,
    DatasetStream,
    EpochLayout,
    ItemRef,
    ReaderPlan,
    seeded_rng,
)
from luke_core.dataset.loading.shard_reader import ItemLimits, ShardReader
from luke_core.errors import LukeError


@dataclass(frozen=True, eq=False)
class StreamPlan:
    """Everything a worker needs (pickled into it): small, no open files or clients."""

    dataset_uris: tuple[str, ...]
    shards: tuple[tuple[ShardInfo, ...], ...]
    layout: EpochLayout
    seed: int
    rank: int
    masker: Masker
    max_seq_length: int
    max_entity_length: int
    max_mention_length: int
    cache: ShardCache


@dataclass(frozen=True)
class WorkerFailure:
    """A LukeError raised in a worker, sent as a value so the main process can raise it with
    its own message (a DataLoader would wrap it in a worker traceback)."""

    message: str


class BatchStream(torch.utils.data.IterableDataset):
    """The batches of one epoch from `position` on, for one rank."""

    def __init__(self, plan: StreamPlan, *, epoch: int, position: int):
        super().__init__()
        self.plan = plan
        self.epoch = epoch
        self.position = position

    def __iter__(self) -> Iterator[dict | WorkerFailure]:
        layout = self.plan.layout
        info = torch.utils.data.get_worker_info()
        worker_id, workers = (info.id, info.num_workers) if info else (0, 1)
        if workers != layout.workers_per_rank:
            raise RuntimeError(f"layout for {layout.workers_per_rank} workers run by {workers}")
        role = (worker_id + self.position) % workers
        first = layout.batches_done(self.position, role)
        reader = _Reader(self.plan, epoch=self.epoch, role=role)
        try:
            yield from reader.batches(first)
        except LukeError as exc:
            yield WorkerFailure(str(exc))
        finally:
            reader.close()


class _Reader:
    """One reader's epoch: items in plan order, read from shards, masked, batched."""

    def __init__(self, plan: StreamPlan, *, epoch: int, role: int):
        self.plan = plan
        layout = plan.layout
        self.order = ReaderPlan(
            layout,
            [[shard.items for shard in shards] for shards in plan.shards],
            seed=plan.seed,
            epoch=epoch,
            reader=layout.reader(plan.rank, role),
        )
        self.open_shards: dict[int, tuple[int, ShardReader]] = {}  # dataset -> (shard, reader)
        remote = any(storage.is_s3(uri) for uri in plan.dataset_uris)
        self.prefetcher = ThreadPoolExecutor(1) if remote else None
        self.limits = ItemLimits(
            word_vocab_size=len(plan.masker.words.maskable),
            max_seq_length=plan.max_seq_length,
            max_entity_length=plan.max_entity_length,
            entity_vocab_size=plan.masker.entity_vocab_size,
            max_mention_length=plan.max_mention_length,
        )

    def batches(self, first_batch: int) -> Iterator[dict]:
        size = self.plan.layout.batch_size
        items: list[LoadedItem] = []
        for ref, stream, index in self.order.items(first_batch * size):
            items.append(self._load(ref, stream, index))
            if len(items) == size:
                yield build_batch(
                    items,
                    pad_id=self.plan.masker.words.pad_id,
                    max_mention_length=self.plan.max_mention_length,
                )
                items = []

    def _load(self, ref: ItemRef, stream: DatasetStream, index: int) -> LoadedItem:
        raw = self._shard(ref, stream, index).instance(ref.row)
        rng = seeded_rng(self.plan.seed, MASKING, ref.dataset, ref.pass_index, ref.shard, ref.row)
        masked = self.plan.masker(
            raw.word_ids, raw.entity_ids, raw.entity_starts, raw.entity_ends, rng
        )
        return LoadedItem(masked, raw.entity_starts, raw.entity_ends, raw.page_id)

    def _shard(self, ref: ItemRef, stream: DatasetStream, index: int) -> ShardReader:
        current = self.open_shards.get(ref.dataset)
        if current is not None and current[0] == ref.shard:
            return current[1]
        info = self.plan.shards[ref.dataset][ref.shard]
        path = self.plan.cache.local_path(self.plan.dataset_uris[ref.dataset], info)
        reader = ShardReader(path, source=self._uri(ref), items=info.items, limits=self.limits)
        self.open_shards[ref.dataset] = (ref.shard, reader)
        if self.prefetcher is not None:
            self._prefetch(ref.dataset, stream.next_shard(index))
        return reader

    def _prefetch(self, dataset: int, shard: int) -> None:
        uri, info = self.plan.dataset_uris[dataset], self.plan.shards[dataset][shard]

        def fetch() -> None:
            # a failure shows again, as an error, when the shard is opened for real
            with contextlib.suppress(LukeError):
                self.plan.cache.local_path(uri, info)

        self.prefetcher.submit(fetch)

    def _uri(self, ref: ItemRef) -> str:
        name = self.plan.shards[ref.dataset][ref.shard].name
        return storage.join(self.plan.dataset_uris[ref.dataset], name)

    def close(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.shutdown(wait=False, cancel_futures=True)
        self.open_shards.clear()
