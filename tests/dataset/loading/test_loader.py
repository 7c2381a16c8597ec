"""The pretraining loader: every item once per epoch across ranks x workers, the shuffle,
exact resume, and the batch layout, on dataset directories with known contents."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from luke_core.dataset.format import Instance, load_metadata
from luke_core.dataset.loading.loader import PretrainingLoader
from luke_core.dataset.loading.masking import MaskingOptions
from luke_core.errors import LukeError
from luke_testing.pretraining_data import (
    save_tiny_tokenizer,
    synthetic_instances,
    unmasked_instances,
    write_dataset,
)

NO_MASKING = MaskingOptions(masked_lm_prob=0.0, masked_entity_prob=0.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(tokenizer dir, the tokenizer's non-special ids)."""
    path = str(tmp_path_factory.mktemp("tiny-tokenizer"))
    tokenizer = save_tiny_tokenizer(path)
    special = set(tokenizer.all_special_ids)
    return path, [i for i in range(len(tokenizer)) if i not in special]


def make_dataset(path, tiny, count, *, items_per_shard, first_page_id=0, seed=0, **options):
    tokenizer_dir, pool = tiny
    instances = synthetic_instances(
        count, word_ids=pool, rng=np.random.default_rng(seed), first_page_id=first_page_id
    )
    write_dataset(
        str(path),
        instances,
        tokenizer_dir=tokenizer_dir,
        items_per_shard=items_per_shard,
        **options,
    )
    return {instance.page_id: instance for instance in instances}


def check_batch(batch, instances: dict[int, Instance]) -> list[int]:
    """Every row holds exactly its stored instance; returns the page ids."""
    for row in unmasked_instances(batch):
        assert row == instances[row.page_id]
    return batch["page_id"].tolist()


def epoch_batches(loader) -> list[dict]:
    return list(loader)


