"""The reference's masking of words and entities, applied to one instance in a loader worker.

Entities: `max(1, round(p * n))` of the n entities are chosen; each gets its original id as
label and one draw: `[MASK]` (id 2), a random entity id (`random_entity_prob`) or unchanged
(`unmasked_entity_prob`).

Words: a budget of `max(1, round(p * n))` tokens. Candidates are whole words for byte-level
BPE tokenizers (RoBERTa: a token continues a word unless it carries the space marker `Ġ` or
starts with punctuation), single pieces for SentencePiece ones (XLM-R: the reference's
whole-word check only recognises RoBERTa) or with `whole_word_masking=False`. Candidates are
visited in a random order; a word longer than what is left of the budget is skipped; each
chosen word gets one draw: `[MASK]`, a random word id (`random_word_prob`) or unchanged
(`unmasked_word_prob`). Special tokens are never candidates and never drawn as random ids.

`mask_words_in_entity_span`, as in the reference: the words of each masked entity's mention
are masked as one unit (one draw) and count against the word budget; the other candidates
exclude them. Without it, words inside mentions are ordinary candidates.

Where the reference differs, on purpose:
- when no candidate fits the budget (every word longer than it), the reference masks one
  random piece (`randint(1, n - 2)` over positions that start after [CLS]: never the last
  two words); here the shortest candidate word is masked whole
  with `[MASK]`, so whole-word masking never splits a word;
- labels are always the ids before masking (the reference took them from the partly masked
  sequence when two masked mentions overlapped);
- random word ids come from the non-special ids (the reference could draw `<mask>`, `</s>`).

Every draw comes from the `numpy.random.Generator` the caller passes, so the masks of an item
are a pure function of how the caller seeds it (the loader: seed, dataset, pass, shard, row).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from luke_core.entity_vocab.vocab import MASK_ID as ENTITY_MASK_ID
from luke_core.errors import LukeError

BYTE_LEVEL_SPACE = "Ġ"


@dataclass(frozen=True, kw_only=True)
class MaskingOptions:
    """The masking options of `luke pretrain` (defaults as the reference)."""

    masked_lm_prob: float = 0.15
    masked_entity_prob: float = 0.15
    random_word_prob: float = 0.1
    unmasked_word_prob: float = 0.1
    random_entity_prob: float = 0.0
    unmasked_entity_prob: float = 0.0
    whole_word_masking: bool = True
    mask_words_in_entity_span: bool = False

    def __post_init__(self) -> None:
        for name in (
            "masked_lm_prob",
            "masked_entity_prob",
            "random_word_prob",
            "unmasked_word_prob",
            "random_entity_prob",
            "unmasked_entity_prob",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise LukeError(f"masking option {name} must be within [0, 1], got {value}")
        if self.random_word_prob + self.unmasked_word_prob > 1.0:
            raise LukeError("random_word_prob + unmasked_word_prob must not exceed 1")
        if self.random_entity_prob + self.unmasked_entity_prob > 1.0:
            raise LukeError("random_entity_prob + unmasked_entity_prob must not exceed 1")


def is_punctuation(char: str) -> bool:
    """ASCII symbols and Unicode punctuation (the reference's BERT-derived test)."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


@dataclass(frozen=True, eq=False)
class WordTable:
    """What masking needs to know about the word vocabulary, computed once from the
    tokenizer in the main process and shipped to the workers (no tokenizer there)."""

    cls_id: int
    sep_id: int
    pad_id: int
    mask_id: int
    starts_word: np.ndarray  # (V,) bool: a token with this id begins a new word
    maskable: np.ndarray  # (V,) bool: not a special token
    random_ids: np.ndarray  # ids a random replacement draws from
    marks_words: bool  # the tokenizer marks word starts (byte-level BPE)

    @classmethod
    def from_tokenizer(cls, tokenizer) -> WordTable:
        size = len(tokenizer)
        tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        byte_level = _is_byte_level(tokenizer)
        starts = np.array([_starts_word(t, byte_level) for t in tokens], dtype=bool)
        maskable = np.ones(size, dtype=bool)
        maskable[[i for i in tokenizer.all_special_ids if i < size]] = False
        return cls(
            cls_id=tokenizer.cls_token_id,
            sep_id=tokenizer.sep_token_id,
            pad_id=tokenizer.pad_token_id,
            mask_id=tokenizer.mask_token_id,
            starts_word=starts,
            maskable=maskable,
            random_ids=np.flatnonzero(maskable).astype(np.int64),
            marks_words=byte_level,
        )


def _is_byte_level(tokenizer) -> bool:
    pieces = tokenizer.tokenize(" the")
    return bool(pieces) and pieces[0].startswith(BYTE_LEVEL_SPACE)


def _starts_word(token: str | None, byte_level: bool) -> bool:
    if not token or not byte_level:
        # SentencePiece pieces are each their own candidate, as in the reference (its
        # whole-word test knows only RoBERTa)
        return True
    return token.startswith(BYTE_LEVEL_SPACE) or is_punctuation(token[0])


@dataclass(frozen=True, eq=False)
class MaskedInstance:
    """One instance after masking; word arrays include CLS and SEP."""

    word_ids: np.ndarray  # (n + 2,) int64
    masked_lm_labels: np.ndarray  # (n + 2,) int64, -1 where not masked
    entity_ids: np.ndarray  # (m,) int64
    masked_entity_labels: np.ndarray  # (m,) int64, -1 where not masked


class Masker:
    """Applies `MaskingOptions` to instances; cheap to pickle into DataLoader workers."""

    def __init__(self, options: MaskingOptions, words: WordTable, entity_vocab_size: int):
        if options.random_entity_prob > 0 and entity_vocab_size <= ENTITY_MASK_ID + 1:
            raise LukeError(
                f"random_entity_prob needs entities beyond the special ids; the vocabulary "
                f"has {entity_vocab_size}"
            )
        self.options = options
        self.words = words
        self.entity_vocab_size = entity_vocab_size

    def __call__(
        self,
        word_ids: np.ndarray,
        entity_ids: np.ndarray,
        entity_starts: np.ndarray,
        entity_ends: np.ndarray,
        rng: np.random.Generator,
    ) -> MaskedInstance:
        entities, entity_labels, chosen = self._mask_entities(entity_ids, rng)
        spans = [(int(entity_starts[i]), int(entity_ends[i])) for i in chosen]
        words, word_labels = self._mask_words(word_ids, spans, rng)
        return MaskedInstance(words, word_labels, entities, entity_labels)

    def _mask_entities(self, entity_ids: np.ndarray, rng: np.random.Generator):
        options = self.options
        output = entity_ids.astype(np.int64)
        labels = np.full(len(entity_ids), -1, dtype=np.int64)
        if options.masked_entity_prob == 0.0 or len(entity_ids) == 0:
            return output, labels, np.empty(0, dtype=np.int64)
        count = max(1, round(len(entity_ids) * options.masked_entity_prob))
        chosen = rng.permutation(len(entity_ids))[:count]
        labels[chosen] = output[chosen]
        action = _draw_actions(rng, count, options.random_entity_prob, options.unmasked_entity_prob)
        output[chosen[action == MASK]] = ENTITY_MASK_ID
        randomised = chosen[action == RANDOM]
        output[randomised] = rng.integers(
            ENTITY_MASK_ID + 1, self.entity_vocab_size, len(randomised)
        )
        return output, labels, chosen

    def _mask_words(self, word_ids: np.ndarray, spans: list[tuple[int, int]], rng):
        options, table = self.options, self.words
        n = len(word_ids)
        output = np.empty(n + 2, dtype=np.int64)
        output[0], output[1:-1], output[-1] = table.cls_id, word_ids, table.sep_id
        labels = np.full(n + 2, -1, dtype=np.int64)
        if options.masked_lm_prob == 0.0 or n == 0:
            return output, labels
        budget = max(1, round(n * options.masked_lm_prob))
        blocked = ~table.maskable[word_ids]
        units: list[np.ndarray] = []
        if options.mask_words_in_entity_span:
            units = self._entity_span_units(spans, blocked)
        used = sum(len(u) for u in units)
        starts, lengths = self._candidate_words(word_ids, blocked)
        chosen = _fill_budget(rng.permutation(len(starts)).tolist(), lengths, budget - used)
        if units or chosen:
            chosen_lengths = lengths[chosen]
            index = np.concatenate([*units, _ranges(starts[chosen], chosen_lengths)])
            sizes = np.concatenate([[len(u) for u in units], chosen_lengths]).astype(np.int64)
            self._apply(output, labels, index + 1, sizes, rng)  # +1: CLS comes first
        elif len(starts):
            shortest = int(np.argmin(lengths))
            index = np.arange(starts[shortest], starts[shortest] + lengths[shortest]) + 1
            labels[index] = output[index]
            output[index] = table.mask_id
        return output, labels

    @staticmethod
    def _entity_span_units(spans, blocked: np.ndarray) -> list[np.ndarray]:
        """The tokens of each masked mention (first mention wins on overlap); blocks them
        from the ordinary candidates."""
        units = []
        for start, end in spans:
            index = np.arange(start, min(end, len(blocked)))
            index = index[~blocked[index]]
            if len(index):
                blocked[index] = True
                units.append(index)
        return units

    def _candidate_words(self, word_ids: np.ndarray, blocked: np.ndarray):
        """(start, length) of each word that may be masked: whole words or single pieces."""
        n = len(word_ids)
        if self.options.whole_word_masking and self.words.marks_words:
            begins = self.words.starts_word[word_ids].copy()
            begins[0] = True
        else:
            begins = np.ones(n, dtype=bool)
        starts = np.flatnonzero(begins)
        lengths = np.diff(np.append(starts, n))
        # a word with a special or already-masked token is not a candidate
        blocked_before = np.concatenate([[0], np.cumsum(blocked)])
        free = blocked_before[starts + lengths] == blocked_before[starts]
        return starts[free], lengths[free]

    def _apply(self, output, labels, index: np.ndarray, sizes: np.ndarray, rng) -> None:
        """One draw per unit (a word or a mention, `sizes` tokens each, in `index` order):
        [MASK], a random id, or unchanged."""
        options, table = self.options, self.words
        action = _draw_actions(
            rng, len(sizes), options.random_word_prob, options.unmasked_word_prob
        )
        per_token = np.repeat(action, sizes)
        labels[index] = output[index]
        output[index[per_token == MASK]] = table.mask_id
        randomised = index[per_token == RANDOM]
        output[randomised] = table.random_ids[
            rng.integers(0, len(table.random_ids), len(randomised))
        ]


MASK, RANDOM, KEEP = 0, 1, 2


def _draw_actions(rng, count: int, random_prob: float, unmasked_prob: float) -> np.ndarray:
    """The reference's draw: p < 1 - random - unmasked -> MASK; p < 1 - unmasked -> RANDOM;
    otherwise KEEP."""
    p = rng.random(count)
    return np.where(
        p < 1.0 - random_prob - unmasked_prob, MASK, np.where(p < 1.0 - unmasked_prob, RANDOM, KEEP)
    )


def _fill_budget(order: list[int], lengths: np.ndarray, budget: int) -> list[int]:
    """Words in `order` that fit what is left of the budget, skipping longer ones."""
    chosen: list[int] = []
    lengths_list = lengths.tolist()
    for i in order:
        if budget <= 0:
            break
        if lengths_list[i] <= budget:
            chosen.append(i)
            budget -= lengths_list[i]
    return chosen


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, start + length) for each pair, without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    unit_offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - unit_offsets, lengths) + np.arange(total)
