"""Masking of words and entities (luke_core/dataset/loading/masking.py), checked against independent
statements of the reference's rules on many random instances."""

from __future__ import annotations

import string
import unicodedata

import numpy as np
import pytest

from luke_core.dataset.loading.masking import Masker, MaskingOptions, WordTable
from luke_core.errors import LukeError
from luke_testing.pretraining_data import save_tiny_tokenizer
from luke_testing.shared_data import shared_data_path as shared_data

ENTITY_VOCAB = 1000
ENTITY_MASK = 2


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    return save_tiny_tokenizer(str(tmp_path_factory.mktemp("tokenizer")))


@pytest.fixture(scope="module")
def table(tiny_tokenizer):
    return WordTable.from_tokenizer(tiny_tokenizer)


def plain_ids(tokenizer) -> np.ndarray:
    return np.array([i for i in range(len(tokenizer)) if i not in tokenizer.all_special_ids])


def independent_word_starts(tokens: list[str]) -> list[bool]:
    """The reference's rule restated: a token begins a word if it carries the byte-level
    space marker or its first character is punctuation."""
    out = []
    for i, token in enumerate(tokens):
        first = token[0]
        punct = first in string.punctuation or unicodedata.category(first).startswith("P")
        out.append(i == 0 or token.startswith("\u0120") or punct)
    return out


def random_instance(rng, pool, n_words=(5, 120), n_entities=(0, 12)):
    n = int(rng.integers(*n_words))
    words = pool[rng.integers(0, len(pool), n)].astype(np.int32)
    starts, ends, cursor = [], [], 0
    for _ in range(int(rng.integers(*n_entities))):
        start = cursor + int(rng.integers(0, 4))
        end = start + int(rng.integers(1, 5))
        if end > n:
            break
        starts.append(start)
        ends.append(end)
        cursor = end
    entities = rng.integers(3, ENTITY_VOCAB, len(starts)).astype(np.int32)
    return words, entities, np.array(starts, np.int32), np.array(ends, np.int32)


def run(masker, instance, seed):
    return masker(*instance, np.random.default_rng(seed))


