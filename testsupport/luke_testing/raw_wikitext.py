"""An independent reading of a MediaWiki dump for tests: ElementTree and regular expressions
only, none of luke_core's parsing, so that the dump database and the vocabulary can be
checked against it.

The dump database keeps the links of an article's top-level text, as the reference does. So
the independent reading first removes from the raw wikitext what takes links out of the top
level: comments, <ref>s, templates (nested: innermost first), tables, Category links, and
File/Image links except their captions (by bracket matching; the caption is the last `|`
field that is no image option, and its links are kept), or the captions too with
`image_captions=False`. Every remaining
[[target|...]] is a link, except those to other wikis (a language or interwiki prefix); its
target is normalised as MediaWiki does (leading colon and
#anchor removed, `_` and whitespace runs to one space, first letter upper-cased)."""

from __future__ import annotations

import bz2
import re
import xml.etree.ElementTree as ET
from typing import NamedTuple

# the prefix lists are data shared with the parser; the reading below is independent
from luke_core.dump_db.interwiki_prefixes import INTERWIKI_PREFIXES, WIKIPEDIA_LANGUAGES

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_INNERMOST_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_INNERMOST_TABLE = re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.S)
_MEDIA_LINK_START = re.compile(r"\[\[\s*(file|image|category)\s*:", re.I)
_IMAGE_OPTION = re.compile(
    r"\s*(?:thumb(?:nail)?|frame(?:d|less)?|border|left|right|cent(?:er|re)|none|upright"
    r"|(?:upright|alt|link|page|class|lang)\s*=.*|\d*(?:x\d+)?px)?\s*",
    re.I | re.S,
)
_LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|[^\[\]]*)?\]\]")
_HEADING = re.compile(r"^=+[^=\n].*=+\s*$", re.M)
_PREFIX = re.compile(r"\s*:?\s*([^:]*?)\s*:")


class RawPage(NamedTuple):
    title: str
    namespace: int
    redirect: str | None
    text: str


def raw_pages(path) -> list[RawPage]:
    """Every page of a bz2 dump, as ElementTree reads it."""
    pages = []
    with bz2.open(path) as f:
        for _, element in ET.iterparse(f):
            if element.tag.endswith("}page"):
                ns = element.tag[: -len("page")]
                redirect = element.find(f"{ns}redirect")
                pages.append(
                    RawPage(
                        element.findtext(f"{ns}title"),
                        int(element.findtext(f"{ns}ns")),
                        None if redirect is None else redirect.get("title"),
                        element.findtext(f"{ns}revision/{ns}text") or "",
                    )
                )
                element.clear()
    return pages


def normalise(title: str) -> str:
    title = re.sub(r"[\s_]+", " ", title).strip().lstrip(":").strip()
    title = title.split("#")[0].rstrip()
    return title[:1].upper() + title[1:]


def link_targets(
    wikitext: str, *, lead_only: bool = False, image_captions: bool = True
) -> list[str]:
    """The normalised targets of the top-level links, in order (before the first heading
    only, with `lead_only`), those of image captions included (unless `image_captions` is
    False)."""
    text = _REF.sub("", _COMMENT.sub("", wikitext))
    text = _remove_repeatedly(_INNERMOST_TABLE, _remove_repeatedly(_INNERMOST_TEMPLATE, text))
    text = _remove_media_links(text, image_captions)
    if lead_only:
        text = _HEADING.split(text, maxsplit=1)[0]
    targets = [m.group(1) for m in _LINK.finditer(text) if not _to_another_wiki(m.group(1))]
    return [t for t in map(normalise, targets) if t]


def _to_another_wiki(target: str) -> bool:
    prefix = _PREFIX.match(target)
    return prefix is not None and (
        prefix.group(1).lower() in WIKIPEDIA_LANGUAGES
        or prefix.group(1).lower() in INTERWIKI_PREFIXES
    )


def _remove_repeatedly(pattern: re.Pattern, text: str) -> str:
    while True:
        shorter = pattern.sub("", text)
        if shorter == text:
            return text
        text = shorter


def _remove_media_links(text: str, image_captions: bool) -> str:
    out, position = [], 0
    for match in _MEDIA_LINK_START.finditer(text):
        if match.start() < position:
            continue
        depth, i = 0, match.start()
        bars = []  # where the link's own `|` are
        while i < len(text):
            if text.startswith("[[", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("]]", i):
                depth, i = depth - 1, i + 2
                if depth == 0:
                    break
            else:
                if text[i] == "|" and depth == 1:
                    bars.append(i)
                i += 1
        out.append(text[position : match.start()])
        if image_captions and match.group(1).lower() != "category":
            out.append(_caption(text[match.start() : i], [b - match.start() for b in bars]))
        position = i
    out.append(text[position:])
    return "".join(out)


def _caption(link: str, bars: list[int]) -> str:
    """The caption of an image link `[[File:...|...]]` given the offsets of its `|`."""
    fields = [link[a + 1 : b] for a, b in zip(bars, [*bars[1:], len(link) - 2], strict=True)]
    captions = [f for f in fields if not _IMAGE_OPTION.fullmatch(f)]
    return captions[-1] if captions else ""
