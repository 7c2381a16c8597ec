"""`build_multilingual_entity_vocab`: per-language vocabularies + interwiki database ->
one mLUKE vocabulary (step 2 for mLUKE).

Reads: one `entity_vocab.jsonl` per language (built with `--language`) and the interwiki
database. Writes: the merged vocabulary, published atomically.

Each entity of an input vocabulary is looked up by (title, language) in the interwiki
database. Entities of one Wikidata item become one entry holding all their
(title, language) pairs (ordered by language) with their counts summed; an entity that
Wikidata does not know stays an entry of its own. Entries present in fewer than
`min_num_languages` languages are dropped, the rest sorted by count descending, ties by
their smallest (title, language) pair, and cut to `vocab_size` entries. Ids 0, 1, 2 are
always `[PAD]`, `[UNK]`, `[MASK]`, each with one pair per language (the reference built
them from a Python set, so their ids changed with the hash seed).

The result does not depend on the order of the input files.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from luke_core.entity_vocab.interwiki_db import InterwikiDB
from luke_core.entity_vocab.vocab import SPECIAL_TOKENS, EntityEntry, EntityVocab, special_entries
from luke_core.errors import LukeError
from luke_core.progress import log_summary, progress_bar
from luke_core.reuse import (
    Recipe,
    file_stamp,
    neutral,
    read_sidecar,
    recipe_options,
    reused_summary,
    write_sidecar,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class BuildMultilingualEntityVocabOptions:
    """Options of `luke build-multilingual-entity-vocab`."""

    vocab_size: int = 1_000_000
    """Entries in the merged vocabulary, the 3 special entries included."""
    min_num_languages: int = 1
    """Keep entries present in at least this many languages."""
    reuse: bool = neutral(default=False)
    """Keep OUT when it was merged from the same vocabularies and interwiki database
    (unchanged since) with the same options."""
    progress: bool = neutral(default=True)

    def __post_init__(self) -> None:
        if self.vocab_size < len(SPECIAL_TOKENS) + 1:
            raise LukeError(
                f"--vocab-size must be at least {len(SPECIAL_TOKENS) + 1} "
                f"(the {len(SPECIAL_TOKENS)} special entries and one entity), "
                f"not {self.vocab_size}"
            )
        if self.min_num_languages < 1:
            raise LukeError(f"--min-num-languages must be 1 or more, not {self.min_num_languages}")


@dataclass(kw_only=True)
class BuildMultilingualEntityVocabSummary:
    languages: list[str] = field(default_factory=list)
    input_entities: int = 0
    """Entities of all input vocabularies (specials excluded)."""
    found_in_wikidata: int = 0
    merged_entries: int = 0
    """Entries after merging by Wikidata item (before the language filter)."""
    below_min_languages: int = 0
    truncated: int = 0
    entries: int = 0
    """Vocabulary size written, the 3 specials included."""
    seconds: float = 0.0
    reused: bool = False


RULES_VERSION = 1


@dataclass(slots=True)
class _Merged:
    entities: list[tuple[str, str]]
    count: int


def build_multilingual_entity_vocab(
    vocabs: Sequence[str],
    interwiki_db: str,
    out: str,
    options: BuildMultilingualEntityVocabOptions | None = None,
) -> BuildMultilingualEntityVocabSummary:
    """Merge the per-language vocabularies at `vocabs` through `interwiki_db` into `out`."""
    options = options or BuildMultilingualEntityVocabOptions()
    started = time.perf_counter()
    if not vocabs:
        raise LukeError("no entity vocabulary given (-v VOCAB, one per language)")
    inputs = {f"vocab[{i}]": file_stamp(u, "entity vocabulary") for i, u in enumerate(vocabs)}
    inputs["interwiki_db"] = file_stamp(interwiki_db)
    recipe = Recipe(
        "build-multilingual-entity-vocab", RULES_VERSION, inputs, recipe_options(options)
    )
    if options.reuse and (
        earlier := reused_summary(out, recipe, read_sidecar, BuildMultilingualEntityVocabSummary)
    ):
        return earlier
    loaded = _load_vocabs(vocabs)
    summary = BuildMultilingualEntityVocabSummary(languages=sorted(loaded))
    with InterwikiDB(interwiki_db) as db:
        _check_languages(db, loaded)
        merged = _merge(db, loaded, summary, options.progress)
    entries = _select(merged, options, summary)
    vocab = EntityVocab(special_entries(summary.languages) + entries, source=out)
    vocab.save(out)
    summary.entries = len(vocab)
    summary.seconds = time.perf_counter() - started
    write_sidecar(out, recipe, summary)
    log_summary("build-multilingual-entity-vocab", summary)
    return summary


def _load_vocabs(uris: Sequence[str]) -> dict[str, tuple[str, EntityVocab]]:
    """language -> (uri, vocabulary); each must be monolingual with a language."""
    loaded: dict[str, tuple[str, EntityVocab]] = {}
    for uri in uris:
        vocab = EntityVocab.load(uri)
        language = _vocab_language(uri, vocab)
        if language in loaded:
            raise LukeError(
                f"{uri}: its language {language!r} is also the language of {loaded[language][0]}; "
                "give one vocabulary per language"
            )
        loaded[language] = (uri, vocab)
    return loaded


def _vocab_language(uri: str, vocab: EntityVocab) -> str:
    languages = {
        lang for entry in vocab if entry.id >= len(SPECIAL_TOKENS) for _, lang in entry.entities
    }
    if not languages:
        raise LukeError(f"{uri}: holds no entities besides the special ones; nothing to merge")
    if None in languages:
        raise LukeError(
            f"{uri}: its entities have no language, so it cannot be merged; rebuild it with "
            "`luke build-entity-vocab --language LANG`"
        )
    if len(languages) > 1:
        raise LukeError(
            f"{uri}: holds several languages ({', '.join(sorted(languages))}); "
            "give the per-language vocabularies instead"
        )
    return languages.pop()


def _check_languages(db: InterwikiDB, loaded: dict[str, tuple[str, EntityVocab]]) -> None:
    for language, (uri, _) in sorted(loaded.items()):
        if language not in db.languages:
            raise LukeError(
                f"{db.uri}: has no titles in language {language!r}, the language of {uri} "
                f"(it holds {len(db.languages)} languages: {', '.join(db.languages[:30])}"
                f"{' ...' if len(db.languages) > 30 else ''}); rebuild it with -l {language}"
            )


def _merge(
    db: InterwikiDB,
    loaded: dict[str, tuple[str, EntityVocab]],
    summary: BuildMultilingualEntityVocabSummary,
    progress: bool,
) -> list[_Merged]:
    by_key: dict[tuple, _Merged] = {}
    total = sum(len(vocab) - len(SPECIAL_TOKENS) for _, vocab in loaded.values())
    with progress_bar(total=total, desc="merge", unit="entity", disable=not progress) as bar:
        for language, (_, vocab) in sorted(loaded.items()):
            for entry in vocab.entries[len(SPECIAL_TOKENS) :]:
                title = entry.title
                item = db.get_item(title, language)
                summary.found_in_wikidata += item is not None
                key = ("item", item) if item is not None else ("title", title, language)
                merged = by_key.setdefault(key, _Merged([], 0))
                merged.entities.append((title, language))
                merged.count += entry.count
                bar.update()
    summary.input_entities = total
    summary.merged_entries = len(by_key)
    return list(by_key.values())


def _select(
    merged: list[_Merged],
    options: BuildMultilingualEntityVocabOptions,
    summary: BuildMultilingualEntityVocabSummary,
) -> list[EntityEntry]:
    kept = []
    for entry in merged:
        if len({language for _, language in entry.entities}) >= options.min_num_languages:
            entry.entities.sort(key=lambda pair: (pair[1], pair[0]))
            kept.append(entry)
    summary.below_min_languages = len(merged) - len(kept)
    room = options.vocab_size - len(SPECIAL_TOKENS)
    best = heapq.nsmallest(room, kept, key=lambda e: (-e.count, min(e.entities)))
    summary.truncated = len(kept) - len(best)
    return [
        EntityEntry(i, tuple(entry.entities), entry.count)
        for i, entry in enumerate(best, start=len(SPECIAL_TOKENS))
    ]
