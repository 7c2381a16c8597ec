"""The tests' tiny base model, made with `luke_core.base_model` (the one definition of a
random base model) at the tests' sizes.

`save_tiny_base_model` writes a randomly initialised RoBERTa (2 layers, hidden 32) as a
transformers folder that `luke pretrain --bert-model-name` loads like roberta-base; with a
tokenizer folder (e.g. the roberta-base vocab.json + merges.txt) its files go along, so the
dataset's tokenizer check finds the same vocabulary.
"""

from __future__ import annotations

import os
import shutil

from luke_core.base_model import random_base_config, save_random_base_model

TOKENIZER_FILES = (
    "vocab.json",
    "merges.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
)


def tiny_roberta_config(*, vocab_size: int = 50265, **sizes):
    """The tests' tiny RoBERTa (hidden 32, feed-forward 64: smaller than the tiny preset's,
    the golden loss curve in tests/assets is of this size) over roberta-base's vocabulary."""
    return random_base_config(
        vocab_size=vocab_size, **{"hidden_size": 32, "intermediate_size": 64, **sizes}
    )


def save_tiny_base_model(
    directory: str, *, tokenizer_dir: str | None = None, seed: int = 0, **config_overrides
) -> str:
    """Write a random tiny RoBERTa (MLM head and pooler included) to `directory`."""
    save_random_base_model(directory, tiny_roberta_config(**config_overrides), seed=seed)
    if tokenizer_dir:
        for name in TOKENIZER_FILES:
            source = os.path.join(tokenizer_dir, name)
            if os.path.isfile(source):
                shutil.copyfile(source, os.path.join(directory, name))
    return directory


def write_synthetic_dataset(
    path: str, tokenizer_dir: str, *, count: int = 64, seed: int = 0, **options
) -> str:
    """A dataset directory of `count` random instances over the tokenizer's ordinary ids
    (see `luke_testing.pretraining_data`); `options` go to its `write_dataset`."""
    import numpy as np
    from transformers import AutoTokenizer

    from luke_testing.pretraining_data import synthetic_instances, write_dataset

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    special = set(tokenizer.all_special_ids)
    pool = [i for i in range(len(tokenizer)) if i not in special]
    instances = synthetic_instances(
        count, word_ids=pool, rng=np.random.default_rng(seed), **options.pop("instance_options", {})
    )
    options = {"max_seq_length": 64, "max_entity_length": 8, "items_per_shard": 40, **options}
    write_dataset(path, instances, tokenizer_dir=tokenizer_dir, **options)
    return path
