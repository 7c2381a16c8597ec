"""The real enwiki fragment (../shared/data): counts from the raw XML, and every page's
links checked against an independent extraction from the raw wikitext."""

from collections import Counter

import pytest

from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db
from luke_testing.raw_wikitext import link_targets, raw_pages


@pytest.fixture(scope="module")
def pages(enwiki_fragment):
    return raw_pages(enwiki_fragment)


@pytest.fixture(scope="module")
def fragment_db(enwiki_fragment, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("real") / "enwiki.db")
    summary = build_dump_db(str(enwiki_fragment), out, BuildDumpDbOptions(processes=2))
    return out, summary


def test_counts_match_the_raw_xml(fragment_db, pages):
    _, summary = fragment_db
    ns0 = [p for p in pages if p.namespace == 0]
    assert summary.pages == sum(not p.redirect for p in ns0) == 106
    assert summary.redirects == sum(bool(p.redirect) for p in ns0) == 99
    assert summary.skipped_pages == len(pages) - len(ns0) == 1
    assert summary.unparseable_pages == 0
    with DumpDB(fragment_db[0]) as db:
        assert db.counts()["links"] == summary.links
        assert sorted(db.titles()) == sorted(p.title for p in ns0 if not p.redirect)
        assert db.meta["site"]["generator"] == "MediaWiki 1.27.0-wmf.22"


def test_abstract_links_of_every_article_match_the_raw_xml(fragment_db, pages):
    with DumpDB(fragment_db[0]) as db:
        for title, namespace, is_redirect, text in pages:
            if namespace or is_redirect:
                continue
            page = db.get_page(title)
            ours = [ln.title for p in page.paragraphs if p.is_abstract for ln in p.links]
            assert ours == link_targets(text, lead_only=True), title


def test_all_links_agree_with_the_raw_xml(fragment_db, pages):
    """Beyond the abstract the regex extraction also sees links that MediaWiki does not
    render as text (galleries, links whose text is a template): agreement, not identity."""
    ours_total = theirs_total = common = 0
    with DumpDB(fragment_db[0]) as db:
        for title, namespace, is_redirect, text in pages:
            if namespace or is_redirect:
                continue
            ours = Counter(ln.title for p in db.get_page(title).paragraphs for ln in p.links)
            theirs = Counter(link_targets(text))
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
