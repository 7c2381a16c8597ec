"""`EntityVocab`: the entity vocabulary every later step uses.

On disk it is LUKE's `entity_vocab.jsonl`, one entry per line:
`{"id": 3, "entities": [["Tokyo", "en"], ["東京", "ja"]], "count": 1234}`; ids 0, 1, 2
are always `[PAD]`, `[UNK]`, `[MASK]` (count 0), with one (special, language) pair per
language in a multilingual vocabulary. The legacy `title<TAB>count` .tsv of the first
LUKE release and Hugging Face's flat `entity_vocab.json` load too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from luke_core import storage
from luke_core.errors import LukeError

PAD_TOKEN, UNK_TOKEN, MASK_TOKEN = "[PAD]", "[UNK]", "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, MASK_TOKEN)
PAD_ID, UNK_ID, MASK_ID = 0, 1, 2


@dataclass(frozen=True, slots=True)
class EntityEntry:
    """One id of the vocabulary: all (title, language) pairs that share it."""

    id: int
    entities: tuple[tuple[str, str | None], ...]
    count: int

    @property
    def title(self) -> str:
        return self.entities[0][0]

    def to_json(self) -> str:
        """A line as the reference writes it (`json.dump` defaults: non-ASCII as \\u
        escapes), so that files built here and there compare byte for byte."""
        return json.dumps(
            {"id": self.id, "entities": [list(e) for e in self.entities], "count": self.count}
        )


def special_entries(languages: Iterable[str | None] = (None,)) -> list[EntityEntry]:
    """Entries 0-2 with one (special, language) pair per language, languages sorted."""
    langs = sorted(set(languages), key=lambda x: (x is not None, x or "")) or [None]
    return [
        EntityEntry(i, tuple((token, lang) for lang in langs), 0)
        for i, token in enumerate(SPECIAL_TOKENS)
    ]


class EntityVocab:
    """Look-up by (title, language) and by id; iteration in id order.

    A vocabulary whose entries carry one language (or none) is monolingual: there
    `get_id(title)` works without naming the language."""

    def __init__(self, entries: Iterable[EntityEntry], *, source: str = "<memory>"):
        self.source = source
        self.entries: list[EntityEntry] = list(entries)
        self._ids: dict[tuple[str, str | None], int] = {}
        self._validate_and_index()
        self.languages: tuple[str | None, ...] = tuple(
            sorted(
                {lang for e in self.entries for _, lang in e.entities},
                key=lambda x: (x is not None, x or ""),
            )
        )
        self.is_multilingual = len([lang for lang in self.languages if lang]) > 1
        self._by_title: dict[str, int] | None = None
        if not self.is_multilingual:
            self._by_title = {title: i for (title, _), i in self._ids.items()}

    def _validate_and_index(self) -> None:
        for expected, entry in enumerate(self.entries):
            if entry.id != expected:
                raise LukeError(
                    f"{self.source}: entity ids must run 0, 1, 2, ... without gaps; "
                    f"found id {entry.id} at position {expected}"
                )
            is_special = expected < len(SPECIAL_TOKENS) and {t for t, _ in entry.entities} == {
                SPECIAL_TOKENS[expected]
            }
            if expected < len(SPECIAL_TOKENS) and not is_special:
                raise LukeError(
                    f"{self.source}: id {expected} must be {SPECIAL_TOKENS[expected]}, "
                    f"found {entry.entities}"
                )
            if not entry.entities:
                raise LukeError(f"{self.source}: entry {entry.id} has no entities")
            for key in entry.entities:
                if key in self._ids:
                    raise LukeError(
                        f"{self.source}: {key} appears twice (ids {self._ids[key]} and {entry.id})"
                    )
                self._ids[key] = entry.id
        if len(self.entries) < len(SPECIAL_TOKENS):
            raise LukeError(f"{self.source}: a vocabulary needs at least the 3 special entries")

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[EntityEntry]:
        return iter(self.entries)

    def __contains__(self, key: str | tuple[str, str | None]) -> bool:
        title, language = (key, None) if isinstance(key, str) else key
        return self.get_id(title, language) is not None

    def get_id(self, title: str, language: str | None = None, default: int | None = None):
        """The id of (title, language). In a monolingual vocabulary the language may be
        left out, and any language finds a title whose entries carry none; a title of
        another language than the vocabulary's is not found."""
        found = self._ids.get((title, language))
        if found is None and self._by_title is not None and self._language_free(language):
            found = self._by_title.get(title)
        return default if found is None else found

    def _language_free(self, language: str | None) -> bool:
        return language is None or not any(self.languages)

    def get_entry(self, entity_id: int) -> EntityEntry:
        return self.entries[entity_id]

    def get_title(self, entity_id: int, language: str | None = None) -> str:
        entry = self.entries[entity_id]
        for title, lang in entry.entities:
            if language is None or lang == language:
                return title
        return entry.title

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def mask_id(self) -> int:
        return MASK_ID

    @classmethod
    def load(cls, uri: str) -> EntityVocab:
        """Read a .jsonl vocabulary, a legacy .tsv, or a Hugging Face entity_vocab.json."""
        if not storage.exists(uri):
            raise LukeError(f"{uri}: entity vocabulary not found")
        name = storage.basename(uri)
        text = _read_text(uri)
        if name.endswith(".tsv"):
            return cls(_parse_tsv(text, uri), source=uri)
        stripped = text.lstrip()
        if name.endswith(".json") and stripped.startswith("{") and "\n{" not in stripped:
            return cls.from_huggingface(_parse_json(text, uri), source=uri)
        return cls(_parse_jsonl(text, uri), source=uri)

    def save(self, uri: str) -> None:
        """Write the .jsonl form, atomically."""
        storage.write_text(uri, "".join(entry.to_json() + "\n" for entry in self.entries))

    def to_huggingface(self, multilingual: bool | None = None) -> dict[str, int]:
        """The flat {key: id} of transformers' tokenizers: plain titles for LUKE,
        `lang:title` for mLUKE; special tokens always plain."""
        multilingual = self.is_multilingual if multilingual is None else multilingual
        mapping: dict[str, int] = {}
        for entry in self.entries:
            for title, lang in entry.entities:
                if title in SPECIAL_TOKENS and entry.id < len(SPECIAL_TOKENS):
                    key = title
                elif multilingual:
                    if not lang:
                        raise LukeError(
                            f"{self.source}: entity {title!r} has no language; the mLUKE form "
                            "needs one for every entity"
                        )
                    key = f"{lang}:{title}"
                else:
                    key = title
                mapping.setdefault(key, entry.id)
        return mapping

    @classmethod
    def from_huggingface(
        cls,
        mapping: Mapping[str, int],
        *,
        multilingual: bool | None = None,
        source: str = "<memory>",
    ) -> EntityVocab:
        """Inverse of `to_huggingface` (counts are not kept there: they come back as 0)."""
        if multilingual is None:
            multilingual = all(
                ":" in key for key in mapping if key not in SPECIAL_TOKENS and key != "[MASK2]"
            ) and len(mapping) > len(SPECIAL_TOKENS)
        grouped: dict[int, list[tuple[str, str | None]]] = {}
        for key, entity_id in sorted(mapping.items(), key=lambda kv: (kv[1], kv[0])):
            if key == "[MASK2]":
                continue
            if key in SPECIAL_TOKENS or not multilingual:
                grouped.setdefault(entity_id, []).append((key, None))
            else:
                lang, _, title = key.partition(":")
                grouped.setdefault(entity_id, []).append((title, lang))
        entries = [
            EntityEntry(i, tuple(sorted(grouped[i], key=_entity_order)), 0) for i in sorted(grouped)
        ]
        return cls(entries, source=source)


