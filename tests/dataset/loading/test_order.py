"""The data order's arithmetic (luke_core/dataset/loading/order.py) on uneven and empty shards."""

from __future__ import annotations

from luke_core.dataset.loading.order import DatasetStream, EpochLayout

SHARDS = [5, 0, 17, 1, 30, 8]  # 61 items


def test_a_pass_gives_each_reader_a_contiguous_run_of_distinct_items():
    layout = EpochLayout(
        (sum(SHARDS),), world_size=3, workers_per_rank=1, batch_size=2, sampling_smoothing=0.7
    )
    assert layout.pass_items == (20,) and layout.items_per_epoch == 60
    for pass_index in range(3):
        seen = []
        for reader in range(3):
            stream = DatasetStream(SHARDS, 20, reader, seed=7, dataset=0)
            refs = [stream.locate(pass_index * 20 + i) for i in range(20)]
            assert {r.pass_index for r in refs} == {pass_index}
            # shards appear in one run each (a reader never comes back to a shard)
            order = [r.shard for r in refs]
            runs = [s for i, s in enumerate(order) if i == 0 or order[i - 1] != s]
            assert len(runs) == len(set(runs))
            seen += [(r.shard, r.row) for r in refs]
        assert len(set(seen)) == 60
        assert all(0 <= row < SHARDS[shard] for shard, row in seen)


def test_next_shard_is_the_shard_read_after_the_current_one():
    stream = DatasetStream(SHARDS, 20, 1, seed=3, dataset=0)
    refs = [stream.locate(i) for i in range(100)]
    for i, ref in enumerate(refs[:-20]):
        following = next(
            r for r in refs[i + 1 :] if (r.pass_index, r.shard) != (ref.pass_index, ref.shard)
        )
        assert stream.next_shard(i) == following.shard


def test_batches_done_per_worker():
    layout = EpochLayout(
        (1000,), world_size=1, workers_per_rank=3, batch_size=4, sampling_smoothing=0.7
    )
    for position in range(12):
        done = [layout.batches_done(position, w) for w in range(3)]
        assert done == [sum(1 for j in range(position) if j % 3 == w) for w in range(3)]
