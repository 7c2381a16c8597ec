"""The builder on real inputs: the enwiki fragment with the OpenNLP splitter and the
roberta-base tokenizer (two processes), and XLM-R on Japanese text with ICU. Every
instance is checked against the dump database it came from."""

from __future__ import annotations

import itertools
import os
from collections import defaultdict

import pyarrow as pa
import pytest

from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset
from luke_core.dataset.building.instances import InstanceBuilder, InstanceRules
from luke_core.dataset.building.sentences import ICUSentenceSplitter
from luke_core.dataset.building.tokenization import SegmentTokenizer
from luke_core.dataset.building.workers import resolve_redirects
from luke_core.dataset.describe import describe_dataset
from luke_core.dataset.format import load_metadata
from luke_core.dataset.tokenizers import load_tokenizer
from luke_core.dump_db import DumpDB
from luke_core.entity_vocab.vocab import MASK_ID, PAD_ID, UNK_ID, EntityVocab
from luke_core.inspect import InspectOptions
from luke_testing.dataset_inputs import (
    enwiki_dump_db,
    enwiki_vocab,
    link_count_vocab,
    opennlp_model,
    roberta_dir,
    write_dump_db,
    write_vocab,
    xlmr_dir,
)

MAX_DOCUMENTS = 10


def read_rows(out_dir: str) -> list[dict]:
    rows = []
    for shard in load_metadata(out_dir).shards:
        with pa.memory_map(os.path.join(out_dir, shard.name)) as source:
            rows.extend(pa.ipc.open_file(source).read_all().to_pylist())
    return rows


