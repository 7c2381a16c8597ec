"""The vocabulary of the real enwiki fragment against an independent count of the links in
its raw XML, written here with the standard library only (ElementTree + regexes).

What makes the comparison exact rather than approximate: the dump database keeps the
links of the article's top-level text only, as the reference does. So the independent
count first removes, from the raw wikitext, what puts links out of the top level:
comments, <ref>s, templates (infoboxes, navboxes: nested, removed innermost first),
tables, and File/Image/Category links together with the links nested in their captions
(found by bracket matching). Then every remaining [[target|...]] is a link; its target
is normalised the way MediaWiki does (leading colon and #anchor removed, `_` -> space,
first letter upper-cased) and followed through the raw redirect pages (chains, loops
stop). Only targets that are non-redirect namespace-0 pages count.

With that, every entity's count must agree exactly, not only the top ones."""

from collections import Counter

import pytest

from luke_core.dump_db import BuildDumpDbOptions, build_dump_db
from luke_core.entity_vocab.build import BuildEntityVocabOptions, build_entity_vocab
from luke_core.entity_vocab.vocab import EntityVocab
from luke_testing.raw_wikitext import link_targets, normalise, raw_pages


def independent_counts(path):
    """entity -> number of links to it."""
    pages = raw_pages(path)
    redirects = {normalise(t): normalise(r) for t, ns, r, _ in pages if ns == 0 and r}
    articles = {t for t, ns, r, _ in pages if ns == 0 and not r}

    def resolve(title):
        seen = set()
        while title in redirects and title not in seen:
            seen.add(title)
            title = redirects[title]
        return title

    counts = Counter()
    for _, ns, redirect, text in pages:
        if ns == 0 and not redirect:
            counts.update(t for t in map(resolve, link_targets(text)) if t in articles)
    return counts


@pytest.fixture(scope="module")
def fragment_vocab(enwiki_fragment, tmp_path_factory):
    root = tmp_path_factory.mktemp("fragment")
    build_dump_db(str(enwiki_fragment), str(root / "dump.db"), BuildDumpDbOptions(processes=2))
    options = BuildEntityVocabOptions(language="en", processes=2, progress=False)
    summary = build_entity_vocab(str(root / "dump.db"), str(root / "vocab.jsonl"), options)
    return summary, str(root / "vocab.jsonl"), root


def test_counts_agree_with_an_independent_count_of_the_raw_xml(
    enwiki_fragment, fragment_vocab, vocab_invariants
):
    summary, vocab_path, _ = fragment_vocab
    lines = vocab_invariants(vocab_path)
    ours = {line["entities"][0][0]: line["count"] for line in lines[3:]}
    expected = dict(independent_counts(enwiki_fragment))
    assert ours == expected
    top = sorted(expected.items(), key=lambda tc: (-tc[1], tc[0]))
    assert [(line["entities"][0][0], line["count"]) for line in lines[3:13]] == top[:10]
    assert top[:3] == [("Angola", 13), ("Aristotle", 12), ("Apollo", 7)]
    assert summary.pages == 106 and summary.distinct_entities == len(expected)
    assert summary.links > 20_000  # most links leave the 106-article fragment


def test_vocab_size_keeps_the_top_of_the_same_ranking(fragment_vocab, tmp_path):
    _, full_path, root = fragment_vocab
    options = BuildEntityVocabOptions(vocab_size=10, processes=1, progress=False, language="en")
    build_entity_vocab(str(root / "dump.db"), str(tmp_path / "small.jsonl"), options)
    small = EntityVocab.load(str(tmp_path / "small.jsonl"))
    full = EntityVocab.load(full_path)
    assert len(small) == 10 and small.entries == full.entries[:10]
