"""Streaming reader of MediaWiki XML exports (`pages-articles*.xml[.bz2]`).

Reads plain XML, bz2 (single or multistream: Python's bz2 reader concatenates streams)
and gzip, detected by their magic bytes, from a local path or an S3 URI, in chunks: the
dump is never held in memory. The XML goes through expat, which decodes UTF-8, UTF-16
(with its BOM) and the single-byte encodings itself; any other encoding the XML
declaration names (Shift_JIS, EUC-JP, ...) is transcoded to UTF-8 on the fly.

Problems are reported as `LukeError`s naming the file and how far the reader got:
missing file, not XML, truncated or corrupt compressed data, XML that is not a MediaWiki
export.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.parsers import expat

from luke_core import storage
from luke_core.compressed import DecompressedInput
from luke_core.errors import LukeError

CHUNK_BYTES = 1 << 18
# Encodings expat decodes itself; everything else is transcoded before parsing.
_EXPAT_NATIVE = {"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii", "iso-8859-1", "latin-1"}
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


@dataclass
class SiteInfo:
    """The `<siteinfo>` header and the root element's attributes."""

    language: str | None = None
    export_version: str | None = None
    sitename: str | None = None
    dbname: str | None = None
    base: str | None = None
    generator: str | None = None
    case: str = "first-letter"
    namespaces: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawPage:
    """One `<page>` as found in the dump: the latest revision's text, unparsed."""

    title: str
    namespace: int
    page_id: int
    redirect: str | None
    text: str
    model: str | None


class DumpReader:
    """Iterate the pages of one dump file; `siteinfo` is filled once the header is read.

    `bytes_read` (compressed bytes consumed so far) drives the progress bar."""

    def __init__(self, uri: str):
        self.uri = uri
        self.siteinfo = SiteInfo()
        self._input: DecompressedInput | None = None
        self.xml_bytes = 0
        self.total_bytes: int | None = None
        try:
            self.total_bytes = storage.size(uri)
        except LukeError:
            self.total_bytes = None

    @property
    def bytes_read(self) -> int:
        return self._input.bytes_read if self._input else 0

    @property
    def compression(self) -> str:
        return self._input.compression if self._input else "none"

    def close(self) -> None:
        if self._input is not None:
            self._input.close()

    def __enter__(self) -> DumpReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def pages(self) -> Iterator[RawPage]:
        self._input = stream = DecompressedInput(storage.open_input(self.uri, "rb"), CHUNK_BYTES)
        first = self._read(stream)
        if not first.strip():
            raise LukeError(f"{self.uri}: the file is empty")
        feeder = _Feeder(self.uri, first)
        handler = _ExportHandler(self.uri, self.siteinfo)
        parser = feeder.make_parser(handler)
        chunk = first
        while chunk:
            self._parse(parser, feeder.transcode(chunk), False)
            yield from handler.take_pages()
            chunk = self._read(stream)
        self._parse(parser, feeder.transcode(b"", final=True), True)
        yield from handler.take_pages()
        if not handler.saw_root:
            raise LukeError(f"{self.uri}: not a MediaWiki export (no root element)")

    def _read(self, stream) -> bytes:
        where = f"after {self.bytes_read:,} of {self.total_bytes or 0:,} compressed bytes"
        try:
            data = stream.read(CHUNK_BYTES)
        except EOFError:
            raise LukeError(
                f"{self.uri}: truncated {self.compression} file: the compressed stream ends "
                f"early ({where})"
            ) from None
        except (OSError, zlib.error, ValueError) as exc:
            raise LukeError(
                f"{self.uri}: corrupt {self.compression} data ({exc}) {where}"
            ) from None
        self.xml_bytes += len(data)
        return data

    def _parse(self, parser, data: bytes, final: bool) -> None:
        try:
            parser.Parse(data, final)
        except expat.ExpatError as exc:
            problem = expat.ErrorString(exc.code)
            if final and exc.code in (
                expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],
                expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
            ):
                problem = f"truncated XML ({problem})"
            raise LukeError(
                f"{self.uri}: not well-formed XML at line {exc.lineno}, column {exc.offset}: "
                f"{problem}"
            ) from None