def normalise(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def enwiki_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("enwiki")
    db = enwiki_dump_db()
    # a vocabulary of the most linked targets plus every page, so that some links are
    # unknown (kept as [UNK]) and every page has an entity id
    full = EntityVocab.load(link_count_vocab(db, str(root / "full.jsonl"), include_pages=True))
    with DumpDB(db) as dump:
        titles = list(dump.titles())
    kept = [e.title for e in list(full)[3:2003]] + titles
    vocab = write_vocab(str(root / "vocab.jsonl"), kept)
    out = str(root / "dataset")
    options = BuildDatasetOptions(
        sentence_splitter="opennlp",
        opennlp_model=opennlp_model(),
        include_unk_entities=True,
        max_num_documents=MAX_DOCUMENTS,
        processes=2,
        pages_per_task=2,
        shard_size=64,
        progress=False,
    )
    summary = build_dataset(db, roberta_dir(), vocab, out, options)
    return summary, out, EntityVocab.load(vocab), db


@pytest.fixture(scope="module")
def roberta():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(roberta_dir())


def page_links(db_path: str, vocab: EntityVocab) -> dict[int, dict[int, set[str]]]:
    """Per page entity id: entity id -> the (normalised) texts of its links."""
    links: dict[int, dict[int, set[str]]] = {}
    with DumpDB(db_path) as db:
        for page in db.iter_pages():
            by_entity: dict[int, set[str]] = defaultdict(set)
            for paragraph in page.paragraphs:
                for link in paragraph.links:
                    entity = vocab.get_id(db.resolve_redirect(link.title), default=UNK_ID)
                    by_entity[entity].add(normalise(link.text))
            links[vocab.get_id(page.title)] = by_entity
    return links


def test_enwiki_instances_match_the_dump(enwiki_build, roberta):
    summary, out, vocab, db = enwiki_build
    rows = read_rows(out)
    assert len(rows) == summary.sequences > MAX_DOCUMENTS
    assert summary.pages == MAX_DOCUMENTS
    links = page_links(db, vocab)
    decode = roberta.backend_tokenizer.decode
    checked = 0
    for row in rows:
        words = row["word_ids"]
        assert 5 <= len(words) <= 510
        assert len(row["entity_ids"]) <= 128
        assert row["page_id"] in links
        for entity, start, end in zip(
            row["entity_ids"], row["entity_starts"], row["entity_ends"], strict=True
        ):
            assert entity not in (PAD_ID, MASK_ID) and 0 < entity < len(vocab)
            assert 0 <= start < end <= len(words) and end - start <= 30
            text = normalise(decode(words[start:end]))
            candidates = links[row["page_id"]][entity]
            if end - start == 30:  # cut to max_mention_length: a prefix of the link text
                assert any(c.startswith(text) for c in candidates)
            else:
                assert text in candidates, (text, candidates)
            checked += 1
    assert checked == summary.entities > 1000
    assert summary.unk_entities == sum(r["entity_ids"].count(UNK_ID) for r in rows) > 0
    assert summary.tokens == sum(len(r["word_ids"]) for r in rows)


def test_enwiki_sequences_come_from_their_page_in_order(enwiki_build, roberta):
    _, out, vocab, db = enwiki_build
    rows = read_rows(out)
    with DumpDB(db) as dump:
        texts = {
            vocab.get_id(page.title): normalise(" ".join(p.text for p in page.paragraphs))
            for page in dump.iter_pages()
        }
    seen_pages: list[int] = []
    position = 0
    for row in rows:
        if not seen_pages or seen_pages[-1] != row["page_id"]:
            assert row["page_id"] not in seen_pages  # a page's sequences are contiguous
            seen_pages.append(row["page_id"])
            position = 0
        head = normalise(roberta.backend_tokenizer.decode(row["word_ids"]))[:60]
        found = texts[row["page_id"]].find(head, position)
        assert found >= 0, head
        position = found
    assert len(seen_pages) == MAX_DOCUMENTS


def test_enwiki_inspect_decodes_instances(enwiki_build):
    _, out, vocab, _ = enwiki_build
    described = describe_dataset(out, InspectOptions(items=3))
    assert described["metadata"]["number_of_items"] == len(read_rows(out))
    assert len(described["instances"]) == 3
    first = described["instances"][0]
    assert first["page_title"] == vocab.get_title(first["page_id"])
    for entity in first["entities"]:
        assert entity["title"] == vocab.get_title(entity["id"])
        assert entity["text"] and entity["text"] in first["text"]


def test_xlmr_on_japanese_with_icu(tmp_path):
    pages = {
        "東京": [
            "[[東京]]は[[日本]]の首都です。[[大阪|大阪府]]も大きい都市で、"
            "[[関西]]にあります。人口は約880万人です。",
            "Tokyo hosted the [[1964 Summer Olympics|1964 Olympics]] and [[日本|Japan]]'s games.",
        ]
    }
    db = write_dump_db(str(tmp_path / "ja.db"), pages, language="ja")
    vocab_path = write_vocab(
        str(tmp_path / "v.jsonl"), ["東京", "日本", "大阪", "関西", "1964 Summer Olympics"], "ja"
    )
    out = str(tmp_path / "out")
    options = BuildDatasetOptions(processes=1, progress=False, min_sentence_length=3)
    summary = build_dataset(db, xlmr_dir(), vocab_path, out, options)
    assert load_metadata(out).build_options["sentence_splitter"] == "ja"  # ICU, the language
    assert load_metadata(out).tokenizer_class == "XLMRobertaTokenizer"
    vocab = EntityVocab.load(vocab_path)
    described = describe_dataset(out, InspectOptions(items=10))
    found = [(e["title"], e["text"]) for i in described["instances"] for e in i["entities"]]
    assert found == [
        ("東京", "東京"),
        ("日本", "日本"),
        ("大阪", "大阪府"),
        ("関西", "関西"),
        ("1964 Summer Olympics", "1964 Olympics"),
        ("日本", "Japan"),
    ]
    assert summary.entities == 6 and vocab.get_id("東京", "ja") == 3


@pytest.mark.parametrize(("source", "word_start"), [(roberta_dir, "Ġ"), (xlmr_dir, "▁")])
def test_a_link_right_after_a_link_starts_a_word(source, word_start):
    """ "Alkali metal" of the enwiki fragment writes "(LiF)" as [[Lithium|Li]][[Fluorine|F]]:
    with no text between the links, the reference tokenised F as a word of its own
    ("Li" + "ĠF"), as it did a link at a sentence's start; text glued to a link is not."""
    tokenizer = load_tokenizer(source())
    vocab = EntityVocab.load(enwiki_vocab())
    with DumpDB(enwiki_dump_db()) as db:
        page = db.get_page("Alkali metal")
        builder = InstanceBuilder(
            InstanceRules(language="en", include_unk_entities=True),
            vocab,
            SegmentTokenizer(tokenizer),
            ICUSentenceSplitter("en"),
            lambda titles: resolve_redirects(db, titles),
        )
        columns, _ = builder.build([page])
        glued = {
            (db.resolve_redirect(a.title), db.resolve_redirect(b.title))
            for paragraph in page.paragraphs
            for a, b in itertools.pairwise(paragraph.links)
            if a.end == b.start
        }
    # "(LiF)", "(LiI)", "Petalite (LiAlSi4O10)": links with no text between them
    assert glued == {
        ("Lithium", "Fluorine"),
        ("Lithium", "Iodine"),
        ("Lithium", "Aluminium"),
        ("Aluminium", "Silicon"),
    }
    second_of = {}
    for row in columns.to_record_batch().to_pylist():
        columns_of_row = (row["entity_ids"], row["entity_starts"], row["entity_ends"])
        mentions = list(zip(*columns_of_row, strict=True))
        for (first, _, end), (second, start, stop) in itertools.pairwise(mentions):
            pair = (vocab.get_title(first), vocab.get_title(second))
            if pair in glued and end == start:
                second_of[pair] = tokenizer.convert_ids_to_tokens(row["word_ids"][start:stop])
    assert second_of.keys() == glued
    assert second_of["Lithium", "Fluorine"] == [f"{word_start}F"]
    assert second_of["Lithium", "Iodine"] == [f"{word_start}I"]
    assert all(pieces[0].startswith(word_start) for pieces in second_of.values())
