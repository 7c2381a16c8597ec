"""Small pretraining dataset directories with known contents, for tests and benchmarks of
the loader and the trainer (no dump, no builder): a tiny byte-level BPE tokenizer trained on
a built-in text, synthetic instances, and a writer that lays them out as the builder does
(`luke_core/dataset/format.py`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import numpy as np

from luke_core import storage
from luke_core.dataset.format import (
    EARLIER_DATASET,
    ENTITY_VOCAB_FILE,
    METADATA_FILE,
    TOKENIZER_DIR,
    DatasetMetadata,
    Instance,
    shard_name,
    tokenizer_sha256,
    write_shard,
)
from luke_core.entity_vocab.vocab import EntityEntry, EntityVocab, special_entries

TINY_TEXT = (
    "Tokyo is the capital of Japan, and Paris is the capital of France. The quick brown fox "
    "jumps over the lazy dog! Entity-aware representations help question answering; named "
    "entity recognition (NER) and relation classification benefit too. Wikipedia's links "
    "mark mentions: Albert Einstein developed relativity in Berlin, Zurich and Princeton. "
    "Shakespeare wrote Hamlet. Mount Fuji, 3,776 metres high, overlooks Lake Kawaguchi."
)
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def save_tiny_tokenizer(out_dir: str, *, vocab_size: int = 320):
    """Train a RoBERTa-style byte-level BPE tokenizer on `TINY_TEXT`, save it to `out_dir`
    (`AutoTokenizer.from_pretrained(out_dir)` loads it) and return it. Its small vocabulary
    splits most words into several pieces, which whole-word masking tests need."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([TINY_TEXT] * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def synthetic_instances(
    count: int,
    *,
    word_ids: Sequence[int],
    rng: np.random.Generator,
    first_page_id: int = 0,
    min_words: int = 5,
    max_words: int = 40,
    max_entities: int = 6,
    entity_vocab_size: int = 100,
    max_mention_length: int = 30,
) -> list[Instance]:
    """`count` instances of random words drawn from `word_ids`, each with up to
    `max_entities` non-overlapping mentions of random entities (ids 3..size-1); page ids
    run from `first_page_id`, so each instance is recognisable in a batch."""
    pool = np.asarray(word_ids)
    instances = []
    for i in range(count):
        n = int(rng.integers(min_words, max_words + 1))
        words = pool[rng.integers(0, len(pool), n)]
        starts, ends = _mentions(n, int(rng.integers(0, max_entities + 1)), max_mention_length, rng)
        entities = rng.integers(3, entity_vocab_size, len(starts))
        instances.append(
            Instance(first_page_id + i, words.tolist(), entities.tolist(), starts, ends)
        )
    return instances


def _mentions(n: int, wanted: int, max_length: int, rng) -> tuple[list[int], list[int]]:
    """Up to `wanted` disjoint spans in [0, n), each 1..min(4, max_length) tokens."""
    starts, ends = [], []
    cursor = 0
    for _ in range(wanted):
        start = cursor + int(rng.integers(0, 3))
        end = start + int(rng.integers(1, min(4, max_length) + 1))
        if end > n:
            break
        starts.append(start)
        ends.append(end)
        cursor = end
    return starts, ends


def write_dataset(
    out_dir: str,
    instances: Sequence[Instance],
    *,
    tokenizer_dir: str,
    items_per_shard: int,
    tokenizer_name: str = "tiny-bpe",
    language: str | None = "en",
    entity_vocab_size: int = 100,
    max_seq_length: int = 512,
    max_entity_length: int = 128,
    max_mention_length: int = 30,
) -> DatasetMetadata:
    """A complete dataset directory at `out_dir` (local or s3://), metadata written last."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    with storage.output_dir(out_dir, replaces=EARLIER_DATASET, markers=[METADATA_FILE]) as tmp:
        shards = tuple(
            write_shard(
                os.path.join(tmp, shard_name(index)),
                instances[start : start + items_per_shard],
            )
            for index, start in enumerate(range(0, len(instances), items_per_shard))
        )
        entries = special_entries([language]) + [
            EntityEntry(i, ((f"Entity {i}", language),), 1) for i in range(3, entity_vocab_size)
        ]
        EntityVocab(entries).save(os.path.join(tmp, ENTITY_VOCAB_FILE))
        shutil.copytree(tokenizer_dir, os.path.join(tmp, TOKENIZER_DIR))
        metadata = DatasetMetadata(
            number_of_items=len(instances),
            max_seq_length=max_seq_length,
            max_entity_length=max_entity_length,
            max_mention_length=max_mention_length,
            min_sentence_length=5,
            tokenizer_class=type(tokenizer).__name__,
            tokenizer_name=tokenizer_name,
            language=language,
            entity_vocab_size=entity_vocab_size,
            word_vocab_size=len(tokenizer),
            shards=shards,
            tokenizer_sha256=tokenizer_sha256(tokenizer),
        )
        storage.write_json(os.path.join(tmp, METADATA_FILE), metadata.to_json())
    return metadata


def unmasked_instances(batch: dict) -> list[Instance]:
    """The stored instances a batch was made from, recovered by undoing its masking (labels
    hold the original ids) and its layout (CLS/SEP, padding, the +1 position shift)."""
    out = []
    for b in range(len(batch["page_id"])):
        words = _restore(batch["word_ids"][b], batch["masked_lm_labels"][b])
        length = int(batch["word_attention_mask"][b].sum())
        entities = _restore(batch["entity_ids"][b], batch["masked_entity_labels"][b])
        count = int(batch["entity_attention_mask"][b].sum())
        starts, ends = [], []
        for row in batch["entity_position_ids"][b, :count].tolist():
            positions = [p - 1 for p in row if p != -1]
            starts.append(positions[0])
            ends.append(positions[-1] + 1)
        out.append(
            Instance(
                int(batch["page_id"][b]), words[1 : length - 1], entities[:count], starts, ends
            )
        )
    return out


def _restore(ids, labels) -> list[int]:
    return [int(label) if label != -1 else int(i) for i, label in zip(ids, labels, strict=True)]