class _Feeder:
    """Picks how bytes reach expat: as they are, or transcoded to UTF-8 when the XML
    declaration names an encoding expat cannot decode itself."""

    def __init__(self, uri: str, first_chunk: bytes):
        self.uri = uri
        self.decoder = None
        encoding = self._declared_encoding(first_chunk)
        if encoding and encoding.lower() not in _EXPAT_NATIVE:
            try:
                info = codecs.lookup(encoding)
            except LookupError:
                raise LukeError(
                    f"{uri}: the XML declares an unknown encoding {encoding!r}"
                ) from None
            self.decoder = info.incrementaldecoder(errors="strict")
            self.encoding = info.name

    @staticmethod
    def _declared_encoding(head: bytes) -> str | None:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None  # expat reads UTF-16 with a BOM natively
        match = _DECLARED_ENCODING.match(head.removeprefix(codecs.BOM_UTF8))
        return match.group(1).decode("ascii") if match else None

    def make_parser(self, handler: _ExportHandler):
        parser = expat.ParserCreate("utf-8" if self.decoder else None)
        parser.buffer_text = True
        parser.buffer_size = 1 << 16
        parser.StartElementHandler = handler.start
        parser.EndElementHandler = handler.end
        parser.CharacterDataHandler = handler.characters
        return parser

    def transcode(self, data: bytes, final: bool = False) -> bytes:
        if self.decoder is None:
            return data
        try:
            return self.decoder.decode(data, final).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise LukeError(
                f"{self.uri}: bytes that are not valid {self.encoding}, as the XML declares "
                f"({exc.reason})"
            ) from None


_SITEINFO_FIELDS = {"sitename", "dbname", "base", "generator", "case"}
_PAGE_FIELDS = {"title", "ns", "id"}


class _ExportHandler:
    """expat callbacks collecting `<siteinfo>` and `<page>` elements."""

    def __init__(self, uri: str, siteinfo: SiteInfo):
        self.uri = uri
        self.siteinfo = siteinfo
        self.saw_root = False
        self.path: list[str] = []
        self.buffer: list[str] | None = None
        self.page: dict = {}
        self.namespace_key: int | None = None
        self.done: list[RawPage] = []

    def take_pages(self) -> list[RawPage]:
        pages, self.done = self.done, []
        return pages

    def start(self, name: str, attrs: dict) -> None:
        local = name.rpartition("}")[2] if "}" in name else name
        depth = len(self.path)
        self.path.append(local)
        if depth == 0:
            self._start_root(local, attrs)
        elif local == "page" and depth == 1:
            self.page = {"text": "", "redirect": None, "model": None}
        elif depth == 2 and self.path[1] == "page":
            if local in _PAGE_FIELDS:
                self.buffer = []
            elif local == "redirect":
                self.page["redirect"] = attrs.get("title", "")
        elif depth == 3 and self.path[1] == "page" and self.path[2] == "revision":
            if local in ("text", "model"):
                self.buffer = []
        elif depth == 2 and self.path[1] == "siteinfo" and local in _SITEINFO_FIELDS:
            self.buffer = []
        elif local == "namespace" and self.path[1:3] == ["siteinfo", "namespaces"]:
            self.namespace_key = int(attrs.get("key", "0"))
            self.buffer = []

    def _start_root(self, local: str, attrs: dict) -> None:
        if local != "mediawiki":
            raise LukeError(
                f"{self.uri}: not a MediaWiki export: the root element is <{local}>, "
                "expected <mediawiki>"
            )
        self.saw_root = True
        self.siteinfo.language = attrs.get("xml:lang") or attrs.get(
            "http://www.w3.org/XML/1998/namespace lang"
        )
        self.siteinfo.export_version = attrs.get("version")

    def characters(self, data: str) -> None:
        if self.buffer is not None:
            self.buffer.append(data)

    def end(self, name: str) -> None:
        local = self.path.pop()
        if self.buffer is not None:
            value = "".join(self.buffer)
            self.buffer = None
            self._store(local, value)
        if local == "page" and len(self.path) == 1:
            self._finish_page()

    def _store(self, local: str, value: str) -> None:
        parent = self.path[-1] if self.path else ""
        if parent == "page":
            # a page's own <id>; revision and contributor ids sit deeper
            self.page[local] = value
        elif parent == "revision":
            # several revisions (a history dump): the last one wins
            self.page[local] = value
        elif parent == "siteinfo":
            setattr(self.siteinfo, local, value.strip())
        elif local == "namespace" and self.namespace_key is not None:
            self.siteinfo.namespaces[self.namespace_key] = value.strip()

    def _finish_page(self) -> None:
        page = self.page
        try:
            namespace = int(page["ns"]) if "ns" in page else self._namespace_of(page)
            page_id = int(page.get("id", "0") or 0)
        except ValueError:
            raise LukeError(
                f"{self.uri}: page {page.get('title')!r} has a non-numeric <ns> or <id>"
            ) from None
        self.done.append(
            RawPage(
                title=page.get("title", ""),
                namespace=namespace,
                page_id=page_id,
                redirect=page["redirect"],
                text=page.get("text", ""),
                model=page.get("model"),
            )
        )

    def _namespace_of(self, page: dict) -> int:
        """Exports before schema 0.5 have no <ns>: take it from the title's prefix."""
        prefix, colon, _ = page.get("title", "").partition(":")
        if colon:
            for key, name in self.siteinfo.namespaces.items():
                if name and name.lower() == prefix.strip().lower():
                    return key
        return 0
