"""Write small MediaWiki XML exports for tests and benchmarks: plain, bz2, multistream
bz2 (one stream per block of pages, as Wikimedia publishes them), gzip, any encoding."""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

NAMESPACES = {
    -2: "Media",
    -1: "Special",
    0: "",
    1: "Talk",
    4: "Wikipedia",
    6: "File",
    10: "Template",
    14: "Category",
}


@dataclass(frozen=True)
class WikiPage:
    title: str
    text: str = ""
    namespace: int = 0
    redirect: str | None = None
    page_id: int = 0
    model: str = "wikitext"


def export_xml(
    pages: Sequence[WikiPage],
    *,
    language: str = "en",
    dbname: str = "enwiki",
    namespaces: dict[int, str] | None = None,
    encoding: str = "utf-8",
    with_ns: bool = True,
    redirect_elements: bool = True,
) -> str:
    """The text of a MediaWiki export (schema 0.10) holding `pages`."""
    namespaces = NAMESPACES if namespaces is None else namespaces
    return (
        _header(language, dbname, namespaces, encoding)
        + "".join(page_xml(p, i + 1, with_ns, redirect_elements) for i, p in enumerate(pages))
        + "</mediawiki>\n"
    )


def _header(language: str, dbname: str, namespaces: dict[int, str], encoding: str) -> str:
    ns_lines = "".join(
        f'      <namespace key="{k}" case="first-letter">{escape(v)}</namespace>\n'
        if v
        else f'      <namespace key="{k}" case="first-letter" />\n'
        for k, v in sorted(namespaces.items())
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" '
        f'xml:lang="{language}">\n'
        "  <siteinfo>\n    <sitename>Wikipedia</sitename>\n"
        f"    <dbname>{dbname}</dbname>\n"
        f"    <base>https://{language}.wikipedia.org/wiki/Main_Page</base>\n"
        "    <generator>MediaWiki 1.43.0-wmf.1</generator>\n    <case>first-letter</case>\n"
        f"    <namespaces>\n{ns_lines}    </namespaces>\n  </siteinfo>\n"
    )


def page_xml(page: WikiPage, default_id: int, with_ns: bool, redirect_elements: bool) -> str:
    ns = f"    <ns>{page.namespace}</ns>\n" if with_ns else ""
    redirect = ""
    if page.redirect is not None and redirect_elements:
        redirect = f"    <redirect title={quoteattr(page.redirect)} />\n"
    text = page.text
    if page.redirect is not None and not text:
        text = f"#REDIRECT [[{page.redirect}]]"
    return (
        f"  <page>\n    <title>{escape(page.title)}</title>\n{ns}"
        f"    <id>{page.page_id or default_id}</id>\n{redirect}"
        "    <revision>\n      <id>1</id>\n      <timestamp>2024-01-01T00:00:00Z</timestamp>\n"
        "      <contributor><username>Test</username><id>1</id></contributor>\n"
        f"      <model>{page.model}</model>\n      <format>text/x-wiki</format>\n"
        f'      <text bytes="{len(text.encode())}" xml:space="preserve">{escape(text)}</text>\n'
        "    </revision>\n  </page>\n"
    )


def write_dump(
    path: str,
    pages: Sequence[WikiPage],
    *,
    compression: str = "none",
    encoding: str = "utf-8",
    **kwargs,
) -> str:
    """Write an export; compression none, bz2, gzip or multistream (bz2, 2 pages a stream)."""
    if compression == "multistream":
        return write_multistream(path, pages, **kwargs)
    text = export_xml(pages, encoding=encoding, **kwargs)
    data = text.encode(encoding)
    if encoding.lower().replace("-", "") == "utf16":
        data = text.encode("utf-16")  # with its BOM, as real UTF-16 fragments have
    if compression == "bz2":
        data = bz2.compress(data)
    elif compression == "gzip":
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_multistream(
    path: str, pages: Sequence[WikiPage], pages_per_stream: int = 2, **kwargs
) -> str:
    """Header, blocks of pages and footer each in their own bz2 stream, concatenated."""
    full = export_xml(pages, **kwargs)
    header, _, _ = full.partition("  <page>\n")
    with_ns = kwargs.get("with_ns", True)
    redirects = kwargs.get("redirect_elements", True)
    blocks = [
        "".join(
            page_xml(p, start + i + 1, with_ns, redirects)
            for i, p in enumerate(pages[start : start + pages_per_stream])
        )
        for start in range(0, len(pages), pages_per_stream)
    ]
    with open(path, "wb") as f:
        for part in (header, *blocks, "</mediawiki>\n"):
            f.write(bz2.compress(part.encode("utf-8")))
    return path
