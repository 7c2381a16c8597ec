"""`PretrainingLoader`: the object the training loop iterates, checkpoints and resumes.

It reads one or more dataset directories (local or s3://), mixes them by size^smoothing,
splits every epoch among ranks and DataLoader workers (see `order.py`), masks in the workers
(`masking.py`) and yields batches in the reference's layout (`batch.py`).

    loader = PretrainingLoader(dirs, batch_size=4, rank=rank, world_size=world, num_workers=2,
                               seed=0, masking=MaskingOptions(), sampling_smoothing=0.7)
    loader.load_state_dict(client_state["data"])          # when resuming
    while loader.epoch < num_epochs:
        for batch in loader:                               # the rest of the current epoch
            ...
            client_state = {"data": loader.state_dict()}   # JSON, same on every rank

`position` counts the batches this rank has been handed in the current epoch; the state
`(epoch, position)` plus the layout it was made with resumes the exact stream. An epoch
finishes when the iteration runs out (then `epoch` + 1, `position` 0).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import torch.utils.data

from luke_core.dataset.loading.cache import ShardCache
from luke_core.dataset.loading.masking import Masker, MaskingOptions, WordTable
from luke_core.dataset.loading.order import EpochLayout
from luke_core.dataset.loading.sources import (
    DatasetInfo,
    dataset_info,
    load_tokenizer,
    open_sources,
)
from luke_core.dataset.loading.stream import BatchStream, StreamPlan, WorkerFailure
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

STATE_VERSION = 1


class PretrainingLoader:
    """Batches of masked pretraining data for one rank; see the module docstring."""

    def __init__(
        self,
        dataset_dirs: list[str],
        *,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        seed: int = 0,
        masking: MaskingOptions | None = None,
        sampling_smoothing: float = 0.7,
        cache_dir: str | None = None,
        cache_max_bytes: int | None = None,
        prefetch_factor: int = 2,
        pin_memory: bool = False,
        multiprocessing_context: str | None = None,
    ):
        _check_arguments(batch_size, rank, world_size, num_workers, seed, sampling_smoothing)
        self.sources = open_sources(dataset_dirs)
        self.info: DatasetInfo = dataset_info(self.sources)
        self.tokenizer = load_tokenizer(self.sources[0])
        self.masking = masking or MaskingOptions()
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.multiprocessing_context = multiprocessing_context
        self.seed = seed
        self.layout = EpochLayout(
            dataset_items=tuple(s.metadata.number_of_items for s in self.sources),
            world_size=world_size,
            workers_per_rank=max(1, num_workers),
            batch_size=batch_size,
            sampling_smoothing=float(sampling_smoothing),
        )
        self._check_layout()
        masker = Masker(
            self.masking, WordTable.from_tokenizer(self.tokenizer), self.info.entity_vocab_size
        )
        self._plan = StreamPlan(
            dataset_uris=tuple(s.uri for s in self.sources),
            shards=tuple(s.metadata.shards for s in self.sources),
            layout=self.layout,
            seed=seed,
            rank=rank,
            masker=masker,
            max_seq_length=self.info.max_seq_length,
            max_entity_length=self.info.max_entity_length,
            max_mention_length=self.info.max_mention_length,
            cache=ShardCache(cache_dir, max_bytes=cache_max_bytes),
        )
        self.epoch = 0
        self.position = 0
        self._log_plan()

    @property
    def num_batches_per_epoch(self) -> int:
        """Batches this rank yields per epoch (the same on every rank)."""
        return self.layout.batches_per_epoch

    def __len__(self) -> int:
        return self.num_batches_per_epoch

    @property
    def items_per_epoch(self) -> int:
        """Items all ranks see together per epoch."""
        return self.layout.items_per_epoch

    @property
    def sampling_probabilities(self) -> dict[str, float]:
        return {s.uri: p for s, p in zip(self.sources, self.layout.probabilities, strict=True)}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        """The batches of the rest of the current epoch; then the next epoch begins."""
        stream = BatchStream(self._plan, epoch=self.epoch, position=self.position)
        workers = self.num_workers
        batches = torch.utils.data.DataLoader(
            stream,
            batch_size=None,
            num_workers=workers,
            prefetch_factor=self.prefetch_factor if workers else None,
            pin_memory=self.pin_memory,
            multiprocessing_context=self.multiprocessing_context if workers else None,
        )
        for batch in batches:
            if isinstance(batch, WorkerFailure):
                raise LukeError(batch.message)
            self.position += 1
            yield batch
        if self.position != self.num_batches_per_epoch:
            raise RuntimeError(
                f"epoch {self.epoch} ended after {self.position} of "
                f"{self.num_batches_per_epoch} batches"
            )
        self.epoch, self.position = self.epoch + 1, 0

    def set_epoch(self, epoch: int) -> None:
        """Start `epoch` from its beginning; a no-op for the current epoch, so that a
        training loop calling it at each epoch start keeps a resumed position."""
        if epoch < 0:
            raise LukeError(f"epoch must be >= 0, got {epoch}")
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable; identical on every rank."""
        epoch, position = self.epoch, self.position
        if position >= self.num_batches_per_epoch:
            epoch, position = epoch + 1, 0
        return {
            "version": STATE_VERSION,
            "epoch": epoch,
            "position": position,
            "layout": self._layout_key(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue where the run that saved `state` stopped. Mid-epoch that needs the same
        layout (ranks, workers per rank, batch size, seed, smoothing, datasets); at an
        epoch boundary the layout may change (the new one starts the epoch afresh)."""
        epoch, position, layout = _parse_state(state)
        changes = _differences(layout, self._layout_key())
        if changes and position > 0:
            raise LukeError(
                f"cannot resume in the middle of epoch {epoch} (batch {position}): the data "
                f"order depends on {', '.join(changes)}, which changed; resume with the old "
                "values or from an epoch boundary"
            )
        if changes:
            logger.warning("data layout changed at the epoch boundary: %s", ", ".join(changes))
        if position > self.num_batches_per_epoch:
            raise LukeError(
                f"state position {position} is beyond the epoch's "
                f"{self.num_batches_per_epoch} batches"
            )
        if position == self.num_batches_per_epoch:
            epoch, position = epoch + 1, 0
        self.epoch, self.position = epoch, position

    def _layout_key(self) -> dict[str, Any]:
        return {
            "world_size": self.layout.world_size,
            "workers_per_rank": self.layout.workers_per_rank,
            "batch_size": self.layout.batch_size,
            "seed": self.seed,
            "sampling_smoothing": self.layout.sampling_smoothing,
            "datasets": [source.fingerprint for source in self.sources],
        }

    def _check_layout(self) -> None:
        layout = self.layout
        per_round = (
            f"{layout.batch_size} items for each of {layout.readers} readers "
            f"({layout.world_size} ranks x {layout.workers_per_rank} workers)"
        )
        if layout.reader_items == 0:
            raise LukeError(f"{sum(layout.dataset_items)} items in all: fewer than {per_round}")
        for source, items in zip(self.sources, layout.pass_items, strict=True):
            if items == 0:
                raise LukeError(
                    f"{source.uri}: {source.metadata.number_of_items} items: fewer than {per_round}"
                )

    def _log_plan(self) -> None:
        dropped = [
            s.metadata.number_of_items - self.layout.readers * n
            for s, n in zip(self.sources, self.layout.pass_items, strict=True)
        ]
        logger.info(
            "pretraining data: %d dirs, %d items, %d batches of %d per rank per epoch, "
            "%d items left out of each pass, proportions %s",
            len(self.sources),
            self.info.number_of_items,
            self.num_batches_per_epoch,
            self.layout.batch_size,
            sum(dropped),
            {uri: round(p, 4) for uri, p in self.sampling_probabilities.items()},
        )


def _check_arguments(batch_size, rank, world_size, num_workers, seed, smoothing) -> None:
    if batch_size < 1:
        raise LukeError(f"batch_size must be >= 1, got {batch_size}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise LukeError(f"rank {rank} is not within a world of {world_size}")
    if num_workers < 0:
        raise LukeError(f"num_workers must be >= 0, got {num_workers}")
    if not isinstance(seed, int) or seed < 0:
        raise LukeError(f"seed must be a non-negative integer, got {seed!r}")
    if not math.isfinite(smoothing) or smoothing < 0:
        raise LukeError(f"sampling_smoothing must be >= 0, got {smoothing}")


def _parse_state(state: Any) -> tuple[int, int, dict]:
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise LukeError(f"not a data loader state of version {STATE_VERSION}: {state!r}"[:300])
    epoch, position, layout = state.get("epoch"), state.get("position"), state.get("layout")
    if not (isinstance(epoch, int) and isinstance(position, int) and isinstance(layout, dict)):
        raise LukeError(f"incomplete data loader state: {state!r}"[:300])
    if epoch < 0 or position < 0:
        raise LukeError(f"data loader state with a negative epoch or position: {state!r}")
    return epoch, position, layout


def _differences(old: dict, new: dict) -> list[str]:
    return [f"{key} {old.get(key)!r} -> {new[key]!r}" for key in new if old.get(key) != new[key]]
