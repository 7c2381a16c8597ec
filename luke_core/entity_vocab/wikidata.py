"""Streaming reader of the Wikidata JSON dump (`latest-all.json[.bz2|.gz]`).

The dump is one JSON array written one entity per line: a `[` line, then each entity on
its own line followed by a comma, then a `]` line. The stream (compression detected by
magic bytes, not by the file name) is cut into blocks of whole lines, numbered by their
first line; parsing happens in `parse_batch`, which worker processes run. A missing final
`]` (a dump cut short on a clean line) is tolerated; a JSON-lines file without the
brackets and commas (what filtering tools write) is read too.

Only what the interwiki database needs is kept from an entity: its `id` (`Q42`; the
trimmed test fixtures of the original LUKE have none) and the titles of its Wikipedia
sitelinks. A sitelink's site is a language Wikipedia when it ends in `wiki` and is not
one of the project wikis below; its language is the wiki's subdomain (`zh_yuewiki` ->
`zh-yue`, `simplewiki` -> `simple`), which is also how users name the Wikipedia whose
dump they built, so `-l zh-yue` matches the dump of zh-yue.wikipedia.org.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec

from luke_core import storage
from luke_core.compressed import DecompressedInput
from luke_core.errors import LukeError

# Sites whose id ends in "wiki" but that are no language edition of Wikipedia.
NON_LANGUAGE_WIKIS = frozenset({
    "commonswiki", "specieswiki", "metawiki", "wikidatawiki", "mediawikiwiki", "sourceswiki",
    "wikimaniawiki", "incubatorwiki", "outreachwiki", "foundationwiki", "testwikidatawiki",
    "wikifunctionswiki", "testwiki", "test2wiki", "strategywiki", "usabilitywiki",
    "nostalgiawiki", "tenwiki", "labswiki", "labtestwiki", "loginwiki", "votewiki",
    "advisorywiki", "donatewiki", "collabwiki", "officewiki", "stewardwiki", "internalwiki",
    "qualitywiki", "searchcomwiki", "sep11wiki", "legalteamwiki", "boardwiki", "chairwiki",
    "spcomwiki", "wg_enwiki", "otrs_wikiwiki", "checkuserwiki", "apiportalwiki",
    "testcommonswiki", "beta_wikiversitywiki", "wikitechwiki", "arbcom_enwiki",
})  # fmt: skip
_NON_LANGUAGE_PATTERN = re.compile(r"wikimania\d*wiki|arbcom_\w+wiki|\w+wikimediawiki")
LANGUAGE_CODE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_LINE_BYTES = 64 << 20  # the largest real entities are a few MB
STDIN = "-"


@functools.lru_cache(maxsize=4096)  # a few hundred sites exist; parsing asks millions of times
def site_language(site: str) -> str | None:
    """The language code of a Wikipedia's site id, or None for any other site."""
    if not site.endswith("wiki") or site in NON_LANGUAGE_WIKIS:
        return None
    if _NON_LANGUAGE_PATTERN.fullmatch(site):
        return None
    code = site[: -len("wiki")].replace("_", "-")
    return code if LANGUAGE_CODE.fullmatch(code) else None


def normalize_language(code: str) -> str:
    """A language as users type it (`zh_yue`, ` EN `) in the form the database uses."""
    normal = code.strip().lower().replace("_", "-")
    if not LANGUAGE_CODE.fullmatch(normal):
        raise LukeError(f"{code!r} is not a Wikipedia language code (like en, ja, zh-yue)")
    return normal


@dataclass(slots=True)
class ParsedBatch:
    """What a worker made of a block of lines."""

    items: list[tuple[int, str | None, list[tuple[str, str]]]] = field(default_factory=list)
    """(line number, Wikidata id, [(language, title), ...]) of items with kept sitelinks."""
    item_count: int = 0
    other_entities: int = 0
    """Properties, lexemes and other entity types: they have no Wikipedia sitelinks."""
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    closing_bracket: bool = False


def parse_batch(task: tuple[frozenset[str] | None, int, bytes]) -> ParsedBatch:
    """Worker: parse a block of whole lines whose first is line `first`; blank lines and
    the closing `]` are skipped, malformed lines come back with the reason."""
    languages, first, block = task
    out = ParsedBatch()
    for number, line in enumerate(block.split(b"\n"), start=first):
        if len(line) <= 8:  # strip only short lines: blank ones and the closing bracket
            stripped = line.strip()
            if stripped == b"]":
                out.closing_bracket = True
            if stripped in (b"", b"]"):
                continue
        try:
            parsed = parse_entity_line(line, languages)
        except (ValueError, UnicodeDecodeError) as exc:
            out.bad_lines.append((number, str(exc)[:200]))
            continue
        if parsed is None:
            out.other_entities += 1
            continue
        out.item_count += 1
        qid, sitelinks = parsed
        if sitelinks:
            out.items.append((number, qid, sitelinks))
    return out


class _Sitelink(msgspec.Struct):
    title: str
    site: str | None = None


