"""Helpers of the vocabulary tests: invariants every vocabulary file must satisfy, read
from the file itself (not through EntityVocab, which is under test too)."""

import json
from pathlib import Path

import pytest

from luke_core import storage
from luke_testing.shared_data import shared_data_path

SPECIALS = ("[PAD]", "[UNK]", "[MASK]")


def read_vocab_lines(uri: str) -> list[dict]:
    return [json.loads(line) for line in storage.read_text(uri).splitlines()]


def check_vocab_invariants(uri: str, *, blocks: tuple[int, ...] = ()) -> list[dict]:
    """Ids contiguous from 0, the specials at 0-2 with count 0 and one pair per language,
    no (title, language) twice, counts non-increasing after the specials (within each
    block: `blocks` are the ids where a new ordered block starts, e.g. after a white
    list). Returns the parsed lines."""
    lines = read_vocab_lines(uri)
    assert [line["id"] for line in lines] == list(range(len(lines)))
    assert set(lines[0]) == {"id", "entities", "count"}
    languages = sorted({lang for line in lines[3:] for _, lang in line["entities"]}, key=str)
    for i, token in enumerate(SPECIALS):
        assert lines[i]["count"] == 0
        assert sorted(lang for _, lang in lines[i]["entities"]) == sorted(languages, key=str) or (
            len(lines) == 3
        )
        assert {title for title, _ in lines[i]["entities"]} == {token}
    pairs = [tuple(pair) for line in lines for pair in line["entities"]]
    assert len(pairs) == len(set(pairs)), "a (title, language) pair appears twice"
    starts = sorted({3, *blocks})
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        counts = [line["count"] for line in lines[start:end]]
        assert counts == sorted(counts, reverse=True), f"counts increase in ids {start}..{end}"
    return lines


@pytest.fixture
def vocab_invariants():
    return check_vocab_invariants


@pytest.fixture(scope="session")
def wikidata_sample() -> Path:
    """The 10 real Wikidata items of the original LUKE's tests."""
    return shared_data_path("wikidata", "wikidata_20180423_sitelinks10.json")
