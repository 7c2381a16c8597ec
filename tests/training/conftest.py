"""Fixtures of the training tests: tiny base models, datasets (synthetic ones, and one built
by the real pipeline from the real Wikipedia fragment), and running `luke pretrain` under
torchrun with two CPU processes."""

from __future__ import annotations

import json

import pytest

from luke_testing.pretrain_runs import FAST_TINY_CONFIG, PretrainRunner
from luke_testing.pretraining_data import save_tiny_tokenizer
from luke_testing.tiny_model import save_tiny_base_model, write_synthetic_dataset


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("tiny-tokenizer"))
    save_tiny_tokenizer(path)
    return path


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory, tiny_tokenizer_dir) -> str:
    """A tiny RoBERTa over the tiny tokenizer (vocabulary 320)."""
    from transformers import AutoTokenizer

    size = len(AutoTokenizer.from_pretrained(tiny_tokenizer_dir))
    return save_tiny_base_model(
        str(tmp_path_factory.mktemp("tiny-base")),
        tokenizer_dir=tiny_tokenizer_dir,
        vocab_size=size,
        max_seq_length=64,
    )


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory, tiny_tokenizer_dir) -> str:
    return write_synthetic_dataset(
        str(tmp_path_factory.mktemp("synthetic") / "dataset"), tiny_tokenizer_dir
    )


@pytest.fixture(scope="session")
def roberta_tokenizer_dir(enwiki_fragment) -> str:
    """The real roberta-base tokenizer files of the shared test data."""
    path = enwiki_fragment.parents[1] / "tokenizers" / "roberta-base"
    if not path.is_dir():
        pytest.fail(f"LUKE_TEST_DATA is set but {path} is missing")
    return str(path)


@pytest.fixture(scope="session")
def fragment_dataset(tmp_path_factory, enwiki_fragment, roberta_tokenizer_dir) -> str:
    """The real pipeline on the real enwiki fragment: dump database, entity vocabulary,
    pretraining dataset with the roberta-base tokenizer (128-token sequences)."""
    from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset
    from luke_core.dump_db import BuildDumpDbOptions, build_dump_db
    from luke_core.entity_vocab.build import BuildEntityVocabOptions, build_entity_vocab

    root = tmp_path_factory.mktemp("fragment")
    dump_db, vocab, dataset = (str(root / n) for n in ("dump.db", "vocab.jsonl", "dataset"))
    build_dump_db(str(enwiki_fragment), dump_db, BuildDumpDbOptions(processes=2, progress=False))
    build_entity_vocab(dump_db, vocab, BuildEntityVocabOptions(processes=2, progress=False))
    options = BuildDatasetOptions(
        sentence_splitter="en",
        max_seq_length=128,
        max_entity_length=16,
        processes=2,
        progress=False,
    )
    build_dataset(dump_db, roberta_tokenizer_dir, vocab, dataset, options)
    return dataset


@pytest.fixture(scope="session")
def roberta_tiny_base(tmp_path_factory, roberta_tokenizer_dir) -> str:
    """A tiny RoBERTa with the real roberta-base vocabulary (50,265 words)."""
    return save_tiny_base_model(
        str(tmp_path_factory.mktemp("roberta-tiny")),
        tokenizer_dir=roberta_tokenizer_dir,
        max_seq_length=128,
    )


@pytest.fixture(scope="session")
def test_config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("config") / "test-config.json"
    path.write_text(json.dumps(FAST_TINY_CONFIG))
    return str(path)


@pytest.fixture
def runner(tmp_path, clean_deepspeed_shm) -> PretrainRunner:
    return PretrainRunner(tmp_path / "staging")
