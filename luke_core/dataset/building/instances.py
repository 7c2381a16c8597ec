"""Pages -> training instances: the reference's algorithm (section 3 of the reference).

Per page: each paragraph's links are resolved (redirects followed, `Category:` links
blanked, targets outside the vocabulary dropped or kept as [UNK]); the paragraph is split
into sentences; a link is used only when it lies wholly inside one sentence; the text
between links and each link's text are tokenised as separate segments
(`tokenization.py`); sentences of `min_sentence_length`..`max_seq_length - 2` tokens are
kept and packed greedily, in order, into sequences of at most `max_seq_length - 2` tokens
that never cross pages. A sequence is emitted when it holds an entity (or always, with
`include_sentences_without_entities`), with its first `max_entity_length` mentions, each
cut to `max_mention_length` tokens.

Whether a segment is tokenised as the start of a word (RoBERTa's prefix space, XLM-R's
"▁"), as the reference decided it: the text before a link, and the text after the last
link, when it starts the paragraph or follows a space (or starts with whitespace itself);
a link's text when the text between it and the previous cut (the previous link's end or
the sentence's start) ends with a space or is empty. So in `[[A]][[B]]` (no text between
the links) and for a link that opens a sentence, B is tokenised as a word of its own:
"[[Lithium|Li]][[Fluorine|F]]" gives "Li" + "ĠF", not "Li" + "F"; while in `[[A]]x[[B]]`
B continues the word.

Deviation from the reference: a link whose text has no token (whitespace only) is
dropped instead of becoming a mention of no position.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields

from luke_core.dataset.building.columns import InstanceColumns
from luke_core.dataset.building.sentences import SentenceSplitter
from luke_core.dataset.building.tokenization import SegmentTokenizer
from luke_core.dump_db import Page, Paragraph
from luke_core.entity_vocab.vocab import UNK_ID, EntityVocab

DEFAULT_CATEGORY_NAMES = ("Category",)


@dataclass(frozen=True, kw_only=True)
class InstanceRules:
    """The options of the build that shape instances."""

    language: str | None = None
    max_seq_length: int = 512
    max_entity_length: int = 128
    max_mention_length: int = 30
    min_sentence_length: int = 5
    include_unk_entities: bool = False
    abstract_only: bool = False
    include_sentences_without_entities: bool = False
    category_names: tuple[str, ...] = DEFAULT_CATEGORY_NAMES
    """Names of the category namespace (the wiki's own and the canonical `Category`)."""

    @property
    def max_num_tokens(self) -> int:
        return self.max_seq_length - 2  # room for <s> and </s>


@dataclass
class InstanceCounts:
    """What happened to the input; summed over work units for the build's summary."""

    pages: int = 0
    pages_with_instances: int = 0
    paragraphs: int = 0
    links: int = 0
    links_in_vocab: int = 0
    links_unknown: int = 0
    links_category: int = 0
    links_across_sentences: int = 0
    sentences: int = 0
    sentences_too_short: int = 0
    sentences_too_long: int = 0
    sequences: int = 0
    tokens: int = 0
    entities: int = 0
    unk_entities: int = 0
    entities_over_limit: int = 0
    mentions_cut: int = 0

    def add(self, other: InstanceCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class _Sentence:
    segments: list[tuple[str, bool]] = field(default_factory=list)
    """(text, follows a space) of each segment, in order."""
    mentions: list[tuple[int, int]] = field(default_factory=list)
    """(entity id, index of the link's segment)."""


class InstanceBuilder:
    """Turns pages into instances. One per worker process; `resolve_redirects` maps link
    titles to their final targets, `{title: target}` for those that are redirects (one
    database query per work unit in the build)."""

    def __init__(
        self,
        rules: InstanceRules,
        vocab: EntityVocab,
        tokenizer: SegmentTokenizer,
        splitter: SentenceSplitter,
        resolve_redirects: Callable[[Collection[str]], Mapping[str, str]],
    ):
        self.rules = rules
        self.vocab = vocab
        self.tokenizer = tokenizer
        self.splitter = splitter
        self.resolve_redirects = resolve_redirects
        self._category_prefixes = tuple(f"{name}:" for name in rules.category_names)
        self._category_text = tuple(p.lower() for p in self._category_prefixes)
        self._targets: dict[str, tuple[bool, int | None]] = {}

    def build(self, pages: Sequence[Page]) -> tuple[InstanceColumns, InstanceCounts]:
        """Instances of the pages, in page order, and the counts."""
        counts = InstanceCounts(pages=len(pages))
        self._resolve_targets(pages)
        page_sentences = [self._page_sentences(page, counts) for page in pages]
        encoded = iter(self.tokenizer.encode([s.segments for ss in page_sentences for s in ss]))
        out = _ColumnLists()
        for page, sentences in zip(pages, page_sentences, strict=True):
            words = [self._sentence_words(s, next(encoded), counts) for s in sentences]
            kept = [w for w in words if w is not None]
            emitted = self._pack(self._page_id(page), kept, out, counts)
            counts.pages_with_instances += emitted > 0
        return out.columns(), counts

    def _page_id(self, page: Page) -> int:
        return self.vocab.get_id(page.title, self.rules.language, default=-1)

    def _page_sentences(self, page: Page, counts: InstanceCounts) -> list[_Sentence]:
        sentences: list[_Sentence] = []
        for paragraph in page.paragraphs:
            if self.rules.abstract_only and not paragraph.is_abstract:
                continue
            counts.paragraphs += 1
            text, links = self._paragraph_links(paragraph, counts)
            for start, end in self.splitter.split(text.rstrip()):
                sentences.append(self._sentence(text, start, end, links, counts))
        return sentences

    def _paragraph_links(
        self, paragraph: Paragraph, counts: InstanceCounts
    ) -> tuple[str, list[tuple[int, int, int]]]:
        """The paragraph text (category links blanked) and its usable links as
        (entity id, start, end), sorted, without overlaps."""
        text = paragraph.text
        links: list[tuple[int, int, int]] = []
        last_end = 0
        for link in sorted(paragraph.links, key=lambda ln: ln.start):
            counts.links += 1
            is_category, entity_id = self._targets[link.title]
            if is_category and link.text.lower().startswith(self._category_text):
                counts.links_category += 1
                text = text[: link.start] + " " * (link.end - link.start) + text[link.end :]
                continue
            if entity_id is None:
                counts.links_unknown += 1
                if not self.rules.include_unk_entities:
                    continue
                entity_id = UNK_ID
            else:
                counts.links_in_vocab += 1
            if link.start < last_end or link.end <= link.start:
                continue  # nested or empty link: keep the outer one only
            links.append((entity_id, link.start, link.end))
            last_end = link.end
        return text, links

    def _resolve_targets(self, pages: Sequence[Page]) -> None:
        """Look up the link titles of the pages not seen before: (is a category, entity
        id or None), redirects followed. Cached, as a few titles take most links."""
        if len(self._targets) >= 1_000_000:
            self._targets.clear()
        titles = {
            link.title
            for page in pages
            for paragraph in page.paragraphs
            for link in paragraph.links
            if link.title not in self._targets
        }
        redirects = self.resolve_redirects(titles)
        for title in titles:
            resolved = redirects.get(title, title)
            self._targets[title] = (
                resolved.startswith(self._category_prefixes),
                self.vocab.get_id(resolved, self.rules.language),
            )

    @staticmethod
    def _sentence(
        text: str,
        start: int,
        end: int,
        links: list[tuple[int, int, int]],
        counts: InstanceCounts,
    ) -> _Sentence:
        """The sentence [start, end) cut at the links wholly inside it."""
        sentence = _Sentence()
        segments = sentence.segments
        cursor = start
        for entity_id, link_start, link_end in links:
            if link_start < start or link_start >= end:
                continue
            if link_end > end:
                counts.links_across_sentences += 1
                continue
            if cursor < link_start:
                segments.append((text[cursor:link_start], cursor == 0 or text[cursor - 1] == " "))
            # no text before the link in this sentence counts as a space (the reference's rule)
            follows_space = cursor == link_start or text[link_start - 1] == " "
            sentence.mentions.append((entity_id, len(segments)))
            segments.append((text[link_start:link_end], follows_space))
            cursor = link_end
        if cursor < end:
            segments.append((text[cursor:end], cursor == 0 or text[cursor - 1] == " "))
        return sentence

    def _sentence_words(
        self,
        sentence: _Sentence,
        encoded: tuple[list[int], list[int]],
        counts: InstanceCounts,
    ) -> tuple[list[int], list[tuple[int, int, int]]] | None:
        """The sentence's token ids and mentions (entity id, start, end), or None when its
        length is out of bounds."""
        words, bounds = encoded
        if len(words) < self.rules.min_sentence_length:
            counts.sentences_too_short += 1
            return None
        if len(words) > self.rules.max_num_tokens:
            counts.sentences_too_long += 1
            return None
        counts.sentences += 1
        mentions = [
            (entity_id, bounds[index], bounds[index + 1])
            for entity_id, index in sentence.mentions
            if bounds[index] < bounds[index + 1]
        ]
        return words, mentions

    def _pack(
        self,
        page_id: int,
        sentences: list[tuple[list[int], list[tuple[int, int, int]]]],
        out: _ColumnLists,
        counts: InstanceCounts,
    ) -> int:
        """Greedy packing of a page's sentences; returns the number of sequences emitted."""
        emitted = 0
        words: list[int] = []
        mentions: list[tuple[int, int, int]] = []
        for i, (sentence_words, sentence_mentions) in enumerate(sentences):
            offset = len(words)
            mentions.extend((e, s + offset, t + offset) for e, s, t in sentence_mentions)
            words.extend(sentence_words)
            is_last = i == len(sentences) - 1
            if is_last or len(words) + len(sentences[i + 1][0]) > self.rules.max_num_tokens:
                if mentions or self.rules.include_sentences_without_entities:
                    self._emit(page_id, words, mentions, out, counts)
                    emitted += 1
                words, mentions = [], []
        return emitted

    def _emit(
        self,
        page_id: int,
        words: list[int],
        mentions: list[tuple[int, int, int]],
        out: _ColumnLists,
        counts: InstanceCounts,
    ) -> None:
        limit = self.rules.max_entity_length
        counts.entities_over_limit += max(0, len(mentions) - limit)
        mentions = mentions[:limit]
        max_mention = self.rules.max_mention_length
        ends = [min(end, start + max_mention) for _, start, end in mentions]
        counts.mentions_cut += sum(end - start > max_mention for _, start, end in mentions)
        entity_ids = [e for e, _, _ in mentions]
        counts.sequences += 1
        counts.tokens += len(words)
        counts.entities += len(mentions)
        counts.unk_entities += entity_ids.count(UNK_ID)
        out.append(page_id, words, entity_ids, [s for _, s, _ in mentions], ends)


class _ColumnLists:
    """Flat Python lists, turned into `InstanceColumns` once per work unit."""

    def __init__(self):
        self.page_ids: list[int] = []
        self.word_lengths: list[int] = []
        self.word_ids: list[int] = []
        self.entity_counts: list[int] = []
        self.entity_ids: list[int] = []
        self.entity_starts: list[int] = []
        self.entity_ends: list[int] = []

    def append(self, page_id, words, entity_ids, starts, ends) -> None:
        self.page_ids.append(page_id)
        self.word_lengths.append(len(words))
        self.word_ids.extend(words)
        self.entity_counts.append(len(entity_ids))
        self.entity_ids.extend(entity_ids)
        self.entity_starts.extend(starts)
        self.entity_ends.extend(ends)

    def columns(self) -> InstanceColumns:
        return InstanceColumns.from_lists(
            self.page_ids,
            self.word_lengths,
            self.word_ids,
            self.entity_counts,
            self.entity_ids,
            self.entity_starts,
            self.entity_ends,
        )
