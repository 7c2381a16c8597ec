"""The exported entity vocabulary (`entity_vocab.json`) and the rows of the entity table it needs.

transformers' tokenizers read a flat {key: id}: plain titles for `LukeTokenizer`,
`lang:title` for `MLukeTokenizer` (one key per language of an entity, all with the entity's
id), special tokens plain. The export adds `[MASK2]` (id = last id + 1), the second mask
token of the entity-pair tasks, as a copy of `[MASK]`.

The "lite" export keeps only the four special entities. The reference's lite export
renumbered them `[MASK]` 0, `[UNK]` 1, `[PAD]` 2, `[MASK2]` 3, which put `[MASK]` on the
entity table's padding row (`padding_idx=0` in transformers: that row gets no gradient, so
fine-tuning could never move the [MASK] vector) **defect**; here they keep the order of
the vocabulary: `[PAD]` 0, `[UNK]` 1, `[MASK]` 2, `[MASK2]` 3.
"""

from __future__ import annotations

from dataclasses import dataclass

from luke_core.entity_vocab.vocab import (
    MASK_ID,
    MASK_TOKEN,
    PAD_ID,
    PAD_TOKEN,
    UNK_ID,
    UNK_TOKEN,
    EntityEntry,
    EntityVocab,
)
from luke_core.errors import LukeError

MASK2_TOKEN = "[MASK2]"


@dataclass(frozen=True)
class ExportedEntities:
    """`mapping` is the tokenizer's vocabulary; exported row i of the entity table (and of
    the entity head's bias) is row `rows[i]` of the checkpoint's."""

    mapping: dict[str, int]
    rows: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.rows)


def export_entities(
    vocab: EntityVocab, *, multilingual: bool, language: str | None, lite: bool
) -> ExportedEntities:
    """The entity vocabulary of the exported tokenizer. `language` names the titles of a
    vocabulary that records none, when `multilingual` keys (`lang:title`) are wanted."""
    if lite:
        mapping = {PAD_TOKEN: 0, UNK_TOKEN: 1, MASK_TOKEN: 2, MASK2_TOKEN: 3}
        return ExportedEntities(mapping, (PAD_ID, UNK_ID, MASK_ID, MASK_ID))
    if multilingual:
        vocab = _with_language(vocab, language)
    elif vocab.is_multilingual:
        raise LukeError(
            f"{vocab.source}: a vocabulary of {len(vocab.languages)} languages cannot be keyed by "
            "plain titles (LukeTokenizer); export it for MLukeTokenizer"
        )
    mapping = vocab.to_huggingface(multilingual=multilingual)
    mapping[MASK2_TOKEN] = len(vocab)
    return ExportedEntities(mapping, (*range(len(vocab)), MASK_ID))


def _with_language(vocab: EntityVocab, language: str | None) -> EntityVocab:
    """The vocabulary with `language` on the titles that have none (a monolingual
    vocabulary built without a language code), so each key can read `lang:title`."""
    if all(lang for entry in vocab.entries[MASK_ID + 1 :] for _, lang in entry.entities):
        return vocab
    if not language:
        raise LukeError(
            f"{vocab.source}: its titles carry no language and the run's metadata names none; "
            "MLukeTokenizer keys entities as lang:title"
        )
    entries = [
        EntityEntry(e.id, tuple((title, lang or language) for title, lang in e.entities), e.count)
        for e in vocab.entries
    ]
    return EntityVocab(entries, source=vocab.source)
