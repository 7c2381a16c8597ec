"""Mixing several dataset directories by size^smoothing (mLUKE's languages)."""

from __future__ import annotations

import numpy as np
import pytest

from luke_core.dataset.loading.loader import PretrainingLoader
from luke_core.dataset.loading.mixing import apportion
from luke_testing.pretraining_data import (
    save_tiny_tokenizer,
    synthetic_instances,
    unmasked_instances,
    write_dataset,
)

SIZES = {"en": 640, "ja": 160, "sw": 48}  # each a multiple of 2 ranks x 2 workers x 4
PAGE_BASE = {"en": 0, "ja": 10_000, "sw": 20_000}


@pytest.fixture(scope="module")
def languages(tmp_path_factory):
    """Three dataset dirs of different sizes; page ids tell the language of an item."""
    root = tmp_path_factory.mktemp("mixing")
    tokenizer = save_tiny_tokenizer(str(root / "tokenizer"))
    pool = [i for i in range(len(tokenizer)) if i not in set(tokenizer.all_special_ids)]
    instances, dirs = {}, []
    for k, (language, size) in enumerate(SIZES.items()):
        items = synthetic_instances(
            size, word_ids=pool, rng=np.random.default_rng(k), first_page_id=PAGE_BASE[language]
        )
        write_dataset(
            str(root / language),
            items,
            tokenizer_dir=str(root / "tokenizer"),
            items_per_shard=50,
            language=language,
        )
        instances.update({item.page_id: item for item in items})
        dirs.append(str(root / language))
    return dirs, instances


def language_of(page: int) -> str:
    return max((base, lang) for lang, base in PAGE_BASE.items() if page >= base)[1]


def expected_shares(smoothing: float) -> dict[str, float]:
    weights = {lang: size**smoothing for lang, size in SIZES.items()}
    return {lang: w / sum(weights.values()) for lang, w in weights.items()}


@pytest.mark.parametrize("smoothing", [0.7, 1.0, 0.0])
def test_mixing_proportions_follow_size_to_the_smoothing(languages, smoothing):
    dirs, instances = languages
    pages = []
    for rank in (0, 1):
        loader = PretrainingLoader(
            dirs,
            batch_size=4,
            rank=rank,
            world_size=2,
            num_workers=2,
            sampling_smoothing=smoothing,
            seed=3,
        )
        assert loader.info.languages == ("en", "ja", "sw")
        for batch in loader:
            assert all(row == instances[row.page_id] for row in unmasked_instances(batch))
            pages += batch["page_id"].tolist()
    total = len(pages)
    assert total == sum(SIZES.values())  # an epoch holds as many items as all dirs
    counts = {lang: 0 for lang in SIZES}
    for page in pages:
        counts[language_of(page)] += 1
    for lang, share in expected_shares(smoothing).items():
        # stratified draws: exact up to rounding, far inside a binomial 3-sigma band
        tolerance = 3 * np.sqrt(share * (1 - share) / total)
        assert abs(counts[lang] / total - share) < tolerance, (lang, counts)


def test_each_pass_of_a_dataset_shows_every_item_once(languages):
    dirs, _ = languages
    loader = PretrainingLoader(dirs, batch_size=4, sampling_smoothing=0.0, seed=8)
    stream = {lang: [] for lang in SIZES}
    for _ in range(3):
        for batch in loader:
            for page in batch["page_id"].tolist():
                stream[language_of(page)].append(page)
    for lang, size in SIZES.items():
        pages = stream[lang]
        assert len(pages) == 3 * loader.layout.quotas[list(SIZES).index(lang)]
        passes = [pages[i : i + size] for i in range(0, len(pages) - size + 1, size)]
        assert passes and all(len(set(p)) == size for p in passes), lang
    # uniform: about 283 items per epoch from each, so the small language went round
    # about 17 times; its passes are shuffled differently
    assert loader.layout.quotas == (283, 283, 282)
    sw = stream["sw"]
    assert sw[:48] != sw[48:96]


def test_with_smoothing_one_every_item_once_per_epoch(languages):
    dirs, instances = languages
    pages = []
    for rank in (0, 1):
        loader = PretrainingLoader(
            dirs, batch_size=4, rank=rank, world_size=2, num_workers=2, sampling_smoothing=1.0
        )
        pages += [p for batch in loader for p in batch["page_id"].tolist()]
    assert sorted(pages) == sorted(instances)


def test_apportion_is_exact_and_sums_to_the_total():
    assert apportion(10, [0.5, 0.3, 0.2]) == [5, 3, 2]
    assert apportion(10, [1 / 3] * 3) == [4, 3, 3]
    counts = apportion(1001, [0.61, 0.29, 0.1])
    assert sum(counts) == 1001 and counts == [611, 290, 100]


def test_sampling_probabilities_reported(languages):
    dirs, _ = languages
    loader = PretrainingLoader(dirs, batch_size=4, sampling_smoothing=0.5)
    shares = expected_shares(0.5)
    got = loader.sampling_probabilities
    assert list(got) == dirs
    for uri, lang in zip(dirs, SIZES, strict=True):
        assert got[uri] == pytest.approx(shares[lang])