class _Entity(msgspec.Struct):
    """The fields read from an entity; labels, claims and the rest are skipped unread
    (still checked to be valid JSON), which makes parsing ~7x faster than json.loads."""

    type: str
    id: str | None = None
    # PHP writes an empty map as `[]`, and such lines occur in real dumps
    sitelinks: dict[str, _Sitelink] | list[_Sitelink] = {}


_decode_entity = msgspec.json.Decoder(_Entity).decode


def parse_entity_line(
    line: bytes, languages: frozenset[str] | None = None
) -> tuple[str | None, list[tuple[str, str]]] | None:
    """(id, sorted [(language, title)]) of an item line; None for another entity type.
    Raises ValueError for a line that is no Wikidata entity."""
    try:
        entity = _decode_entity(line.rstrip().removesuffix(b","))
    except msgspec.ValidationError as exc:
        raise ValueError(f"not a Wikidata entity: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if entity.type != "item":
        return None
    sitelinks = entity.sitelinks
    if isinstance(sitelinks, list):
        sitelinks = {link.site or "": link for link in sitelinks}
    return entity.id, _wikipedia_titles(sitelinks, languages)


def _wikipedia_titles(
    sitelinks: dict[str, _Sitelink], languages: frozenset[str] | None
) -> list[tuple[str, str]]:
    titles: dict[str, str] = {}
    for key, link in sitelinks.items():
        language = site_language(link.site or key)
        if language is not None and (languages is None or language in languages):
            titles.setdefault(language, link.title)
    return sorted(titles.items())


def _open(uri: str):
    if uri == STDIN:
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")  # closing it leaves stdin open
    return storage.open_input(uri, "rb")


class WikidataDumpReader:
    """Blocks of whole lines of one dump file, for `parse_batch`.

    The main process only cuts the decompressed stream at newlines (no work per line),
    so one process can feed many parsing processes. Counters for the summary and the
    progress bar: `lines`, `bytes_read` (compressed bytes consumed), `layout` (`array`:
    the dump's bracketed form; `json-lines`: one entity per line, no brackets),
    `compression`."""

    def __init__(self, uri: str):
        self.uri = uri
        self.stream = DecompressedInput(_open(uri))
        self.compression = self.stream.compression
        self.lines = 0
        self.layout = ""

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> WikidataDumpReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def bytes_read(self) -> int:
        return self.stream.bytes_read

    def batches(self, block_bytes: int = 4 << 20) -> Iterator[tuple[int, bytes]]:
        """(number of the block's first line, whole lines joined) of ~`block_bytes`;
        the header (blank lines, the `[` line) is left out after checking the format."""
        carry = b""
        while chunk := self._read(block_bytes):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            block, carry = data[:cut], data[cut:]
            self._check_line_length(carry)
            first = self.lines + 1
            self.lines += block.count(b"\n")
            if not self.layout:
                block, first = self._after_header(block, first)
            if block:
                yield first, block
        if carry:
            self.lines += 1
            if not self.layout:
                carry, _ = self._after_header(carry, self.lines)
            if carry:
                yield self.lines, carry
        if not self.layout:
            raise LukeError(f"{self.uri}: the file is empty, not a Wikidata JSON dump")

    def _check_line_length(self, unfinished_line: bytes) -> None:
        if len(unfinished_line) > MAX_LINE_BYTES:
            raise LukeError(
                f"{self.uri}: line {self.lines + 1:,} is longer than {MAX_LINE_BYTES:,} bytes: "
                "not a Wikidata JSON dump with one entity per line"
            )

    def _read(self, size: int) -> bytes:
        try:
            return self.stream.read(size)
        except EOFError:
            raise LukeError(
                f"{self.uri}: truncated {self.compression} file: the compressed stream ends "
                f"early, after line {self.lines:,}"
            ) from None
        except (OSError, zlib.error, ValueError) as exc:
            raise LukeError(
                f"{self.uri}: corrupt {self.compression} data after line {self.lines:,} ({exc})"
            ) from None

    def _after_header(self, block: bytes, first: int) -> tuple[bytes, int]:
        """The block without the leading blank lines and `[` line, once the first
        non-blank line shows the layout (which it then sets)."""
        position = 0
        while position < len(block):
            end = block.find(b"\n", position)
            end = len(block) if end < 0 else end + 1
            line = block[position:end]
            if line.strip():
                if line.strip() == b"[":
                    self.layout = "array"
                    return block[end:], first + 1
                self._check_json_lines_start(first, line)
                self.layout = "json-lines"
                return block[position:], first
            position, first = end, first + 1
        return b"", first

    def _check_json_lines_start(self, number: int, line: bytes) -> None:
        """Without the `[` line the file must be JSON lines of entities; anything else
        (XML, a pretty-printed or single JSON document, a CSV) is refused right away."""
        expected = "expected a '[' line, then one Wikidata entity (a JSON object) per line"
        if b"\x00" in line[:4096]:
            raise LukeError(f"{self.uri}: a binary file, not a Wikidata JSON dump: {expected}")
        shown = line.strip()[:60].decode("utf-8", "replace")
        try:
            parse_entity_line(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise LukeError(
                f"{self.uri}: not a Wikidata JSON dump: {expected}; "
                f"line {number} is {shown!r} ({exc})"
            ) from None