def _entity_order(entity: tuple[str, str | None]) -> tuple:
    """(title, language) pairs by language (null first), then title."""
    title, language = entity
    return (language is not None, language or "", title)


def _read_text(uri: str) -> str:
    data = storage.read_bytes(uri)
    if data.startswith(b"SQLite format 3\x00"):
        raise LukeError(
            f"{uri}: an SQLite database (a dump or interwiki database?), not an entity vocabulary"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LukeError(f"{uri}: not a text file, so not an entity vocabulary") from None


def _parse_json(text: str, uri: str) -> dict:
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LukeError(f"{uri}: not an entity vocabulary: invalid JSON ({exc})") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, int) for v in mapping.values()):
        raise LukeError(f"{uri}: not an entity vocabulary: expected {{title: id}}")
    return mapping


def _parse_jsonl(text: str, uri: str) -> list[EntityEntry]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            entities = tuple((str(t), lang) for t, lang in obj["entities"])
            if not all(lang is None or isinstance(lang, str) for _, lang in entities):
                raise ValueError("a language must be a string or null")
            entries.append(EntityEntry(int(obj["id"]), entities, int(obj.get("count", 0))))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise LukeError(
                f"{uri}: line {number} is not an entity vocabulary entry "
                f'({{"id", "entities", "count"}}): {exc}'
            ) from None
    return entries


def _parse_tsv(text: str, uri: str) -> list[EntityEntry]:
    """The first LUKE release: `title<TAB>count` lines, specials first, id = line index."""
    entries = []
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        title, tab, count = line.rpartition("\t")
        if not tab or not count.strip().isdigit():
            raise LukeError(f"{uri}: line {number + 1} is not 'title<TAB>count'")
        entries.append(EntityEntry(len(entries), ((title, None),), int(count)))
    return entries


def describe_entity_vocab(uri: str, options) -> dict:
    """`luke inspect` of a vocabulary: size, languages and the most frequent entries, or
    with `--title` (and `--language`) the entry holding that title."""
    vocab = EntityVocab.load(uri)
    if options.title:
        entity_id = vocab.get_id(options.title, options.language)
        if entity_id is None:
            where = f" in language {options.language!r}" if options.language else ""
            raise LukeError(f"{uri}: no entity titled {options.title!r}{where}")
        return {"entry": _entry_json(vocab.get_entry(entity_id))}
    return {
        "size": len(vocab),
        "languages": list(vocab.languages),
        "is_multilingual": vocab.is_multilingual,
        "total_count": sum(entry.count for entry in vocab),
        "top": [_entry_json(entry) for entry in vocab.entries[PAD_ID : MASK_ID + 1 + options.top]],
    }


def _entry_json(entry: EntityEntry) -> dict:
    return {"id": entry.id, "entities": [list(e) for e in entry.entities], "count": entry.count}
