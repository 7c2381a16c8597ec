"""Fixtures of the export tests: pretraining runs written directly (random, non-trivial weights
in the layout of `luke pretrain`), their exports, and batches to compare models on."""

from __future__ import annotations

import json
import os

import pytest

from luke_core.export.convert import ExportOptions, export_huggingface
from luke_testing.pretraining_data import save_tiny_tokenizer
from luke_testing.pretraining_run import (
    entity_vocab_of,
    random_model,
    tiny_model_config,
    write_pretraining_run,
)

ENTITIES = 50
METRICS = [
    {
        "step": 5,
        "epoch": 1,
        "loss": 9.5,
        "masked_lm_loss": 5.25,
        "masked_lm_accuracy": 0.125,
        "masked_entity_loss": 4.25,
        "masked_entity_accuracy": 0.0625,
        "lr": 0.001,
        "samples": 40,
    },
    {
        "step": 10,
        "epoch": 1,
        "loss": 7.75,
        "masked_lm_loss": 4.5,
        "masked_lm_accuracy": 0.25,
        "masked_entity_loss": 3.25,
        "masked_entity_accuracy": 0.375,
        "lr": 0.0005,
        "samples": 80,
    },
    {
        "step": 15,
        "epoch": 2,
        "loss": 1.0,
        "masked_lm_loss": 0.5,
        "masked_lm_accuracy": 0.9,
        "masked_entity_loss": 0.5,
        "masked_entity_accuracy": 0.9,
        "lr": 0.0001,
        "samples": 120,
    },
]
"""The run goes on after the checkpoint (step 10): the card must show step 10's line."""


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("tiny-tokenizer"))
    save_tiny_tokenizer(path)
    return path


@pytest.fixture(scope="session")
def tiny_config(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    size = len(AutoTokenizer.from_pretrained(tiny_tokenizer_dir))
    return tiny_model_config(vocab_size=size, entity_vocab_size=ENTITIES)


@pytest.fixture(scope="session")
def tiny_model(tiny_config):
    return random_model(tiny_config, seed=1)


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory) -> str:
    """What the model card reads of a dataset: its metadata.json."""
    folder = tmp_path_factory.mktemp("datasets") / "enwiki"
    folder.mkdir()
    metadata = {
        "kind": "dataset",
        "number_of_items": 64,
        "max_seq_length": 64,
        "language": "en",
        "build_options": {"dump_db": "s3://wiki/enwiki-20181220.db"},
        "summary": {"pages": 12, "tokens": 2048, "entities": 300},
    }
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return str(folder)


@pytest.fixture(scope="session")
def luke_run(tmp_path_factory, tiny_model, tiny_tokenizer_dir, dataset_dir) -> str:
    """A run folder with the checkpoint `epoch1` (step 10) of `tiny_model`."""
    run = str(tmp_path_factory.mktemp("run") / "run")
    write_pretraining_run(
        run,
        tiny_model,
        entity_vocab=entity_vocab_of(ENTITIES),
        tokenizer_dir=tiny_tokenizer_dir,
        metrics=METRICS,
        datasets=[{"uri": dataset_dir, "number_of_items": 64, "language": "en"}],
    )
    return run


def export(run: str, out: str, **options) -> str:
    export_huggingface(run, out, ExportOptions(progress=False, **options))
    return out


@pytest.fixture(scope="session")
def exported(tmp_path_factory, luke_run) -> str:
    """The default export (entity-aware attention on) of `luke_run`."""
    out = str(tmp_path_factory.mktemp("exported") / "luke-tiny")
    return export(luke_run, out, model_name=out)


def listing(folder: str) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []
