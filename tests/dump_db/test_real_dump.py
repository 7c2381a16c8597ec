"""The real enwiki fragment (../shared/data): counts from the raw XML, and every page's
links checked against an independent extraction from the raw wikitext."""

import bz2
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db

EXPORT_NS = "{http://www.mediawiki.org/xml/export-0.10/}"


@pytest.fixture(scope="module")
def raw_pages(enwiki_fragment):
    """(title, namespace, is_redirect, text) of every page, read with ElementTree."""
    pages = []
    for _, element in ET.iterparse(bz2.open(enwiki_fragment)):
        if element.tag == EXPORT_NS + "page":
            pages.append((
                element.findtext(EXPORT_NS + "title"),
                int(element.findtext(EXPORT_NS + "ns")),
                element.find(EXPORT_NS + "redirect") is not None,
                element.find(EXPORT_NS + "revision").findtext(EXPORT_NS + "text"),
            ))  # fmt: skip
            element.clear()
    return pages


@pytest.fixture(scope="module")
def fragment_db(enwiki_fragment, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("real") / "enwiki.db")
    summary = build_dump_db(str(enwiki_fragment), out, BuildDumpDbOptions(pool_size=2))
    return out, summary


def test_counts_match_the_raw_xml(fragment_db, raw_pages):
    _, summary = fragment_db
    ns0 = [p for p in raw_pages if p[1] == 0]
    assert summary.pages == sum(not p[2] for p in ns0) == 106
    assert summary.redirects == sum(p[2] for p in ns0) == 99
    assert summary.skipped_pages == len(raw_pages) - len(ns0) == 1
    assert summary.unparseable_pages == 0
    with DumpDB(fragment_db[0]) as db:
        assert db.counts()["links"] == summary.links
        assert sorted(db.titles()) == sorted(p[0] for p in ns0 if not p[2])
        assert db.meta["site"]["generator"] == "MediaWiki 1.27.0-wmf.22"


def independent_links(wikitext: str, lead_only: bool) -> list[str]:
    """Link targets by regular expressions alone: refs, comments, templates, tables and
    File/Image/Category links removed, then every [[target|...]] normalised."""
    text = re.sub(r"<!--.*?-->", "", wikitext, flags=re.S)
    text = re.sub(r"<ref[^>/]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.S)
    text = remove_innermost(text, "{{", "}}")
    text = remove_innermost(text, "{|", "|}")
    text = remove_media_links(text)
    if lead_only:
        text = re.split(r"^=+[^=\n].*=+\s*$", text, maxsplit=1, flags=re.M)[0]
    titles = []
    for target in re.findall(r"\[\[([^\]|]+)(?:\|[^\]]*)?\]\]", text):
        title = re.sub(r"\s+", " ", target.strip().lstrip(":").split("#")[0].replace("_", " "))
        if title.strip():
            titles.append(title.strip()[0].upper() + title.strip()[1:])
    return titles


def remove_innermost(text: str, opening: str, closing: str) -> str:
    pattern = re.compile(
        re.escape(opening)
        + rf"(?:(?!{re.escape(opening)})(?!{re.escape(closing)}).)*?"
        + re.escape(closing),
        re.S,
    )
    while True:
        reduced = pattern.sub("", text)
        if reduced == text:
            return text
        text = reduced


def remove_media_links(text: str) -> str:
    while match := re.search(r"\[\[(?:File|Image|Category):", text, re.I):
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
        text = text[: match.start()] + text[i:]
    return text


def test_abstract_links_of_every_article_match_the_raw_xml(fragment_db, raw_pages):
    with DumpDB(fragment_db[0]) as db:
        for title, namespace, is_redirect, text in raw_pages:
            if namespace or is_redirect:
                continue
            page = db.get_page(title)
            ours = [ln.title for p in page.paragraphs if p.is_abstract for ln in p.links]
            assert ours == independent_links(text, lead_only=True), title


def test_all_links_agree_with_the_raw_xml(fragment_db, raw_pages):
    """Beyond the abstract the regex extraction also sees links that MediaWiki does not
    render as text (galleries, links whose text is a template): agreement, not identity."""
    ours_total = theirs_total = common = 0
    with DumpDB(fragment_db[0]) as db:
        for title, namespace, is_redirect, text in raw_pages:
            if namespace or is_redirect:
                continue
            ours = Counter(ln.title for p in db.get_page(title).paragraphs for ln in p.links)
            theirs = Counter(independent_links(text, lead_only=False))
            ours_total += sum(ours.values())
            theirs_total += sum(theirs.values())
            common += sum((ours & theirs).values())
    assert theirs_total > 20_000
    assert common / theirs_total > 0.99
    assert common / ours_total > 0.999


def test_known_pages(fragment_db):
    with DumpDB(fragment_db[0]) as db:
        anarchism = db.get_page("Anarchism")
        lead = anarchism.paragraphs[0]
        assert lead.text.startswith("Anarchism is a political philosophy that advocates")
        assert [(ln.title, ln.text) for ln in lead.links[:3]] == [
            ("Political philosophy", "political philosophy"),
            ("Self-governance", "self-governed"),
            ("Stateless society", "stateless societies"),
        ]
        for paragraph in anarchism.paragraphs:
            for link in paragraph.links:
                assert paragraph.text[link.start : link.end] == link.text
        assert db.resolve_redirect("AccessibleComputing") == "Computer accessibility"
        assert db.get_page("Aberdeen (disambiguation)").is_disambiguation
        assert not anarchism.is_disambiguation
        science = db.get_page("Agricultural science")
        assert science.paragraphs[0].text.startswith("Agricultural science is a broad")