def test_every_item_once_per_epoch_across_2_ranks_x_2_workers(tmp_path, tiny):
    instances = make_dataset(tmp_path / "ds", tiny, 160, items_per_shard=23)
    by_reader: dict[tuple[int, int], list[int]] = {}
    for rank in (0, 1):
        loader = PretrainingLoader(
            [str(tmp_path / "ds")], batch_size=4, rank=rank, world_size=2, num_workers=2, seed=5
        )
        assert loader.num_batches_per_epoch == 20
        for j, batch in enumerate(loader):
            by_reader.setdefault((rank, j % 2), []).extend(check_batch(batch, instances))
        assert (loader.epoch, loader.position) == (1, 0)
    seen = [page for pages in by_reader.values() for page in pages]
    assert sorted(seen) == sorted(instances)
    # readers own contiguous ranges of the shuffled shards: 40 items over shards of 23
    shards = {reader: {page // 23 for page in pages} for reader, pages in by_reader.items()}
    assert all(len(pages) == 40 for pages in by_reader.values())
    assert all(len(s) <= 3 for s in shards.values())
    assert max(Counter(s for owned in shards.values() for s in owned).values()) <= 2


def test_remainder_is_left_out_and_varies_by_epoch(tmp_path, tiny):
    instances = make_dataset(tmp_path / "ds", tiny, 170, items_per_shard=30)
    loaders = [
        PretrainingLoader(
            [str(tmp_path / "ds")], batch_size=4, rank=rank, world_size=2, num_workers=2, seed=1
        )
        for rank in (0, 1)
    ]
    left_out = []
    for _ in range(3):
        seen = [
            page for loader in loaders for batch in loader for page in batch["page_id"].tolist()
        ]
        assert len(seen) == len(set(seen)) == 160 == loaders[0].items_per_epoch
        left_out.append(frozenset(instances) - set(seen))
    assert len(set(left_out)) > 1


def test_epochs_shuffle_differently_and_a_seed_repeats(tmp_path, tiny):
    make_dataset(tmp_path / "ds", tiny, 96, items_per_shard=16)
    uri = [str(tmp_path / "ds")]
    first = PretrainingLoader(uri, batch_size=4, seed=3)
    again = PretrainingLoader(uri, batch_size=4, seed=3)
    other_seed = PretrainingLoader(uri, batch_size=4, seed=4)
    orders = []
    for _ in range(2):
        a, b, c = epoch_batches(first), epoch_batches(again), epoch_batches(other_seed)
        for x, y in zip(a, b, strict=True):
            assert all(torch.equal(x[key], y[key]) for key in x)
        order = [p for batch in a for p in batch["page_id"].tolist()]
        assert order != [p for batch in c for p in batch["page_id"].tolist()]
        orders.append(order)
    assert orders[0] != orders[1] and sorted(orders[0]) == sorted(orders[1])


def test_masks_depend_on_the_item_not_on_ranks_or_workers(tmp_path, tiny):
    make_dataset(tmp_path / "ds", tiny, 64, items_per_shard=16)
    uri = [str(tmp_path / "ds")]

    def rows(loaders):
        out = {}
        for loader in loaders:
            for batch in loader:
                for b, page in enumerate(batch["page_id"].tolist()):
                    n = int(batch["word_attention_mask"][b].sum())
                    out[page] = (
                        batch["word_ids"][b, :n].tolist(),
                        batch["masked_lm_labels"][b, :n].tolist(),
                        batch["masked_entity_labels"][b].tolist(),
                    )
        return out

    alone = rows([PretrainingLoader(uri, batch_size=4, seed=9)])
    split = rows(
        [
            PretrainingLoader(uri, batch_size=2, rank=r, world_size=2, num_workers=2, seed=9)
            for r in (0, 1)
        ]
    )
    assert alone.keys() == split.keys()
    for page, (words, labels, entity_labels) in alone.items():
        other = split[page]
        assert (words, labels) == other[:2]
        kept = [x for x in entity_labels if x != -1]
        assert kept == [x for x in other[2] if x != -1]


@pytest.mark.parametrize("rank", [0, 1])
def test_exact_resume_with_workers(tmp_path, tiny, rank):
    make_dataset(tmp_path / "ds", tiny, 160, items_per_shard=23)

    def loader():
        return PretrainingLoader(
            [str(tmp_path / "ds")], batch_size=4, rank=rank, world_size=2, num_workers=2, seed=11
        )

    reference = loader()
    epoch0, epoch1, epoch2 = (epoch_batches(reference) for _ in range(3))
    interrupted = loader()
    assert len(epoch_batches(interrupted)) == len(epoch0) == 20
    for taken, _ in enumerate(interrupted, 1):
        if taken == 7:
            break
    state = json.loads(json.dumps(interrupted.state_dict()))
    assert (state["epoch"], state["position"]) == (1, 7)
    resumed = loader()
    resumed.load_state_dict(state)
    resumed.set_epoch(1)  # the current epoch: keeps the position
    rest = epoch_batches(resumed)
    assert len(rest) == 13
    for got, want in zip(rest + epoch_batches(resumed), epoch1[7:] + epoch2, strict=True):
        assert all(torch.equal(got[key], want[key]) for key in want)


def test_resume_does_not_read_what_was_skipped(tmp_path, tiny):
    make_dataset(tmp_path / "ds", tiny, 96, items_per_shard=8)
    uri = [str(tmp_path / "ds")]
    reference = epoch_batches(PretrainingLoader(uri, batch_size=4, seed=2))
    needed = {p // 8 for batch in reference[16:] for p in batch["page_id"].tolist()}
    shards = load_metadata(uri[0]).shards
    assert len(needed) == 4
    for index in set(range(len(shards))) - needed:  # overwrite what resuming must not open
        path = tmp_path / "ds" / shards[index].name
        path.write_bytes(b"\0" * path.stat().st_size)
    resumed = PretrainingLoader(uri, batch_size=4, seed=2)
    resumed.load_state_dict({**resumed.state_dict(), "position": 16})
    for got, want in zip(resumed, reference[16:], strict=True):
        assert all(torch.equal(got[key], want[key]) for key in want)
    with pytest.raises(LukeError, match=r"shard-\d{5}\.arrow: checksum mismatch"):
        list(PretrainingLoader(uri, batch_size=4, seed=2))


def test_state_checks_the_layout(tmp_path, tiny, caplog):
    make_dataset(tmp_path / "ds", tiny, 64, items_per_shard=16)
    uri = [str(tmp_path / "ds")]
    loader = PretrainingLoader(uri, batch_size=4, seed=0)
    for taken, _ in enumerate(loader, 1):
        if taken == 3:
            break
    mid_epoch = loader.state_dict()
    with pytest.raises(LukeError, match="batch_size 4 -> 8"):
        PretrainingLoader(uri, batch_size=8, seed=0).load_state_dict(mid_epoch)
    with pytest.raises(LukeError, match="workers_per_rank 1 -> 2"):
        PretrainingLoader(uri, batch_size=4, num_workers=2).load_state_dict(mid_epoch)
    boundary = {**mid_epoch, "epoch": 2, "position": 0}
    bigger = PretrainingLoader(uri, batch_size=8, seed=0)
    bigger.load_state_dict(boundary)
    assert (bigger.epoch, bigger.position) == (2, 0)
    assert "layout changed" in caplog.text
    with pytest.raises(LukeError, match="beyond"):
        loader.load_state_dict({**mid_epoch, "position": 17})
    for bad in ({}, {"version": 1, "epoch": "1", "position": 0, "layout": {}}, [1, 2]):
        with pytest.raises(LukeError):
            loader.load_state_dict(bad)
    loader.load_state_dict({**mid_epoch, "position": 16})  # a finished epoch
    assert (loader.epoch, loader.position) == (1, 0)
    loader.set_epoch(4)
    assert loader.state_dict()["epoch"] == 4 and loader.state_dict()["position"] == 0


def test_state_after_the_last_batch_points_to_the_next_epoch(tmp_path, tiny):
    make_dataset(tmp_path / "ds", tiny, 32, items_per_shard=16)
    loader = PretrainingLoader([str(tmp_path / "ds")], batch_size=4)
    for taken, _ in enumerate(loader, 1):
        if taken == loader.num_batches_per_epoch:
            break  # the consumer stops before the loader notices the end
    assert (loader.state_dict()["epoch"], loader.state_dict()["position"]) == (1, 0)


def test_batch_layout(tmp_path, tiny):
    tokenizer_dir, _ = tiny
    instances = [
        Instance(100, [10, 11, 12], [5], [0], [2]),
        Instance(101, [20, 21, 22, 23, 24, 25], [6, 7], [1, 3], [2, 6]),
        Instance(102, [30, 31, 32, 33, 34], [], [], []),
    ]
    write_dataset(
        str(tmp_path / "ds"),
        instances,
        tokenizer_dir=tokenizer_dir,
        items_per_shard=2,
        max_mention_length=5,
    )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    loader = PretrainingLoader([str(tmp_path / "ds")], batch_size=3, masking=NO_MASKING)
    (batch,) = list(loader)
    assert {k: tuple(v.shape) for k, v in batch.items()} == {
        "word_ids": (3, 8),
        "word_segment_ids": (3, 8),
        "word_attention_mask": (3, 8),
        "masked_lm_labels": (3, 8),
        "entity_ids": (3, 2),
        "entity_position_ids": (3, 2, 5),
        "entity_segment_ids": (3, 2),
        "entity_attention_mask": (3, 2),
        "masked_entity_labels": (3, 2),
        "page_id": (3,),
    }
    assert all(t.dtype == torch.long for t in batch.values())
    row = {page: b for b, page in enumerate(batch["page_id"].tolist())}
    expected = {
        100: ([cls, 10, 11, 12, sep, pad, pad, pad], [5, 0], [[1, 2, -1, -1, -1], [-1] * 5]),
        101: ([cls, 20, 21, 22, 23, 24, 25, sep], [6, 7], [[2, -1, -1, -1, -1], [4, 5, 6, -1, -1]]),
        102: ([cls, 30, 31, 32, 33, 34, sep, pad], [0, 0], [[-1] * 5, [-1] * 5]),
    }
    for page, (words, entities, positions) in expected.items():
        b = row[page]
        assert batch["word_ids"][b].tolist() == words
        assert batch["word_attention_mask"][b].tolist() == [int(w != pad) for w in words]
        assert batch["entity_ids"][b].tolist() == entities
        assert batch["entity_attention_mask"][b].tolist() == [int(e != 0) for e in entities]
        assert batch["entity_position_ids"][b].tolist() == positions
    for key in ("word_segment_ids", "entity_segment_ids"):
        assert not batch[key].any()
    for key in ("masked_lm_labels", "masked_entity_labels"):
        assert (batch[key] == -1).all()


def test_batch_without_entities_has_one_padding_entity(tmp_path, tiny):
    tokenizer_dir, _ = tiny
    instances = [Instance(i, [10, 11, 12, 13, 14], [], [], []) for i in range(2)]
    write_dataset(str(tmp_path / "ds"), instances, tokenizer_dir=tokenizer_dir, items_per_shard=2)
    (batch,) = list(PretrainingLoader([str(tmp_path / "ds")], batch_size=2))
    assert batch["entity_ids"].tolist() == [[0], [0]]
    assert batch["entity_position_ids"].shape == (2, 1, 30)
    assert (batch["entity_position_ids"] == -1).all()
    assert (batch["masked_entity_labels"] == -1).all()
    assert ((batch["masked_lm_labels"] != -1).sum(dim=1) == 1).all()  # max(1, round(0.75))