def word_groups(tokenizer, words) -> list[list[int]]:
    """Whole words as lists of 1-based positions (CLS first)."""
    groups: list[list[int]] = []
    starts = independent_word_starts(tokenizer.convert_ids_to_tokens(words.tolist()))
    for i, begins in enumerate(starts, 1):
        if begins:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def test_subword_budget_labels_and_frame(tiny_tokenizer, table):
    masker = Masker(MaskingOptions(whole_word_masking=False), table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(1), plain_ids(tiny_tokenizer)
    for seed in range(300):
        words, *_ = instance = random_instance(rng, pool)
        out = run(masker, instance, seed)
        n = len(words)
        masked = out.masked_lm_labels != -1
        assert masked.sum() == max(1, round(0.15 * n))
        assert out.word_ids[0] == tiny_tokenizer.cls_token_id
        assert out.word_ids[-1] == tiny_tokenizer.sep_token_id
        assert not masked[0] and not masked[-1]
        original = np.concatenate([[out.word_ids[0]], words, [out.word_ids[-1]]])
        assert (out.masked_lm_labels[masked] == original[masked]).all()
        assert (out.word_ids[~masked] == original[~masked]).all()


def test_word_replacement_shares_80_10_10(tiny_tokenizer, table):
    masker = Masker(MaskingOptions(whole_word_masking=False), table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(2), plain_ids(tiny_tokenizer)
    mask_id, special = tiny_tokenizer.mask_token_id, set(tiny_tokenizer.all_special_ids)
    counts = {"mask": 0, "random": 0, "kept": 0}
    for seed in range(3000):
        out = run(masker, random_instance(rng, pool), seed)
        masked = out.masked_lm_labels != -1
        for now, label in zip(out.word_ids[masked], out.masked_lm_labels[masked], strict=True):
            if now == mask_id:
                counts["mask"] += 1
            elif now == label:
                counts["kept"] += 1
            else:
                assert now not in special
                counts["random"] += 1
    total = sum(counts.values())
    assert total > 20000
    # a random id equal to the original counts as kept: 1/len(pool) of the 10%
    assert abs(counts["mask"] / total - 0.8) < 0.015
    assert abs(counts["random"] / total - 0.1 * (1 - 1 / len(pool))) < 0.01
    assert abs(counts["kept"] / total - 0.1) < 0.01


def test_whole_word_masking_never_splits_a_word(tiny_tokenizer, table):
    assert table.marks_words
    masker = Masker(MaskingOptions(), table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(3), plain_ids(tiny_tokenizer)
    multi_piece_words_masked = full_budget = 0
    for seed in range(1500):
        words, *_ = instance = random_instance(rng, pool)
        out = run(masker, instance, seed)
        masked = out.masked_lm_labels != -1
        budget = max(1, round(0.15 * len(words)))
        groups = word_groups(tiny_tokenizer, words)
        chosen = [g for g in groups if masked[g].any()]
        for group in chosen:
            assert masked[group].all(), f"word {group} split by masking"
            states = out.word_ids[group] == tiny_tokenizer.mask_token_id
            assert states.all() or not states.any(), "one draw per word"
            multi_piece_words_masked += len(group) > 1
        assert masked.sum() == sum(len(g) for g in chosen)
        full_budget += masked.sum() == budget
        if masked.sum() < budget:  # then no unmasked word fits what is left of the budget
            left = budget - masked.sum()
            assert all(len(g) > left for g in groups if not masked[g].any())
        if masked.sum() > budget:  # the fallback: no word fitted the budget
            assert len(chosen) == 1 and min(len(g) for g in groups) > budget
            assert len(chosen[0]) == min(len(g) for g in groups)
    assert multi_piece_words_masked > 500
    assert full_budget > 0.5 * 1500


def test_entity_masking_count_labels_and_mask_id(tiny_tokenizer, table):
    masker = Masker(MaskingOptions(), table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(4), plain_ids(tiny_tokenizer)
    for seed in range(500):
        _, entities, *_ = instance = random_instance(rng, pool, n_entities=(0, 30))
        out = run(masker, instance, seed)
        masked = out.masked_entity_labels != -1
        assert masked.sum() == (max(1, round(0.15 * len(entities))) if len(entities) else 0)
        assert (out.masked_entity_labels[masked] == entities[masked]).all()
        assert (out.entity_ids[masked] == ENTITY_MASK).all()
        assert (out.entity_ids[~masked] == entities[~masked]).all()


def test_random_and_unmasked_entity_probabilities(tiny_tokenizer, table):
    options = MaskingOptions(
        masked_entity_prob=0.5, random_entity_prob=0.3, unmasked_entity_prob=0.2
    )
    masker = Masker(options, table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(5), plain_ids(tiny_tokenizer)
    kinds = {"mask": 0, "random": 0, "kept": 0}
    for seed in range(2000):
        instance = random_instance(rng, pool, n_entities=(1, 30))
        out = run(masker, instance, seed)
        masked = out.masked_entity_labels != -1
        for now, label in zip(
            out.entity_ids[masked], out.masked_entity_labels[masked], strict=True
        ):
            if now == ENTITY_MASK:
                kinds["mask"] += 1
            elif now == label:
                kinds["kept"] += 1
            else:
                assert 3 <= now < ENTITY_VOCAB
                kinds["random"] += 1
    total = sum(kinds.values())
    assert abs(kinds["mask"] / total - 0.5) < 0.02
    assert abs(kinds["random"] / total - 0.3) < 0.02
    assert abs(kinds["kept"] / total - 0.2) < 0.02


def test_words_in_masked_entity_spans(tiny_tokenizer, table):
    masker = Masker(MaskingOptions(mask_words_in_entity_span=True), table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(6), plain_ids(tiny_tokenizer)
    spans_checked = 0
    for seed in range(800):
        words, entities, starts, ends = instance = random_instance(rng, pool, n_entities=(1, 12))
        if not len(entities):
            continue
        out = run(masker, instance, seed)
        masked = out.masked_lm_labels != -1
        entity_masked = out.masked_entity_labels != -1
        in_masked_spans = np.zeros(len(words) + 2, bool)
        for i in np.flatnonzero(entity_masked):
            span = np.arange(starts[i], ends[i]) + 1
            assert masked[span].all(), "every word of a masked entity's mention is masked"
            states = out.word_ids[span] == tiny_tokenizer.mask_token_id
            assert states.all() or not states.any(), "one draw per mention"
            in_masked_spans[span] = True
            spans_checked += 1
        budget = max(1, round(0.15 * len(words)))
        outside = masked & ~in_masked_spans
        for group in word_groups(tiny_tokenizer, words):
            if outside[group].any():
                assert not in_masked_spans[group].any(), "a word overlapping a masked mention"
        # mentions count against the budget; the other words fill what is left of it
        assert outside.sum() <= max(0, budget - in_masked_spans.sum()) or (
            in_masked_spans.sum() == 0
        )
    assert spans_checked > 500


def test_words_in_spans_are_ordinary_without_the_option(tiny_tokenizer, table):
    masker = Masker(MaskingOptions(whole_word_masking=False), table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(7), plain_ids(tiny_tokenizer)
    fully_masked_spans = masked_in_spans = 0
    for seed in range(500):
        words, _, starts, ends = instance = random_instance(rng, pool, n_entities=(1, 12))
        out = run(masker, instance, seed)
        masked = out.masked_lm_labels != -1
        assert masked.sum() == max(1, round(0.15 * len(words)))
        for i in np.flatnonzero(out.masked_entity_labels != -1):
            span = np.arange(starts[i], ends[i]) + 1
            fully_masked_spans += masked[span].all()
            masked_in_spans += masked[span].sum()
    assert masked_in_spans > 0
    assert fully_masked_spans < 100


def test_special_tokens_are_never_masked(tiny_tokenizer, table):
    masker = Masker(
        MaskingOptions(masked_lm_prob=0.5, whole_word_masking=False), table, ENTITY_VOCAB
    )
    rng, pool = np.random.default_rng(8), plain_ids(tiny_tokenizer)
    unk = tiny_tokenizer.unk_token_id
    for seed in range(200):
        words, *rest = random_instance(rng, pool)
        words[::3] = unk
        out = run(masker, (words, *rest), seed)
        assert (out.masked_lm_labels[1:-1][words == unk] == -1).all()


def test_zero_probabilities_mask_nothing(tiny_tokenizer, table):
    masker = Masker(MaskingOptions(masked_lm_prob=0.0, masked_entity_prob=0.0), table, ENTITY_VOCAB)
    rng, pool = np.random.default_rng(9), plain_ids(tiny_tokenizer)
    for seed in range(50):
        out = run(masker, random_instance(rng, pool), seed)
        assert (out.masked_lm_labels == -1).all() and (out.masked_entity_labels == -1).all()


def test_masking_depends_only_on_the_generator(tiny_tokenizer, table):
    masker = Masker(MaskingOptions(), table, ENTITY_VOCAB)
    instance = random_instance(
        np.random.default_rng(10), plain_ids(tiny_tokenizer), (100, 101), (10, 11)
    )
    first, again, other = (
        run(masker, instance, 1),
        run(masker, instance, 1),
        run(masker, instance, 2),
    )
    assert (first.word_ids == again.word_ids).all()
    assert (first.masked_entity_labels == again.masked_entity_labels).all()
    assert (first.masked_lm_labels != other.masked_lm_labels).any()


@pytest.mark.parametrize(
    "options",
    [
        {"masked_lm_prob": 1.5},
        {"random_word_prob": -0.1},
        {"random_word_prob": 0.6, "unmasked_word_prob": 0.5},
        {"random_entity_prob": 0.7, "unmasked_entity_prob": 0.4},
    ],
)
def test_invalid_options(options):
    with pytest.raises(LukeError):
        MaskingOptions(**options)


def test_roberta_whole_words():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(shared_data("tokenizers", "roberta-base")))
    table = WordTable.from_tokenizer(tokenizer)
    assert table.marks_words
    text = "Unbelievably, Tokyo's skyscrapers (and Zurich) were overshadowed."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert table.starts_word[ids[1:]].tolist() == independent_word_starts(tokens)[1:]
    groups = _groups(tokens, table, ids)
    words = [tokenizer.convert_tokens_to_string([t for t, _ in g]) for g in groups]
    assert words[:4] == ["Unbelievably", ",", " Tokyo", "'s"]
    assert " skyscrapers" in words and " overshadowed" in words
    special = [tokenizer.mask_token_id, tokenizer.pad_token_id, tokenizer.cls_token_id]
    assert not table.maskable[special].any()
    assert not np.isin(table.random_ids, tokenizer.all_special_ids).any()


def _groups(tokens, table, ids):
    groups = []
    for token, token_id in zip(tokens, ids, strict=True):
        if not groups or table.starts_word[token_id]:
            groups.append([])
        groups[-1].append((token, token_id))
    return groups


def test_xlm_roberta_masks_single_pieces():
    from transformers import XLMRobertaTokenizer

    model = shared_data("tokenizers", "xlm-roberta-reconstructed")
    tokenizer = XLMRobertaTokenizer.from_pretrained(str(model))
    table = WordTable.from_tokenizer(tokenizer)
    assert not table.marks_words
    masker = Masker(MaskingOptions(whole_word_masking=True), table, ENTITY_VOCAB)
    ids = np.array(
        tokenizer(
            "Unbelievably, the skyscrapers of Tokyo were overshadowed by Mount Fuji.",
            add_special_tokens=False,
        )["input_ids"]
        * 4,
        dtype=np.int32,
    )
    empty = np.zeros(0, np.int32)
    for seed in range(100):
        out = masker(ids, empty, empty, empty, np.random.default_rng(seed))
        assert (out.masked_lm_labels != -1).sum() == max(1, round(0.15 * len(ids)))
