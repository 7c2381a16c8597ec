"""`build_entity_vocab`: dump database -> `entity_vocab.jsonl` (step 2 of the pipeline).

Reads: a dump database (step 1) and optional white lists (one title per line).
Writes: the LUKE vocabulary (see `vocab.py`), published atomically at OUT.

Links are counted in parallel (`link_counts.py`): raw targets per shard of pages,
then each distinct target resolved once through redirects; memory is bounded by the
number of distinct targets.

What is kept: titles that are namespace-0 articles of the dump (not redirects; a
`Category:` title never is one, but it is checked by name too, as the reference does),
ordered by count descending, ties by title (the reference's `most_common` order depends
on dict insertion order). White-listed titles come first, also by count then title.

Decisions where the reference is silent or loose, each tested:
- White-list titles are normalised like link targets (`_` -> space, first letter
  upper-cased) and redirects are followed, so a list taken from URLs or an older dump
  works; a title that is no article of this dump is reported and left out. A white-listed
  article is kept even when no page links to it (the reference silently dropped those);
  `--min-count` applies to the other titles only.
- `--vocab-size` is a hard limit including the 3 specials: a white list that does not fit
  is an error rather than a vocabulary larger than asked for.
- `--language` defaults to null, as in the reference and in the published LUKE
  vocabularies; the dump's own language is only compared with it (a warning when they
  differ). Per-language vocabularies that are merged for mLUKE need it.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from luke_core import storage
from luke_core.dump_db.database import DumpDB
from luke_core.dump_db.wikitext import normalize_title
from luke_core.entity_vocab.link_counts import count_links, entity_check
from luke_core.entity_vocab.vocab import SPECIAL_TOKENS, EntityEntry, EntityVocab, special_entries
from luke_core.errors import LukeError
from luke_core.parallel import available_cpus
from luke_core.progress import log_summary
from luke_core.reuse import (
    Recipe,
    content_digest,
    file_stamp,
    neutral,
    read_sidecar,
    recipe_options,
    reused_summary,
    write_sidecar,
)

logger = logging.getLogger(__name__)
RULES_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class BuildEntityVocabOptions:
    """Options of `luke build-entity-vocab`."""

    vocab_size: int = 1_000_000
    """Entries in the vocabulary, the 3 special entries included."""
    min_count: int = 0
    """Titles linked fewer times are left out (white-listed titles excepted)."""
    language: str | None = None
    """The language written on every entry (null when not given)."""
    white_lists: tuple[str, ...] = ()
    """Files of titles (one per line) that go first in the vocabulary."""
    white_list_only: bool = False
    """Only the white-listed titles."""
    processes: int = neutral(default_factory=available_cpus)
    reuse: bool = neutral(default=False)
    """Keep OUT when it was built from the same dump database and white lists (unchanged
    since) with the same options: see `luke_core.reuse`."""
    progress: bool = neutral(default=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "white_lists", tuple(self.white_lists))
        if self.vocab_size < len(SPECIAL_TOKENS) + 1:
            raise LukeError(
                f"--vocab-size must be at least {len(SPECIAL_TOKENS) + 1} "
                f"(the {len(SPECIAL_TOKENS)} special entries and one entity), "
                f"not {self.vocab_size}"
            )
        if self.min_count < 0:
            raise LukeError(f"--min-count must be 0 or more, not {self.min_count}")
        if self.processes < 1:
            raise LukeError(f"processes must be at least 1, not {self.processes}")
        if self.white_list_only and not self.white_lists:
            raise LukeError("--white-list-only needs at least one --white-list FILE")
        check_language(self.language)


def check_language(language: str | None) -> None:
    """A vocabulary language is free-form (Wikipedia codes such as `zh-yue`) but must
    not break the `lang:title` keys of the Hugging Face form."""
    if language is not None and (not language or ":" in language or language != language.strip()):
        raise LukeError(f"--language {language!r}: not a language code (like en, ja, zh-yue)")


@dataclass(kw_only=True)
class BuildEntityVocabSummary:
    pages: int = 0
    links: int = 0
    links_via_redirects: int = 0
    """Links whose target is a redirect to an article (counted for the article)."""
    links_to_non_articles: int = 0
    """Links to missing pages, redirect loops or non-articles: not counted."""
    distinct_targets: int = 0
    """Distinct link targets as written (articles, redirects, red links)."""
    distinct_entities: int = 0
    """Distinct articles linked (after redirect resolution): the candidates."""
    white_listed: int = 0
    white_list_not_found: int = 0
    below_min_count: int = 0
    truncated: int = 0
    """Entities left out because the vocabulary was full."""
    entries: int = 0
    """Vocabulary size written, the 3 specials included."""
    language: str | None = None
    dump_language: str | None = None
    seconds: float = 0.0
    links_per_second: float = 0.0
    reused: bool = False


def build_entity_vocab(
    dump_db: str, out: str, options: BuildEntityVocabOptions | None = None
) -> BuildEntityVocabSummary:
    """Count the links of the dump database at `dump_db` and write the vocabulary."""
    options = options or BuildEntityVocabOptions()
    white_titles = _read_white_lists(options.white_lists)
    recipe = _recipe(dump_db, options)
    if options.reuse and (
        earlier := reused_summary(out, recipe, read_sidecar, BuildEntityVocabSummary)
    ):
        return earlier
    started = time.perf_counter()
    summary = BuildEntityVocabSummary(language=options.language)
    with DumpDB(dump_db) as db:
        summary.dump_language = db.language
        if options.language and db.language and options.language != db.language:
            logger.warning(
                "%s: the dump's language is %r but --language is %r",
                dump_db, db.language, options.language,
            )  # fmt: skip
        white_list = _resolve_white_list(db, white_titles, summary)
        counts = _count_links(db, options, summary)
        titles = _select_titles(counts, white_list, options, summary)
    entries = special_entries([options.language]) + [
        EntityEntry(i, ((title, options.language),), counts.get(title, 0))
        for i, title in enumerate(titles, start=len(SPECIAL_TOKENS))
    ]
    EntityVocab(entries, source=out).save(out)
    summary.entries = len(entries)
    summary.seconds = time.perf_counter() - started
    summary.links_per_second = summary.links / summary.seconds if summary.seconds else 0.0
    write_sidecar(out, recipe, summary)
    log_summary("build-entity-vocab", summary)
    return summary


def _recipe(dump_db: str, options: BuildEntityVocabOptions) -> Recipe:
    inputs = {"dump_db": file_stamp(dump_db)}
    inputs.update(
        {f"white_list[{i}]": content_digest(u) for i, u in enumerate(options.white_lists)}
    )
    return Recipe("build-entity-vocab", RULES_VERSION, inputs, recipe_options(options))


def _count_links(
    db: DumpDB, options: BuildEntityVocabOptions, summary: BuildEntityVocabSummary
) -> Counter:
    """Article -> number of links to it (through redirects), over all pages."""
    found = count_links(db, options.processes, progress=options.progress)
    summary.pages, summary.links = found.pages, found.links
    summary.distinct_targets = found.distinct_targets
    summary.links_via_redirects = found.via_redirects
    summary.links_to_non_articles = found.to_non_articles
    summary.distinct_entities = len(found.counts)
    return found.counts


def _read_white_lists(uris: Iterable[str]) -> list[tuple[str, str]]:
    """(file, title) in file order, blank lines skipped."""
    titles = []
    for uri in uris:
        if not storage.is_file(uri):
            raise LukeError(f"{uri}: white list not found")
        try:
            text = storage.read_text(uri)
        except UnicodeDecodeError:
            raise LukeError(f"{uri}: not a UTF-8 text file of titles, one per line") from None
        titles.extend((uri, line.strip()) for line in text.splitlines() if line.strip())
    return titles


def _resolve_white_list(
    db: DumpDB, titles: list[tuple[str, str]], summary: BuildEntityVocabSummary
) -> list[str]:
    """White-listed articles, redirects followed, duplicates removed, in list order."""
    rules = db.wikitext_rules()
    is_entity = entity_check(db)
    kept: dict[str, None] = {}
    missing = []
    for uri, title in titles:
        resolved = db.resolve_redirect(normalize_title(title, rules))
        if is_entity(resolved):
            kept.setdefault(resolved, None)
        else:
            missing.append(f"{uri}: {title!r}")
    if missing:
        logger.warning(
            "%d white-listed titles are no article of the dump, left out: %s%s",
            len(missing), "; ".join(missing[:10]), " ..." if len(missing) > 10 else "",
        )  # fmt: skip
    summary.white_list_not_found = len(missing)
    return list(kept)


def _select_titles(
    counts: Counter,
    white_list: list[str],
    options: BuildEntityVocabOptions,
    summary: BuildEntityVocabSummary,
) -> list[str]:
    """The entity titles in id order: white-listed ones, then the most linked others."""
    room = options.vocab_size - len(SPECIAL_TOKENS)
    if len(white_list) > room:
        raise LukeError(
            f"{', '.join(options.white_lists)}: the white lists hold {len(white_list):,} "
            f"articles, more than --vocab-size {options.vocab_size:,} leaves room for "
            f"({room:,} after the {len(SPECIAL_TOKENS)} special entries)"
        )
    chosen = sorted(white_list, key=lambda title: (-counts.get(title, 0), title))
    summary.white_listed = len(chosen)
    if options.white_list_only:
        return chosen
    white = set(chosen)
    candidates = [
        (title, count)
        for title, count in counts.items()
        if title not in white and count >= options.min_count
    ]
    summary.below_min_count = len(counts) - len(white & counts.keys()) - len(candidates)
    room -= len(chosen)
    best = heapq.nsmallest(room, candidates, key=lambda tc: (-tc[1], tc[0]))
    summary.truncated = len(candidates) - len(best)
    return chosen + [title for title, _ in best]
