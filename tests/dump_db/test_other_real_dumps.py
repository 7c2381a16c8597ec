"""Other real dumps: the fragments shipped in the gensim wheel on PyPI (a Bulgarian dump
in UTF-16 from MediaWiki 1.29, an English one heavy with table markup), fetched the way the
demo fetches its sample on a machine without ../shared. Counts against ElementTree."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from luke_core import storage
from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db
from luke_core.dump_db.reader import DumpReader
from luke_core.samples import BGWIKI_FRAGMENT, TABLE_MARKUP_FRAGMENT, gensim_samples_dir

EXPORT_NS = "{http://www.mediawiki.org/xml/export-0.10/}"


@pytest.fixture(scope="session")
def gensim_samples() -> Path:
    """The gensim sample dumps in the user's cache (fetched from PyPI once)."""
    from luke_core.samples import fetch_gensim_samples

    folder = gensim_samples_dir()
    if not (folder / BGWIKI_FRAGMENT).exists():
        fetch_gensim_samples()
    return folder


def element_tree_counts(path: Path) -> tuple[int, int, int]:
    """(articles, redirects, other pages) by a plain ElementTree parse."""
    import bz2

    articles = redirects = others = 0
    for _, element in ET.iterparse(bz2.open(path)):
        if element.tag == EXPORT_NS + "page":
            if element.findtext(EXPORT_NS + "ns") != "0":
                others += 1
            elif element.find(EXPORT_NS + "redirect") is not None:
                redirects += 1
            else:
                articles += 1
            element.clear()
    return articles, redirects, others


@pytest.mark.parametrize("name", [BGWIKI_FRAGMENT, TABLE_MARKUP_FRAGMENT])
def test_counts_match_element_tree(gensim_samples, tmp_path, name):
    path = gensim_samples / name
    out = str(tmp_path / "out.db")
    summary = build_dump_db(str(path), out, BuildDumpDbOptions(processes=2, progress=False))
    articles, redirects, others = element_tree_counts(path)
    assert (summary.pages, summary.redirects, summary.skipped_pages) == (
        articles,
        redirects,
        others,
    )
    with DumpDB(out) as db:
        for page in db.iter_pages():
            assert page.paragraphs, page.title
            for paragraph in page.paragraphs:
                for link in paragraph.links:
                    assert paragraph.text[link.start : link.end] == link.text


def test_utf16_bulgarian_dump(gensim_samples, tmp_path):
    path = gensim_samples / BGWIKI_FRAGMENT
    with DumpReader(str(path)) as reader:
        pages = list(reader.pages())
        assert reader.siteinfo.language == "bg"
        assert reader.siteinfo.generator.startswith("MediaWiki 1.29")
        assert reader.siteinfo.namespaces[14] == "Категория"
    out = str(tmp_path / "bg.db")
    build_dump_db(str(path), out, BuildDumpDbOptions(processes=1, progress=False))
    with DumpDB(out) as db:
        assert db.language == "bg"
        (article,) = [p for p in pages if p.namespace == 0]
        page = db.get_page(article.title)
        assert page.title == "Григориански календар"
        # the page opens with five images, the first [[File:Gregory XIII.jpg|thumb|[[Папа]]
        # [[Григорий XIII]]]]: their captions are text, their links links, the files none
        caption = page.paragraphs[0]
        assert caption.text == "Папа Григорий XIII"
        assert [(ln.title, ln.text) for ln in caption.links] == [
            ("Папа", "Папа"),
            ("Григорий XIII", "Григорий XIII"),
        ]
        assert page.paragraphs[1].text == "Вечният григориански календар от 15 октомври 1582"
        assert page.paragraphs[5].text.startswith("Григорианският календар")
        titles = {ln.title for p in page.paragraphs for ln in p.links}
        assert "ISO 8601" in titles
        assert not any(t.startswith(("Категория:", "Файл:")) for t in titles)


def test_sample_is_cached_for_the_demo(gensim_samples):
    assert storage.size(str(gensim_samples / TABLE_MARKUP_FRAGMENT)) > 10_000
