"""`ShardWriter` and `InstanceColumns`: shards as `format.write_shard` lays them out, the
same bytes however the instances arrive."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from luke_core.dataset import format as dataset_format
from luke_core.dataset.building import writer as writer_module
from luke_core.dataset.building.columns import InstanceColumns
from luke_core.dataset.building.writer import ShardWriter
from luke_core.dataset.format import Instance, open_shard, write_shard


def instances(count: int, seed: int = 0) -> list[Instance]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        words = rng.integers(0, 50_000, rng.integers(5, 40)).tolist()
        entities = int(rng.integers(0, 4))
        starts = sorted(rng.integers(0, len(words) - 1, entities).tolist())
        out.append(
            Instance(
                page_id=i - 1,
                word_ids=words,
                entity_ids=rng.integers(1, 900, entities).tolist(),
                entity_starts=starts,
                entity_ends=[s + 1 for s in starts],
            )
        )
    return out


def as_columns(items: list[Instance]) -> InstanceColumns:
    return InstanceColumns.from_lists(
        [i.page_id for i in items],
        [len(i.word_ids) for i in items],
        [w for i in items for w in i.word_ids],
        [len(i.entity_ids) for i in items],
        [e for i in items for e in i.entity_ids],
        [s for i in items for s in i.entity_starts],
        [e for i in items for e in i.entity_ends],
    )


@pytest.fixture
def small_batches(monkeypatch):
    """Record batches of 4 rows, so that a few instances span several batches."""
    monkeypatch.setattr(dataset_format, "ROWS_PER_BATCH", 4)
    monkeypatch.setattr(writer_module, "ROWS_PER_BATCH", 4)


def write_in_pieces(directory, items, cuts, items_per_shard):
    os.makedirs(directory)
    writer = ShardWriter(str(directory), items_per_shard)
    bounds = [0, *cuts, len(items)]
    for start, stop in itertools.pairwise(bounds):
        writer.add(as_columns(items[start:stop]))
    return writer.close()


def test_columns_round_trip_slice_and_concat():
    items = instances(9)
    columns = as_columns(items)
    assert [columns.instance(i) for i in range(9)] == items
    parts = [columns.slice(0, 2), columns.slice(2, 2), columns.slice(2, 7), columns.slice(7, 9)]
    joined = InstanceColumns.concat(parts)
    assert [joined.instance(i) for i in range(9)] == items
    assert len(InstanceColumns.concat([])) == 0


def test_one_shard_equals_write_shard(tmp_path, small_batches):
    items = instances(10)
    reference = write_shard(str(tmp_path / "reference.arrow"), items)
    (shard,) = write_in_pieces(tmp_path / "ours", items, [3, 4, 9], items_per_shard=100)
    ours = (tmp_path / "ours" / shard.name).read_bytes()
    assert ours == (tmp_path / "reference.arrow").read_bytes()
    assert (shard.items, shard.sha256) == (10, reference.sha256)
    reader = open_shard(str(tmp_path / "ours" / shard.name))
    assert [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)] == [4, 4, 2]


def test_shards_of_fixed_size_whatever_the_pieces(tmp_path, small_batches):
    items = instances(23)
    first = write_in_pieces(tmp_path / "a", items, [1, 2, 3, 10, 22], items_per_shard=6)
    second = write_in_pieces(tmp_path / "b", items, [12], items_per_shard=6)
    assert [s.items for s in first] == [6, 6, 6, 5]
    assert first == second
    rows = []
    for shard in first:
        reader = open_shard(str(tmp_path / "a" / shard.name))
        sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
        assert sizes == ([4, 2] if shard.items == 6 else [4, 1])
        rows += reader.read_all().to_pylist()
    assert [Instance(**row) for row in rows] == items


def test_no_instances_no_shard(tmp_path):
    writer = ShardWriter(str(tmp_path), 5)
    writer.add(InstanceColumns.empty())
    assert writer.close() == []
    assert os.listdir(tmp_path) == []
