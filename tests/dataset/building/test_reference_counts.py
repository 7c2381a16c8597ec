"""Our dump database and dataset builder against an independent implementation of the
reference's page rules on the real enwiki fragment: instances, tokens and mentions.

The implementation below is written for this test from the reference's rules (section 1 and
3 of ../shared/reference/luke-reference.md; wikipedia2vec 1.0.5's paragraphs, LUKE's
`_process_page` and `tokenize_segments`), on other parts than the builder's: ElementTree,
mwparserfromhell walked as wikipedia2vec walks it, PyICU's BreakIterator as the reference
called it, and the `tokenizers` library's byte-level BPE called once per segment.

Two readings of images: `reference` is what the reference stored (the last `|` field of an
image link, whatever it is, as the text of one link to the file: an [UNK] mention with
--include-unk-entities; a category's sort key as the text of a link to the category);
`captions` is the rule the builder follows (the caption as plain text with its own links,
options and sort keys out). Our counts are within 0.5% of the second on all three, and of
the first on instances and tokens; the first has fewer mentions, since it flattened a
caption's links into one.
"""

from __future__ import annotations

import itertools
import re

import pytest

from luke_core.dataset.building.build import build_dataset
from luke_core.dataset.building.options import BuildDatasetOptions
from luke_testing.dataset_inputs import (
    enwiki_dump_db,
    enwiki_vocab,
    roberta_dir,
    shared_data,
)
from luke_testing.raw_wikitext import raw_pages

pytestmark = pytest.mark.slow

