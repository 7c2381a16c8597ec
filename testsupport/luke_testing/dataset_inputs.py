"""Inputs of the dataset builder for tests and benchmarks: dump databases written from
wiki-like markup (`[[Target|text]]`), vocabularies made by counting links, the real enwiki
fragment as a dump database (built once per process), and the shared real tokenizers and
OpenNLP model of $LUKE_TEST_DATA."""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence

from luke_core.dump_db import DumpDB, Link, Paragraph
from luke_core.dump_db.database import DumpDBWriter, encode_paragraphs, new_build_meta
from luke_core.entity_vocab.vocab import EntityEntry, EntityVocab, special_entries
from luke_testing.shared_data import shared_data_path

ENWIKI_FRAGMENT = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_LINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]*))?\]\]")


def shared_data(*parts: str) -> str:
    """A file of $LUKE_TEST_DATA (see `shared_data_path`), as a string."""
    return str(shared_data_path(*parts))


def roberta_dir() -> str:
    return shared_data("tokenizers", "roberta-base")


def xlmr_dir() -> str:
    return shared_data("tokenizers", "xlm-roberta-reconstructed")


def opennlp_model() -> str:
    return shared_data("opennlp", "en-sent.bin")


def paragraph(markup: str, is_abstract: bool = True) -> Paragraph:
    """A paragraph from `[[Target]]` / `[[Target|text]]` markup."""
    text, links, position = [], [], 0
    length = 0
    for match in _LINK.finditer(markup):
        before = markup[position : match.start()]
        text.append(before)
        length += len(before)
        title, label = match.group(1), match.group(2)
        label = title if label is None else label
        links.append(Link(title, label, length, length + len(label)))
        text.append(label)
        length += len(label)
        position = match.end()
    text.append(markup[position:])
    return Paragraph("".join(text), tuple(links), is_abstract)


def write_dump_db(
    path: str,
    pages: dict[str, Sequence[str | Paragraph]],
    redirects: dict[str, str] | None = None,
    language: str | None = "en",
    namespaces: dict[str, str] | None = None,
) -> str:
    """A dump database of the pages (title -> paragraphs as markup or Paragraph)."""
    writer = DumpDBWriter(path)
    for page_id, (title, paragraphs) in enumerate(pages.items()):
        parsed = [p if isinstance(p, Paragraph) else paragraph(p) for p in paragraphs]
        num_links = sum(len(p.links) for p in parsed)
        writer.add_page(title, page_id + 1, False, encode_paragraphs(parsed), num_links)
    for title, target in (redirects or {}).items():
        writer.add_redirect(title, target)
    writer.resolve_redirects()
    meta = {**new_build_meta(), "language": language}
    if namespaces is not None:
        meta["namespaces"] = namespaces
    writer.finish(meta)
    return path


def write_vocab(
    path: str, titles: Iterable[str], language: str | None = None, languages=None
) -> str:
    """A vocabulary of the titles in order (ids from 3), all in `language`."""
    entries = [
        EntityEntry(i + 3, ((title, language),), 1) for i, title in enumerate(dict.fromkeys(titles))
    ]
    EntityVocab(special_entries(languages or [language]) + entries).save(path)
    return path


def link_count_vocab(db_path: str, path: str, *, include_pages: bool = False) -> str:
    """A vocabulary by counting the link targets of the dump (redirects resolved),
    most linked first; with `include_pages`, every page title as well."""
    counts: Counter[str] = Counter()
    with DumpDB(db_path) as db:
        for targets in db.iter_link_targets():
            counts.update(db.resolve_redirect(t) for t in targets)
        if include_pages:
            counts.update({title: 0 for title in db.titles() if title not in counts})
    titles = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return write_vocab(path, titles)


@functools.lru_cache(maxsize=1)
def enwiki_dump_db() -> str:
    """The real enwiki fragment as a dump database, built once per test session."""
    from luke_core.dump_db import BuildDumpDbOptions, build_dump_db

    dump = shared_data("wikipedia", ENWIKI_FRAGMENT)
    folder = tempfile.mkdtemp(prefix="luke-test-enwiki-")
    atexit.register(shutil.rmtree, folder, True)
    out = os.path.join(folder, "enwiki.db")
    build_dump_db(dump, out, BuildDumpDbOptions(processes=1, progress=False))
    return out


@functools.lru_cache(maxsize=1)
def enwiki_vocab() -> str:
    """Every link target and page title of the fragment."""
    folder = tempfile.mkdtemp(prefix="luke-test-enwiki-vocab-")
    atexit.register(shutil.rmtree, folder, True)
    return link_count_vocab(
        enwiki_dump_db(), os.path.join(folder, "entity_vocab.jsonl"), include_pages=True
    )


def write_byte_tokenizer(folder: str) -> str:
    """A byte-level BPE tokenizer without merges: every byte of UTF-8 text is one token,
    so token counts are known in advance (" abc" is 4 tokens). Loads with AutoTokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(specials + alphabet)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
    )
    tokenizer.save_pretrained(folder)
    return folder
