"""Tokenisation of paragraph segments with the reference's rules, on a fast tokenizer.

The builder cuts each sentence into segments (the text between links and each link's
text) and tokenises them separately, so that a mention starts and ends on token
boundaries. Whether a segment is tokenised as the start of a word depends on what
precedes it, as in the reference (which used the slow tokenizers of transformers 4):

- whitespace runs collapse to one space and trailing whitespace is dropped;
- RoBERTa (byte-level BPE): a segment gets a prefix space when the builder says it
  follows a space (it starts the paragraph, follows a space, or is a link with no text
  before it in its sentence: see `instances.py`) or it starts with whitespace itself;
  otherwise it is encoded as it is, so "[[Paris]]ian" gives "ĠParis" + "ian";
- XLM-R (SentencePiece): a segment that gets no prefix space is encoded as "龘" + text
  and the pieces of the marker dropped: "▁" and "龘" (an unknown character, id <unk>).
  The reference dropped exactly two pieces; when the segment itself starts with unknown
  characters SentencePiece fuses them with the marker into one <unk>, which the
  reference dropped with the marker. Here that fused <unk> is kept, so no character of
  the segment is lost.

All segments of a work unit go through one batch call of the Rust tokenizer. Special
tokens are not recognised inside text: a Wikipedia sentence that says "<mask>" gets the
tokens of those characters (the slow tokenizers turned it into the mask token).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence

from tokenizers import Tokenizer

from luke_core.dataset.tokenizers import (
    BYTE_LEVEL_BPE,
    SENTENCEPIECE,
    XLMR_MARKER,
    tokenizer_scheme,
)

Segment = tuple[str, bool]
"""A piece of a sentence's text and whether it starts a word: it follows a space, starts
the paragraph, or is a link with no text before it in its sentence (`instances.py`)."""


class SegmentTokenizer:
    """Encodes sentences cut into segments with the reference's rules.

    A sentence goes to the Rust tokenizer as a pre-tokenized sequence of its segments:
    each segment is normalised, pre-tokenized and encoded on its own, exactly as if it
    were encoded separately, but with one encoding object per sentence instead of one per
    segment. Holds only the Rust tokenizer, so it pickles cheaply into worker processes."""

    def __init__(self, tokenizer):
        self.scheme = tokenizer_scheme(tokenizer)
        serialized = tokenizer.backend_tokenizer.to_str()
        if self.scheme == SENTENCEPIECE:
            serialized = _unmatchable_special_pieces(serialized, tokenizer.all_special_tokens)
        self.backend = Tokenizer.from_str(serialized)
        self.backend.encode_special_tokens = True
        if self.scheme == BYTE_LEVEL_BPE:
            # the prefix space is decided per segment below, never by the tokenizer
            self.backend.pre_tokenizer.add_prefix_space = False

    def encode_segments(self, segments: Sequence[Segment]) -> list[list[int]]:
        """Token ids of each segment of one sentence."""
        ids, bounds = self.encode([segments])[0]
        return [ids[bounds[i] : bounds[i + 1]] for i in range(len(segments))]

    def encode(self, sentences: Sequence[Sequence[Segment]]) -> list[tuple[list[int], list[int]]]:
        """Per sentence, its token ids and segment bounds: segment i has the tokens
        `ids[bounds[i]:bounds[i + 1]]` (empty for a whitespace-only segment)."""
        batch: list[list[str]] = []
        layouts: list[tuple[list[int], list[bool] | None]] = []
        for segments in sentences:
            pieces, first_piece, marked = self._pieces(segments)
            batch.append(pieces)
            layouts.append((first_piece, marked))
        nonempty = [pieces for pieces in batch if pieces]
        encodings = iter(
            self.backend.encode_batch(nonempty, is_pretokenized=True, add_special_tokens=False)
            if nonempty
            else []
        )
        out = []
        for pieces, (first_piece, marked) in zip(batch, layouts, strict=True):
            if not pieces:
                out.append(([], [0] * len(first_piece)))
                continue
            out.append(_ids_and_bounds(next(encodings), first_piece, marked))
        return out

    def _pieces(
        self, segments: Sequence[Segment]
    ) -> tuple[list[str], list[int], list[bool] | None]:
        """The normalised pieces of the non-empty segments, for each segment (plus one
        past the end) the index of the first piece at or after it, and for XLM-R which
        pieces carry the marker."""
        pieces: list[str] = []
        first_piece: list[int] = []
        marked: list[bool] | None = None
        for text, follows_space in segments:
            first_piece.append(len(pieces))
            core = " ".join(text.split())
            if not core:
                continue
            prefix = follows_space or text[0].isspace()
            if self.scheme == BYTE_LEVEL_BPE:
                pieces.append(" " + core if prefix else core)
                continue
            if marked is None:
                marked = [False] * len(pieces)
            pieces.append(core if prefix else XLMR_MARKER + core)
            marked.append(not prefix)
        first_piece.append(len(pieces))
        if marked is not None and not any(marked):
            marked = None
        return pieces, first_piece, marked


def _unmatchable_special_pieces(serialized: str, special_tokens: Sequence[str]) -> str:
    """The converted XLM-R tokenizer lists `<s>`, `</s>`, `<unk>`, `<mask>`... as ordinary
    Unigram pieces, so text spelling them would become those ids; SentencePiece never
    matches its control symbols in text. Renaming these pieces (their ids stay) makes the
    Rust tokenizer do the same."""
    data = json.loads(serialized)
    model = data.get("model", {})
    if model.get("type") == "Unigram":
        specials = set(special_tokens)
        for entry in model["vocab"]:
            if entry[0] in specials:
                entry[0] = f"\u0000{entry[0]}\u0000"
    return json.dumps(data, ensure_ascii=False)


def _ids_and_bounds(
    encoding, first_piece: list[int], marked: list[bool] | None
) -> tuple[list[int], list[int]]:
    ids = encoding.ids
    if marked is None and first_piece[-1] == 1:  # one piece, nothing to locate
        return ids, [0 if p == 0 else len(ids) for p in first_piece]
    words = encoding.word_ids
    if marked is not None:
        # drop the marker's pieces: at the start of a marked piece, ending by offset 1
        keep = [
            i
            for i, (word, (_, end)) in enumerate(zip(words, encoding.offsets, strict=True))
            if not (marked[word] and end <= len(XLMR_MARKER))
        ]
        ids = [ids[i] for i in keep]
        words = [words[i] for i in keep]
    return ids, [bisect.bisect_left(words, p) for p in first_piece]