FRAGMENT = ("wikipedia", "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
IGNORED_PREFIXES = ("wikipedia:", "file:", "portal:", "template:", "mediawiki:", "user:",
                    "help:", "book:", "draft:", "module:", "timedtext:")  # fmt: skip
IMAGE_OPTION = re.compile(
    r"thumb|thumbnail|frame|framed|frameless|border|left|right|center|centre|none|upright"
    r"|(?:upright|alt|link|page|class|lang)\s*=.*|\d*(?:x\d+)?px",
    re.I | re.S,
)
MAX_TOKENS = 510
TOLERANCE = 0.005


def reference_title(title: str) -> str:
    return (title[0].upper() + title[1:]).replace("_", " ")


class Paragraphs:
    """A page's paragraphs [text, [(title, text, start, end)]] as wikipedia2vec made them:
    top-level nodes only; text split at newlines; links, external link labels and b/i/u
    contents add text; everything else adds nothing."""

    def __init__(self, images: str):
        self.images = images
        self.out: list[tuple[str, list]] = []
        self.text, self.links = "", []

    def parse(self, wikitext: str) -> list[tuple[str, list]]:
        import mwparserfromhell

        self.walk(mwparserfromhell.parse(re.sub("'''*", "", wikitext)).nodes)
        self.end_paragraph()
        return self.out

    def end_paragraph(self) -> None:
        if self.text and not self.text.isspace():
            self.out.append((self.text, self.links))
        self.text, self.links = "", []

    def walk(self, nodes, in_caption: bool = False) -> None:
        from mwparserfromhell.nodes import ExternalLink, Tag, Text, Wikilink

        for node in nodes:
            if isinstance(node, Text):
                value = str(node).replace("\n", " ") if in_caption else str(node)
                first, *lines = value.split("\n")
                self.text += first
                for line in lines:
                    self.end_paragraph()
                    self.text = line
            elif isinstance(node, Wikilink):
                self.link(node)
            elif isinstance(node, ExternalLink) and node.title:
                self.text += node.title.strip_code()
            elif isinstance(node, Tag) and node.tag in ("b", "i", "u") and node.contents:
                self.text += node.contents.strip_code()

    def link(self, node) -> None:
        title = node.title.strip_code().strip(" ").removeprefix(":")
        if not title:
            return
        title = reference_title(title)
        is_image = title.lower().startswith(("file:", "image:"))
        if self.images == "captions" and (is_image or title.lower().startswith("category:")):
            if is_image and node.text:
                self.walk(caption(node.text), in_caption=True)
            return
        if node.text:
            shown = node.text.strip_code()
            shown = shown.split("|")[-1] if is_image else shown
        else:
            shown = node.title.strip_code()
        self.links.append((title, shown, len(self.text), len(self.text) + len(shown)))
        self.text += shown


def caption(text) -> list:
    """The nodes of the last `|` field of an image link's text that is no option."""
    from mwparserfromhell.nodes import Text

    fields: list[list] = [[]]
    for node in text.nodes:
        if isinstance(node, Text):
            first, *rest = str(node).split("|")
            fields[-1].append(Text(first))
            fields.extend([Text(part)] for part in rest)
        else:
            fields[-1].append(node)
    for field in reversed(fields):
        shown = "".join(map(str, field)).strip()
        if shown and not IMAGE_OPTION.fullmatch(shown):
            return field
    return []


class Segments:
    """Sentence spans (ICU, non-BMP characters as spaces) and segment tokenisation with
    the reference's prefix-space rule."""

    def __init__(self):
        import icu
        from tokenizers import ByteLevelBPETokenizer

        self.breaker = icu.BreakIterator.createSentenceInstance(icu.Locale("en@ss=standard"))
        folder = roberta_dir()
        self.bpe = ByteLevelBPETokenizer(f"{folder}/vocab.json", f"{folder}/merges.txt")

    def sentences(self, text: str) -> list[tuple[int, int]]:
        self.breaker.setText("".join(c if c <= "\uffff" else " " for c in text))
        bounds = [0, *self.breaker]
        return list(itertools.pairwise(bounds))

    def tokenize(self, text: str, prefix_space: bool) -> list[int]:
        text = re.sub(r"\s+", " ", text).rstrip()
        if not text:
            return []
        if (prefix_space or text.startswith(" ")) and not text.startswith(" "):
            text = " " + text
        return self.bpe.encode(text).ids


def page_sequences(paragraphs, redirects, segments: Segments) -> list[tuple[int, int]]:
    """(tokens, mentions) of each sequence of a page, by the reference's rules."""
    sentences = []
    for text, links in paragraphs:
        kept = []
        for title, shown, start, end in links:
            target = redirects.get(title, title)
            if target.startswith("Category:") and shown.lower().startswith("category:"):
                text = text[:start] + " " * (end - start) + text[end:]
            else:
                kept.append((start, end))  # --include-unk-entities: every link is a mention
        for sentence_start, sentence_end in segments.sentences(text.rstrip()):
            cursor, words, mentions = sentence_start, [], 0
            for start, end in kept:
                if not (sentence_start <= start < sentence_end and end <= sentence_end):
                    continue
                before = text[cursor:start]
                words += segments.tokenize(before, cursor == 0 or text[cursor - 1] == " ")
                words += segments.tokenize(text[start:end], before == "" or before.endswith(" "))
                mentions += 1
                cursor = end
            words += segments.tokenize(
                text[cursor:sentence_end], cursor == 0 or text[cursor - 1] == " "
            )
            if 5 <= len(words) <= MAX_TOKENS:
                sentences.append((len(words), mentions))
    sequences, tokens, mentions = [], 0, 0
    for i, (sentence_tokens, sentence_mentions) in enumerate(sentences):
        tokens += sentence_tokens
        mentions += sentence_mentions
        if i == len(sentences) - 1 or tokens + sentences[i + 1][0] > MAX_TOKENS:
            if mentions:
                sequences.append((tokens, min(mentions, 128)))
            tokens, mentions = 0, 0
    return sequences


def reference_counts(images: str) -> dict[str, int]:
    pages = raw_pages(shared_data(*FRAGMENT))
    kept = [p for p in pages if not p.title.lower().startswith(IGNORED_PREFIXES)]
    redirects = {p.title: reference_title(p.redirect) for p in kept if p.redirect}
    segments = Segments()
    sequences = [
        sequence
        for page in kept
        if not page.redirect and not page.title.lower().startswith(("image:", "file:", "category:"))
        for sequence in page_sequences(Paragraphs(images).parse(page.text), redirects, segments)
    ]
    return {
        "sequences": len(sequences),
        "tokens": sum(t for t, _ in sequences),
        "entities": sum(m for _, m in sequences),
    }


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> dict[str, int]:
    out = str(tmp_path_factory.mktemp("reference-counts") / "dataset")
    # the default splitter: ICU for the dump's language (en), as the reference's ICU splitter
    options = BuildDatasetOptions(include_unk_entities=True, processes=2, progress=False)
    summary = build_dataset(enwiki_dump_db(), roberta_dir(), enwiki_vocab(), out, options)
    return {key: getattr(summary, key) for key in ("sequences", "tokens", "entities")}


def relative_differences(ours: dict[str, int], theirs: dict[str, int]) -> dict[str, float]:
    return {key: abs(ours[key] - theirs[key]) / theirs[key] for key in theirs}


def test_counts_within_half_a_percent_of_the_reference_rules(ours):
    theirs = reference_counts("captions")
    assert theirs["sequences"] > 1000 and theirs["entities"] > 20_000
    differences = relative_differences(ours, theirs)
    assert all(d < TOLERANCE for d in differences.values()), (ours, theirs, differences)


def test_against_the_reference_image_links(ours):
    theirs = reference_counts("reference")
    differences = relative_differences(ours, theirs)
    assert differences["sequences"] < TOLERANCE and differences["tokens"] < TOLERANCE, (
        ours,
        theirs,
    )
    # a caption's links are mentions here; the reference made the caption one mention
    assert theirs["entities"] < ours["entities"] < theirs["entities"] * 1.03
