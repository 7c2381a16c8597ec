"""The builder with its inputs and outputs on S3 (a real SeaweedFS server), and
`compute-total-training-steps` / `inspect` over dataset directories there."""

from __future__ import annotations

import os

import pytest

from luke_core import storage
from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset
from luke_core.dataset.describe import compute_total_training_steps, describe_dataset
from luke_core.dataset.format import load_metadata
from luke_core.errors import LukeError
from luke_core.inspect import InspectOptions, describe
from luke_testing.dataset_inputs import write_byte_tokenizer, write_dump_db, write_vocab

PAGES = {
    f"City {i}": [f"City {i} lies near [[Rome]] and [[Milan]]. It has {i} bridges. " * (1 + i % 3)]
    for i in range(9)
}


@pytest.fixture(scope="module")
def local_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    return {
        "db": write_dump_db(str(root / "en.db"), PAGES),
        "tokenizer": write_byte_tokenizer(str(root / "tokenizer")),
        "vocab": write_vocab(str(root / "vocab.jsonl"), ["Rome", "Milan", "City 3"]),
    }


def upload_inputs(local_inputs, s3) -> dict[str, str]:
    storage.upload_file(local_inputs["db"], f"{s3}/in/en.db")
    storage.upload_file(local_inputs["vocab"], f"{s3}/in/vocab.jsonl")
    storage.upload_dir(local_inputs["tokenizer"], f"{s3}/in/tokenizer")
    return {
        "db": f"{s3}/in/en.db",
        "vocab": f"{s3}/in/vocab.jsonl",
        "tokenizer": f"{s3}/in/tokenizer",
    }


def build(inputs, out, **options):
    options = {"sentence_splitter": "en", "processes": 1, "progress": False, **options}
    return build_dataset(
        inputs["db"], inputs["tokenizer"], inputs["vocab"], out, BuildDatasetOptions(**options)
    )


def test_dataset_on_s3(local_inputs, s3, tmp_path):
    inputs = upload_inputs(local_inputs, s3)
    first = build(inputs, f"{s3}/datasets/en-a", shard_size=4)
    second = build(inputs, f"{s3}/datasets/en-b", seed=3)
    local = build(local_inputs, str(tmp_path / "local"), shard_size=4)

    metadata = load_metadata(f"{s3}/datasets/en-a")
    assert metadata.number_of_items == first.sequences == local.sequences
    assert metadata.shards == load_metadata(str(tmp_path / "local")).shards  # same bytes
    names = {storage.basename(u) for u in storage.list_files(f"{s3}/datasets/en-a")}
    assert {"metadata.json", "entity_vocab.jsonl", "tokenizer.json"} <= names
    assert {s.name for s in metadata.shards} <= names

    steps = compute_total_training_steps(f"{s3}/datasets/*", train_batch_size=4, num_epochs=3)
    assert steps == -(-(first.sequences + second.sequences) * 3 // 4)
    described = describe(f"{s3}/datasets/en-b", InspectOptions(items=2))
    assert described["kind"] == "dataset" and len(described["instances"]) == 2
    assert {e["text"] for i in described["instances"] for e in i["entities"]} <= {"Rome", "Milan"}


def test_failed_build_leaves_nothing_on_s3(local_inputs, s3):
    inputs = upload_inputs(local_inputs, s3)
    with pytest.raises(LukeError, match="unknown sentence splitter"):
        build(inputs, f"{s3}/datasets/bad", sentence_splitter="klingon")
    assert not storage.exists(f"{s3}/datasets/bad")


def test_total_training_steps_locally(local_inputs, tmp_path):
    sizes = []
    for name, seed in (("a", 0), ("b", 1), ("c", 2)):
        sizes.append(build(local_inputs, str(tmp_path / "runs" / name), seed=seed).sequences)
    pattern = str(tmp_path / "runs" / "*")
    assert compute_total_training_steps(pattern, 5, 2) == -(-sum(sizes) * 2 // 5)
    assert compute_total_training_steps([str(tmp_path / "runs" / "a")], 1, 1) == sizes[0]
    os.makedirs(tmp_path / "runs" / "unfinished")
    with pytest.raises(LukeError, match="not a finished dataset directory"):
        compute_total_training_steps(pattern, 5, 2)
    with pytest.raises(LukeError, match="no dataset directory matches"):
        compute_total_training_steps(str(tmp_path / "nothing-*"), 5, 2)
    with pytest.raises(LukeError, match="batch size"):
        compute_total_training_steps(pattern, 0, 2)


def test_inspect_local_dataset_decodes_words_and_entities(local_inputs, tmp_path):
    out = str(tmp_path / "ds")
    build(local_inputs, out, max_num_documents=2)
    described = describe_dataset(out, InspectOptions(items=5))
    assert len(described["instances"]) == described["metadata"]["number_of_items"] == 2
    for instance in described["instances"]:
        assert instance["text"].startswith(" City ")
        assert [e["text"] for e in instance["entities"]][:2] == ["Rome", "Milan"]
        assert [e["title"] for e in instance["entities"]][:2] == ["Rome", "Milan"]
    assert "instances" not in describe_dataset(out, InspectOptions(items=0))
