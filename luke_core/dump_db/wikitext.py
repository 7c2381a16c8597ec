"""Wikitext of one article -> paragraphs of plain text with their links.

The reference's rules (wikipedia2vec's dump database, used by LUKE): `''`/`'''` emphasis is
stripped, the text is parsed with mwparserfromhell and only top-level nodes are walked;
text is split on newlines and each non-blank line is a paragraph; a wikilink contributes
its display text and records a link (target, text, start, end) with character offsets into
the paragraph; an external link contributes its label; `b`/`i`/`u` tags their contents; a
heading ends the abstract and its own text is dropped; templates, refs, tables, comments
and everything else are dropped.

Where the reference is wrong we do what MediaWiki renders instead (each is tested):
- link anchors (`Foo#History`) are stripped from the target (reference defect);
- `[[File:...]]` and `[[Image:...]]` without a leading colon embed an image: its caption (the
  last `|` field that is no option such as `thumb`, `250px`, `right`, `upright=1.2` or
  `alt=...`, as MediaWiki reads it) is kept as unlinked text where the image stands, and
  the links inside the caption are kept as links. The reference kept the last field
  whatever it was ("thumb", "alt=...", or the file name for a bare `[[File:x.jpg]]`) and
  recorded it as one link to the file, which is no article (an [UNK] mention with
  `--include-unk-entities`). `[[Media:...|label]]` shows its label the same way.
  `WikitextRules.image_captions=False` (`luke build-dump-db --no-image-captions`) drops
  captions, image and all, as this parser did before;
- `[[Category:X]]` and `[[Category:X|sort key]]` without a leading colon categorise the page
  and render nothing: neither text nor link (the reference kept the sort key as the text of
  a link to the category; a sort key is no prose);
- interlanguage links (`[[fr:Agronomie]]`) render no text and links to other wikis
  (`[[wikt:word]]`, `[[:fr:Agronomie]]`) only their text: neither is a link to an article
  here (the reference stored "fr:Agronomie" as text with a link to "Fr:Agronomie");
- a link trail (`[[bus]]es`) belongs to the link text, as MediaWiki renders it (ASCII
  lowercase letters: MediaWiki's default trail, safe for languages without spaces);
- HTML entities (`&ndash;`, `&nbsp;`) become their characters, not nothing;
- presentational tags (`small`, `span`, `sup`, ...) and the page's own `<onlyinclude>` /
  `<noinclude>` sections keep their text and links, not only b/i/u and not as bare text;
- disambiguation pages are recognised in many languages and by `__DISAMBIG__`, not by
  five English template names only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import mwparserfromhell
from mwparserfromhell.nodes import (
    ExternalLink,
    Heading,
    HTMLEntity,
    Tag,
    Text,
    Wikilink,
)

from luke_core.dump_db.interwiki_prefixes import INTERWIKI_PREFIXES, WIKIPEDIA_LANGUAGES

_EMPHASIS = re.compile(r"'{2,}")
_LINK_TRAIL = re.compile(r"[a-z]+")
_WHITESPACE_RUN = re.compile(r"[\s_]+")
_MARKUP_CHARS = re.compile(r"[{}<>&'\[\]]")
# Tags whose content MediaWiki shows as running text: walked like top-level nodes, so the
# links inside them are kept. <onlyinclude>/<noinclude> content is part of the page itself.
_TRANSPARENT_TAGS = frozenset({
    "b", "i", "u", "s", "em", "strong", "small", "big", "span", "sup", "sub", "abbr",
    "code", "tt", "font", "var", "kbd", "samp", "q", "strike", "ins", "onlyinclude",
    "noinclude", "blockquote", "poem", "center",
})  # fmt: skip
_DISAMBIGUATION = re.compile(
    r"__DISAMBIG__|\{\{\s*(?:[^{}|]*disambiguation|disambig|disamb|dab|geodis|hndis|"
    r"begriffskl[äa]rung|homonymie|desambiguaci[óo]n|desambigua[çc][ãa]o|disambigua|dp|"
    r"ujednoznacznienie|неоднозначность|многозначность|f[öo]rgrening|aimai|曖昧さ回避|消歧义|"
    r"消歧義|동음이의|täsmennyssivu|anlam ayrımı|trang định hướng|توضيح|bisbetydig|"
    r"pagrindinis|rozcestník|wieloznaczność)\s*(?:\||\}\})",
    re.IGNORECASE,
)
# Namespace names that embed media or categorise the page in every language edition,
# beside the wiki's own names taken from the dump's <siteinfo>.
_MEDIA_NAMES = (
    "File",
    "Image",
    "Media",
    "Bild",
    "Datei",
    "Fichier",
    "Imagen",
    "Archivo",
    "Immagine",
    "Afbeelding",
    "Bestand",
    "Imagem",
    "Ficheiro",
    "Plik",
    "Файл",
    "Изображение",
    "ファイル",
    "画像",
    "文件",
    "檔案",
    "图像",
    "파일",
    "Tiedosto",
    "Dosya",
)
# The image options of MediaWiki (English names and those of the largest Wikipedias): a `|`
# field of an image link that is one of them is no caption. An unknown local name of an
# option, when it is the last field, is kept as the caption (as the reference kept any).
_IMAGE_OPTION_WORDS = (
    "thumb|thumbnail|frame|framed|enframed|frameless|border|left|right|center|centre|none|"
    "baseline|sub|super|top|text-top|middle|bottom|text-bottom|upright|loop|muted|"
    "mini|miniatur|gerahmt|rahmenlos|rand|links|rechts|zentriert|ohne|hochkant|"
    "vignette|cadre|encadré|sans_cadre|non_encadré|bordure|gauche|droite|centré|néant|"
    "redresse|miniatura|miniaturadeimagen|marco|sinmarco|izquierda|derecha|centro|ninguno|"
    "vertical|destra|sinistra|nessuno|verticale|miniaturadaimagem|esquerda|direita|"
    "nenhum|moldura|semmoldura|miniatuur|kader|kaderloos|geen|gecentreerd|rechtop|"
    "мини|миниатюра|слева|справа|центр|без|обрамить|безрамки|"
    "サムネイル|サムネ|左|右|中央|なし|フレーム|フレームなし|缩略图|縮圖|居中|无|無|有框|无框"
)
_IMAGE_OPTION_KEYS = (
    "upright|alt|link|page|class|lang|thumb|thumbnail|start|end|thumbtime|"
    "hochkant|alternativtext|verweis|miniatur|mini|vignette|redresse|alternative|lien|"
    "enlace|vínculo|collegamento|ligação|koppeling|альт|ссылка|代替文|リンク"
)
_IMAGE_OPTION = re.compile(
    rf"(?:{_IMAGE_OPTION_WORDS})"
    r"|\d*(?:x\d+)?\s*(?:px|пкс|ピクセル|像素)"
    rf"|(?:{_IMAGE_OPTION_KEYS})\s*=.*"
    r"|upright\s*[\d.]+",
    re.IGNORECASE | re.DOTALL,
)
_CATEGORY_NAMES = (
    "Category",
    "Kategorie",
    "Catégorie",
    "Categoría",
    "Categoria",
    "Categorie",
    "Kategoria",
    "Категория",
    "Kategori",
    "カテゴリ",
    "分类",
    "分類",
    "분류",
    "Luokka",
)


@dataclass(frozen=True, kw_only=True)
class WikitextRules:
    """What the parser must know about the wiki: its namespace names and title case."""

    media_prefixes: frozenset[str]
    category_prefixes: frozenset[str]
    namespace_names: dict[str, str]
    first_letter_case: bool = True
    image_captions: bool = True
    """Keep the captions of embedded images as text (the reference's data); False drops
    them with the image."""

    @classmethod
    def for_site(
        cls, namespaces: dict[int, str], case: str = "first-letter", *, image_captions: bool = True
    ) -> WikitextRules:
        """Rules from the dump's `<siteinfo>` namespaces (key -> local name)."""
        media = {n.lower() for n in _MEDIA_NAMES}
        media.update(namespaces[k].lower() for k in (6, -2) if namespaces.get(k))
        category = {n.lower() for n in _CATEGORY_NAMES}
        if namespaces.get(14):
            category.add(namespaces[14].lower())
        names = {name.lower(): name for key, name in namespaces.items() if name and key != 0}
        for name in (*_MEDIA_NAMES, *_CATEGORY_NAMES):
            names.setdefault(name.lower(), name)
        return cls(
            media_prefixes=frozenset(media),
            category_prefixes=frozenset(category),
            namespace_names=names,
            first_letter_case=case != "case-sensitive",
            image_captions=image_captions,
        )


DEFAULT_RULES = WikitextRules.for_site({6: "File", -2: "Media", 14: "Category"})


@dataclass(frozen=True, slots=True)
class Link:
    """A wikilink inside a paragraph: `text == paragraph[start:end]`."""

    title: str
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    links: tuple[Link, ...]
    is_abstract: bool


@dataclass(frozen=True, slots=True)
class ParsedPage:
    paragraphs: tuple[Paragraph, ...]
    is_disambiguation: bool


def upper_first(title: str) -> str:
    return title[:1].upper() + title[1:]


def normalize_title(title: str, rules: WikitextRules = DEFAULT_RULES) -> str:
    """A link target as MediaWiki resolves it: leading colon and `#anchor` removed,
    underscores and whitespace runs to one space, namespace prefix in its canonical
    spelling, first letter upper-cased on first-letter wikis. '' for a same-page anchor."""
    title = html.unescape(title) if "&" in title else title
    title = _WHITESPACE_RUN.sub(" ", title).strip().lstrip(":").strip()
    title = title.partition("#")[0].rstrip()
    prefix, colon, rest = title.partition(":")
    canonical = rules.namespace_names.get(prefix.strip().lower()) if colon else None
    if canonical is not None:
        rest = rest.strip()
        title = f"{canonical}:{upper_first(rest) if rules.first_letter_case else rest}"
    return upper_first(title) if rules.first_letter_case else title


def is_disambiguation(wikitext: str) -> bool:
    return _DISAMBIGUATION.search(wikitext) is not None


def parse_wikitext(wikitext: str, rules: WikitextRules = DEFAULT_RULES) -> ParsedPage:
    """Parse one article. Raises mwparserfromhell's errors for text it cannot parse."""
    wikicode = mwparserfromhell.parse(_EMPHASIS.sub("", wikitext))
    builder = _ParagraphBuilder(rules)
    for node in wikicode.nodes:
        builder.add(node)
    builder.flush()
    return ParsedPage(tuple(builder.paragraphs), is_disambiguation(wikitext))


def _points_out_of_the_wiki(prefix: str, rules: WikitextRules) -> bool:
    return prefix not in rules.namespace_names and (
        prefix in WIKIPEDIA_LANGUAGES or prefix in INTERWIKI_PREFIXES
    )


def _strip(wikicode) -> str:
    raw = str(wikicode)
    return wikicode.strip_code() if _MARKUP_CHARS.search(raw) else raw


def _caption_nodes(text) -> list:
    """The nodes of an image link's caption: as MediaWiki reads it, the last `|` field of
    the link's text that is no image option (the `|` of nested links and templates do not
    count); none when every field is an option."""
    fields: list[list] = [[]]
    for node in text.nodes:
        if type(node) is not Text or "|" not in node.value:
            fields[-1].append(node)
            continue
        first, *rest = node.value.split("|")
        fields[-1].append(Text(first))
        fields.extend([Text(part)] for part in rest)
    for field in reversed(fields):
        shown = "".join(map(str, field)).strip()
        if shown and not _IMAGE_OPTION.fullmatch(shown):
            return field
    return []


class _ParagraphBuilder:
    """Accumulates the current paragraph while walking the top-level nodes."""

    def __init__(self, rules: WikitextRules):
        self.rules = rules
        self.paragraphs: list[Paragraph] = []
        self.text = ""
        self.links: list[Link] = []
        self.abstract = True
        self.open_link: Link | None = None  # the last link, while a trail may still extend it
        self.in_caption = False

    def add(self, node) -> None:
        kind = type(node)
        if kind is Text:
            self._add_text(str(node))
        elif kind is Wikilink:
            self._add_wikilink(node)
        elif kind is HTMLEntity:
            self._append(node.normalize().replace("\xa0", " "))
        elif kind is ExternalLink:
            if node.title:
                self._append(_strip(node.title))
        elif kind is Tag:
            self._add_tag(node)
        elif kind is Heading:
            self.abstract = False
            self.open_link = None
        else:
            self.open_link = None

    def _append(self, text: str) -> None:
        self.text += text
        self.open_link = None

    def _add_text(self, text: str) -> None:
        if self.in_caption:  # a caption is one piece of text, whatever its line breaks
            text = text.replace("\n", " ")
        lines = text.split("\n")
        if self.open_link is not None:
            self._extend_trail(lines[0])
        self._append(lines[0])
        for line in lines[1:]:
            self.flush()
            self.text = line

    def _extend_trail(self, following: str) -> None:
        trail = _LINK_TRAIL.match(following)
        if trail is None or self.open_link is None:
            return
        link = self.open_link
        extended = Link(link.title, link.text + trail.group(), link.start, link.end + trail.end())
        self.links[-1] = extended

    def _add_wikilink(self, node) -> None:
        raw_title = _strip(node.title).strip()
        if not raw_title:
            return
        inline = raw_title.startswith(":")
        prefix, colon, _ = raw_title.lstrip(":").partition(":")
        prefix = prefix.strip().lower()
        if not inline and colon and prefix in self.rules.category_prefixes:
            self.open_link = None
            return
        if not inline and colon and prefix in self.rules.media_prefixes:
            if self.rules.image_captions and node.text:
                self._add_caption(node.text)
            self.open_link = None  # no link trail after an image
            return
        text = _strip(node.text) if node.text else raw_title.lstrip(":")
        if colon and _points_out_of_the_wiki(prefix, self.rules):
            if inline or prefix not in WIKIPEDIA_LANGUAGES:
                self._append(text)  # shown as a link to another wiki
            self.open_link = None  # an interlanguage link shows nothing in the text
            return
        title = normalize_title(raw_title, self.rules)
        start = len(self.text)
        self._append(text)
        if title and text:
            self.links.append(Link(title, text, start, len(self.text)))
            self.open_link = self.links[-1]

    def _add_caption(self, text) -> None:
        """The caption of an embedded image, walked like top-level text so that its
        links are kept."""
        nodes = _caption_nodes(text)
        outer, self.in_caption = self.in_caption, True
        self.open_link = None
        for node in nodes:
            self.add(node)
        self.in_caption = outer

    def _add_tag(self, node) -> None:
        tag = str(node.tag).strip().lower()
        if tag == "br":
            self._append(" ")
        elif tag == "nowiki" and node.contents:
            self._append(str(node.contents))
        elif tag in _TRANSPARENT_TAGS and node.contents:
            for child in node.contents.nodes:
                self.add(child)
        else:
            self.open_link = None

    def flush(self) -> None:
        if self.text and not self.text.isspace():
            self.paragraphs.append(Paragraph(self.text, tuple(self.links), self.abstract))
        self.text = ""
        self.links = []
        self.open_link = None
