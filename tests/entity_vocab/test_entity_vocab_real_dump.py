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

import bz2
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from luke_core.dump_db import BuildDumpDbOptions, build_dump_db
from luke_core.entity_vocab.build import BuildEntityVocabOptions, build_entity_vocab
from luke_core.entity_vocab.vocab import EntityVocab

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_INNERMOST_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_INNERMOST_TABLE = re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.S)
_MEDIA_LINK_START = re.compile(r"\[\[\s*(?:file|image|category)\s*:", re.I)
_LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|[^\[\]]*)?\]\]")


def raw_pages(path):
    """(title, namespace, redirect target or None, wikitext) of every page."""
    pages = []
    for _, element in ET.iterparse(bz2.open(path)):
        if element.tag.endswith("}page"):
            ns = element.tag[: -len("page")]
            redirect = element.find(f"{ns}redirect")
            pages.append(
                (
                    element.findtext(f"{ns}title"),
                    int(element.findtext(f"{ns}ns")),
                    None if redirect is None else redirect.get("title"),
                    element.findtext(f"{ns}revision/{ns}text") or "",
                )
            )
            element.clear()
    return pages


def normalise(title):
    title = re.sub(r"[\s_]+", " ", title).strip().lstrip(":").strip()
    title = title.split("#")[0].rstrip()
    return title[:1].upper() + title[1:]


def remove_repeatedly(pattern, text):
    while True:
        shorter = pattern.sub("", text)
        if shorter == text:
            return text
        text = shorter


def remove_media_links(text):
    """Drop [[File:...]] and the like with everything nested in them."""
    out, position = [], 0
    for match in _MEDIA_LINK_START.finditer(text):
        if match.start() < position:
            continue
        depth, i = 0, match.start()
        while i < len(text):
            if text.startswith("[[", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("]]", i):
                depth, i = depth - 1, i + 2
                if depth == 0:
                    break
            else:
                i += 1
        out.append(text[position : match.start()])
        position = i
    out.append(text[position:])
    return "".join(out)


def top_level_link_targets(wikitext):
    text = _REF.sub("", _COMMENT.sub("", wikitext))
    text = remove_repeatedly(_INNERMOST_TABLE, remove_repeatedly(_INNERMOST_TEMPLATE, text))
    return [normalise(m.group(1)) for m in _LINK.finditer(remove_media_links(text))]


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
            counts.update(t for t in map(resolve, top_level_link_targets(text)) if t in articles)
    return counts


@pytest.fixture(scope="module")
def fragment_vocab(enwiki_fragment, tmp_path_factory):
    root = tmp_path_factory.mktemp("fragment")
    build_dump_db(str(enwiki_fragment), str(root / "dump.db"), BuildDumpDbOptions(pool_size=2))
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
    assert top[:3] == [("Angola", 12), ("Aristotle", 12), ("Apollo", 7)]
    assert summary.pages == 106 and summary.distinct_entities == len(expected)
    assert summary.links > 20_000  # most links leave the 106-article fragment


def test_vocab_size_keeps_the_top_of_the_same_ranking(fragment_vocab, tmp_path):
    _, full_path, root = fragment_vocab
    options = BuildEntityVocabOptions(vocab_size=10, processes=1, progress=False, language="en")
    build_entity_vocab(str(root / "dump.db"), str(tmp_path / "small.jsonl"), options)
    small = EntityVocab.load(str(tmp_path / "small.jsonl"))
    full = EntityVocab.load(full_path)
    assert len(small) == 10 and small.entries == full.entries[:10]
