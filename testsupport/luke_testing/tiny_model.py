"""A laptop-sized base model for LUKE: the `tiny` preset of the tests, the demo and the
benchmarks, made locally since nothing can be fetched from a model hub here.

`save_tiny_base_model` writes a randomly initialised RoBERTa (2 layers, hidden 32) as a
transformers folder that `luke pretrain --bert-model-name` loads like roberta-base; with a
tokenizer folder (e.g. the roberta-base vocab.json + merges.txt) its files go along, so the
dataset's tokenizer check finds the same vocabulary.
"""

from __future__ import annotations

import os
import shutil

TOKENIZER_FILES = (
    "vocab.json",
    "merges.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
)


def tiny_roberta_config(
    *,
    vocab_size: int = 50265,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    max_seq_length: int = 128,
):
    """A RobertaConfig whose position table covers `max_seq_length` words (+ padding offset)."""
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_seq_length + 2,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )


def save_tiny_base_model(
    directory: str, *, tokenizer_dir: str | None = None, seed: int = 0, **config_overrides
) -> str:
    """Write a random tiny RoBERTa (MLM head and pooler included) to `directory`."""
    import torch
    from transformers import RobertaForMaskedLM, RobertaModel

    config = tiny_roberta_config(**config_overrides)
    torch.manual_seed(seed)
    model = RobertaForMaskedLM(config)
    # the masked-LM class has no pooler; store one as a full RoBERTa checkpoint has
    pooler = RobertaModel(config, add_pooling_layer=True).pooler
    model.roberta.pooler = pooler
    model.save_pretrained(directory)
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
