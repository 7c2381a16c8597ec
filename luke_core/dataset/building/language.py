"""The language of a dataset build, checked against the dump and the vocabulary, and
the wiki's name for the category namespace."""

from __future__ import annotations

import json

from luke_core.dump_db import DumpDB
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError

CATEGORY_NAMESPACE = "14"


def resolve_language(
    db: DumpDB, vocab: EntityVocab, language: str | None, dump_uri: str, vocab_uri: str
) -> str | None:
    """The language whose titles the vocabulary is searched with: `--language`, else the
    dump's. An error when the three disagree, or when a multilingual vocabulary comes
    without `--language`."""
    vocab_languages = [lang for lang in vocab.languages if lang]
    if vocab.is_multilingual and language is None:
        raise LukeError(
            f"{vocab_uri}: a multilingual vocabulary ({', '.join(vocab_languages)}): pass "
            "--language to say which language's titles this dump holds"
        )
    if language is not None and db.language and language != db.language:
        raise LukeError(
            f"{dump_uri}: the dump database is in {db.language!r}, but --language is {language!r}"
        )
    language = language or db.language
    if vocab_languages and language and language not in vocab_languages:
        raise LukeError(
            f"{vocab_uri}: the vocabulary has titles in {', '.join(vocab_languages)} only, "
            f"none in {language!r} (the language of {dump_uri})"
        )
    if language is None and len(vocab_languages) == 1:
        language = vocab_languages[0]
    return language


def category_names(db: DumpDB) -> tuple[str, ...]:
    """`Category` and the wiki's local name of namespace 14 (e.g. `Kategorie`)."""
    namespaces = db.meta.get("namespaces") or {}
    if isinstance(namespaces, str):
        try:
            namespaces = json.loads(namespaces)
        except json.JSONDecodeError:
            namespaces = {}
    local = namespaces.get(CATEGORY_NAMESPACE) if isinstance(namespaces, dict) else None
    return tuple(dict.fromkeys(name for name in ("Category", local) if name))
