"""Bad dataset directories and arguments: a clear LukeError before any batch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from luke_core.dataset.loading.loader import PretrainingLoader
from luke_core.errors import LukeError
from luke_testing.pretraining_data import (
    save_tiny_tokenizer,
    synthetic_instances,
    write_dataset,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A pristine dataset dir; tests copy it before spoiling it."""
    root = tmp_path_factory.mktemp("errors")
    tokenizer = save_tiny_tokenizer(str(root / "tokenizer"))
    pool = [i for i in range(len(tokenizer)) if i not in set(tokenizer.all_special_ids)]
    items = synthetic_instances(64, word_ids=pool, rng=np.random.default_rng(0))
    write_dataset(
        str(root / "ds"), items, tokenizer_dir=str(root / "tokenizer"), items_per_shard=16
    )
    return root / "ds"


def copy(dataset, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(dataset, target)
    return target


def edit_metadata(path, **changes):
    meta = json.loads((path / "metadata.json").read_text())
    meta.update(changes)
    (path / "metadata.json").write_text(json.dumps(meta))


def test_unfinished_dataset(dataset, tmp_path):
    broken = copy(dataset, tmp_path)
    (broken / "metadata.json").unlink()
    with pytest.raises(LukeError, match=r"copy: not a finished dataset directory"):
        PretrainingLoader([str(broken)], batch_size=4)


def test_missing_shard(dataset, tmp_path):
    broken = copy(dataset, tmp_path)
    (broken / "shard-00002.arrow").unlink()
    with pytest.raises(LukeError, match=r"copy: shard shard-00002.arrow is listed .* but missing"):
        PretrainingLoader([str(broken)], batch_size=4)


def test_inconsistent_item_counts(dataset, tmp_path):
    broken = copy(dataset, tmp_path)
    edit_metadata(broken, number_of_items=65)
    with pytest.raises(LukeError, match="inconsistent metadata"):
        PretrainingLoader([str(broken)], batch_size=4)


def test_shard_holding_other_items_than_the_metadata_says(dataset, tmp_path):
    broken = copy(dataset, tmp_path)
    meta = json.loads((broken / "metadata.json").read_text())
    meta["shards"][0]["items"], meta["shards"][1]["items"] = 15, 17
    (broken / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(LukeError, match=r"shard-0000[01].arrow: holds 16 items, the metadata says"):
        list(PretrainingLoader([str(broken)], batch_size=4))


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_seq_length", 256),
        ("max_entity_length", 64),
        ("max_mention_length", 16),
        ("tokenizer_sha256", "0" * 64),  # another tokenizer
        ("tokenizer_class", "XLMRobertaTokenizer"),
        ("word_vocab_size", 250002),
        ("entity_vocab_size", 12345),
        ("entity_vocab_sha256", "f" * 64),  # another vocabulary of the same size
    ],
)
def test_dirs_that_cannot_be_mixed(dataset, tmp_path, field, value):
    other = copy(dataset, tmp_path, "other")
    edit_metadata(other, **{field: value})
    with pytest.raises(LukeError, match=f"other: cannot be mixed with .*: {field}"):
        PretrainingLoader([str(dataset), str(other)], batch_size=4)


def test_same_dir_twice(dataset, tmp_path, monkeypatch):
    with pytest.raises(LukeError, match="given twice"):
        PretrainingLoader([str(dataset), str(dataset) + "/"], batch_size=4)
    monkeypatch.chdir(dataset.parent)
    with pytest.raises(LukeError, match="the same dataset as .*, given twice"):
        PretrainingLoader([str(dataset), "./" + dataset.name], batch_size=4)
    with pytest.raises(LukeError, match="the same dataset as .*, given twice"):
        PretrainingLoader([str(dataset), str(copy(dataset, tmp_path))], batch_size=4)


def test_the_same_tokenizer_by_another_name_mixes(dataset, tmp_path):
    tokenizer = str(dataset.parent / "tokenizer")
    pool = list(range(10, 200))
    items = synthetic_instances(32, word_ids=pool, rng=np.random.default_rng(1))
    other = str(tmp_path / "other")
    write_dataset(other, items, tokenizer_dir=tokenizer, items_per_shard=16,
                  tokenizer_name="./a/relative/path")  # fmt: skip
    assert len(PretrainingLoader([str(dataset), other], batch_size=4).sources) == 2


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"max_seq_length": 8}, "words, more than max_seq_length 8"),
        ({"max_entity_length": 1}, "entities, more than max_entity_length"),
        ({"max_mention_length": 1}, "a mention longer than max_mention_length"),
        ({"entity_vocab_size": 4}, "an entity id outside the entity vocabulary"),
    ],
)
def test_items_the_metadata_does_not_allow(dataset, tmp_path, changes, problem):
    broken = copy(dataset, tmp_path)
    edit_metadata(broken, **changes)
    with pytest.raises(LukeError, match=f"row .* {problem}: the shard and the dataset's"):
        list(PretrainingLoader([str(broken)], batch_size=4))


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(LukeError, match="no dataset directory matches"):
        PretrainingLoader([str(tmp_path / "nothing-*")], batch_size=4)


def test_dataset_too_small_for_the_readers(dataset):
    with pytest.raises(LukeError, match=r"64 items in all: fewer than 8 items for each of 16"):
        PretrainingLoader([str(dataset)], batch_size=8, world_size=8, num_workers=2)


def test_small_dir_among_mixed_dirs(dataset, tmp_path):
    small = tmp_path / "small"
    tokenizer_dir = dataset / "tokenizer"
    items = synthetic_instances(6, word_ids=[10, 11, 12], rng=np.random.default_rng(1))
    write_dataset(str(small), items, tokenizer_dir=str(tokenizer_dir), items_per_shard=4)
    with pytest.raises(LukeError, match=r"small: 6 items: fewer than 4 items for each of 2"):
        PretrainingLoader([str(dataset), str(small)], batch_size=4, world_size=2)


def test_missing_or_mismatched_tokenizer(dataset, tmp_path):
    broken = copy(dataset, tmp_path)
    shutil.rmtree(broken / "tokenizer")
    with pytest.raises(LukeError, match="tokenizer folder is missing"):
        PretrainingLoader([str(broken)], batch_size=4)
    other = copy(dataset, tmp_path, "other")
    edit_metadata(other, word_vocab_size=999)
    with pytest.raises(LukeError, match="word_vocab_size 999"):
        PretrainingLoader([str(other)], batch_size=4)


def test_corrupt_local_shard_is_named_by_the_worker(dataset, tmp_path):
    broken = copy(dataset, tmp_path)
    shard = broken / "shard-00001.arrow"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    loader = PretrainingLoader([str(broken)], batch_size=4, num_workers=2)
    with pytest.raises(LukeError) as failure:
        list(loader)
    message = str(failure.value)
    assert message.startswith(f"{shard}: checksum mismatch") and "Traceback" not in message


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 4, "rank": 2, "world_size": 2}, "rank 2"),
        ({"batch_size": 4, "num_workers": -1}, "num_workers"),
        ({"batch_size": 4, "seed": -3}, "seed"),
        ({"batch_size": 4, "sampling_smoothing": -0.5}, "sampling_smoothing"),
        ({"batch_size": 4, "cache_max_bytes": 0}, "cache limit"),
    ],
)
def test_bad_arguments(dataset, arguments, message):
    with pytest.raises(LukeError, match=message):
        PretrainingLoader([str(dataset)], **arguments)
