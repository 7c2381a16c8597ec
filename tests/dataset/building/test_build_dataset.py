"""`build_dataset` on hand-made dump databases with a byte tokenizer (one token per byte,
so every length is known in advance): links and mentions, the reference's rules, packing
and its limits, determinism, the output directory."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset
from luke_core.dataset.format import load_metadata
from luke_core.entity_vocab.vocab import UNK_ID, EntityVocab
from luke_testing.dataset_inputs import (
    paragraph,
    write_byte_tokenizer,
    write_dump_db,
    write_vocab,
)

OPTIONS = {"sentence_splitter": "en", "processes": 1, "progress": False}


@pytest.fixture(scope="module")
def byte_tokenizer(tmp_path_factory):
    return write_byte_tokenizer(str(tmp_path_factory.mktemp("byte-tokenizer")))


def read_rows(out_dir: str) -> list[dict]:
    rows = []
    for shard in load_metadata(out_dir).shards:
        with pa.memory_map(os.path.join(out_dir, shard.name)) as source:
            rows.extend(pa.ipc.open_file(source).read_all().to_pylist())
    return rows


def text_of(ids) -> str:
    """Decode the byte tokenizer's ids (id = 5 + index in ByteLevel's sorted alphabet)."""
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    byte_of = {char: byte for byte, char in _byte_level_map().items()}
    return bytes(byte_of[alphabet[i - 5]] for i in ids).decode("utf-8")


def _byte_level_map() -> dict[int, str]:
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


def build(tmp_path, tokenizer, pages, vocab_titles, *, redirects=None, name="out", **options):
    db = write_dump_db(str(tmp_path / f"{name}.db"), pages, redirects)
    vocab = write_vocab(str(tmp_path / f"{name}-vocab.jsonl"), vocab_titles)
    out = str(tmp_path / name)
    summary = build_dataset(
        db, tokenizer, vocab, out, BuildDatasetOptions(**{**OPTIONS, **options})
    )
    return summary, out, EntityVocab.load(vocab)


def mentions(row) -> list[tuple[int, str]]:
    return [
        (entity, text_of(row["word_ids"][start:end]).strip())
        for entity, start, end in zip(
            row["entity_ids"], row["entity_starts"], row["entity_ends"], strict=True
        )
    ]


def test_mentions_cover_their_link_text(tmp_path, byte_tokenizer):
    pages = {
        "Paris": [
            "[[Paris]] is the capital of [[France]]. Its [[Parisian|Paris]]ian cuisine is famous.",
            "The [[Seine|river Seine]] flows through [[NYC|New York]]? No, through Paris.",
        ]
    }
    vocab_titles = ["France", "Paris", "Seine", "New York City", "Parisian"]
    summary, out, vocab = build(
        tmp_path, byte_tokenizer, pages, vocab_titles, redirects={"NYC": "New York City"}
    )
    rows = read_rows(out)
    assert len(rows) == summary.sequences == 1  # 4 sentences packed into one sequence
    (row,) = rows
    assert row["page_id"] == vocab.get_id("Paris")
    assert text_of(row["word_ids"]) == (
        " Paris is the capital of France. Its Parisian cuisine is famous."
        " The river Seine flows through New York? No, through Paris."
    )
    assert mentions(row) == [
        (vocab.get_id("Paris"), "Paris"),
        (vocab.get_id("France"), "France"),
        (vocab.get_id("Parisian"), "Paris"),  # mention boundary inside a word
        (vocab.get_id("Seine"), "river Seine"),
        (vocab.get_id("New York City"), "New York"),  # redirect followed
    ]
    # "ian" after the mention "Paris" of "Parisian" is tokenised on its own, no space
    end = row["entity_ends"][2]
    assert text_of(row["word_ids"][end : end + 3]) == "ian"
    assert summary.links == summary.links_in_vocab == 5
    assert summary.entities == 5 and summary.unk_entities == 0


def test_unknown_entities_skipped_or_kept_as_unk(tmp_path, byte_tokenizer):
    pages = {"A": ["Some [[Known]] and some [[Stranger]] things happen here."]}
    _, out, vocab = build(tmp_path, byte_tokenizer, pages, ["Known"], name="skip")
    (row,) = read_rows(out)
    assert mentions(row) == [(vocab.get_id("Known"), "Known")]
    assert text_of(row["word_ids"]) == " Some Known and some Stranger things happen here."

    summary, out, vocab = build(
        tmp_path, byte_tokenizer, pages, ["Known"], name="keep", include_unk_entities=True
    )
    (row,) = read_rows(out)
    assert mentions(row) == [(vocab.get_id("Known"), "Known"), (UNK_ID, "Stranger")]
    assert summary.unk_entities == 1 and summary.unk_entity_share == 0.5
    assert summary.links_unknown == 1


def test_category_links_are_blanked(tmp_path, byte_tokenizer):
    pages = {
        "A": [
            "Cities of the world are here. [[Category:Cities|Category:Cities]] "
            "See [[Category:Cities|the cities]] and [[Rome]] too."
        ]
    }
    summary, out, vocab = build(tmp_path, byte_tokenizer, pages, ["Rome", "Category:Cities"])
    (row,) = read_rows(out)
    text = text_of(row["word_ids"])
    assert "Category" not in text
    assert text == " Cities of the world are here. See the cities and Rome too."
    # a category link whose text does not start with "Category:" stays, as in the reference
    assert mentions(row) == [
        (vocab.get_id("Category:Cities"), "the cities"),
        (vocab.get_id("Rome"), "Rome"),
    ]
    assert summary.links_category == 1


def test_category_links_in_the_wikis_own_namespace_name(tmp_path, byte_tokenizer):
    db = write_dump_db(
        str(tmp_path / "de.db"),
        {"Rom": ["Rom ist eine Stadt in [[Italien]]. [[Kategorie:Stadt|Kategorie:Stadt]]"]},
        language="de",
        namespaces={"0": "", "14": "Kategorie"},
    )
    vocab = write_vocab(str(tmp_path / "v.jsonl"), ["Italien", "Kategorie:Stadt"])
    summary = build_dataset(
        db, byte_tokenizer, vocab, str(tmp_path / "out"), BuildDatasetOptions(**OPTIONS)
    )
    (row,) = read_rows(str(tmp_path / "out"))
    assert "Kategorie" not in text_of(row["word_ids"])
    assert summary.links_category == 1


def test_links_across_sentences_are_not_mentions(tmp_path, byte_tokenizer):
    pages = {"A": ["It ends [[Rome|here. And]] starts again with [[Rome]] today."]}
    summary, out, vocab = build(tmp_path, byte_tokenizer, pages, ["Rome"])
    rows = read_rows(out)
    assert [m for row in rows for m in mentions(row)] == [(vocab.get_id("Rome"), "Rome")]
    assert summary.links_across_sentences == 1
    assert text_of(rows[0]["word_ids"]) == " It ends here. And starts again with Rome today."


def sentence(words: int, link: bool = False, marker: str = "w") -> str:
    """A sentence of `words` 3-letter words (4 tokens each with the space); the first word
    a link to Rome when `link`. Tokens: 4 * words + 1 (the final period)."""
    body = [f"{marker}{i:02d}" for i in range(words)]
    if link:
        body[0] = f"[[Rome|{body[0]}]]"
    return " ".join(body) + "."


def expected_packing(lengths_and_links, max_tokens, min_tokens, without_entities=False):
    """The reference's greedy packing over sentence lengths: returns the sequences as
    lists of sentence indices."""
    kept = [
        (i, n, ln) for i, (n, ln) in enumerate(lengths_and_links) if min_tokens <= n <= max_tokens
    ]
    sequences, current, size, has_link = [], [], 0, False
    for position, (i, n, ln) in enumerate(kept):
        current.append(i)
        size += n
        has_link |= ln
        last = position == len(kept) - 1
        if last or size + kept[position + 1][1] > max_tokens:
            if has_link or without_entities:
                sequences.append(current)
            current, size, has_link = [], 0, False
    return sequences


@pytest.mark.parametrize("without_entities", [False, True])
def test_greedy_packing_within_limits(tmp_path, byte_tokenizer, without_entities):
    # sentences of 1 (too short), 2..12 words; max_seq_length 42 -> at most 40 tokens
    plan = [(3, True), (1, True), (5, False), (2, True), (12, True), (9, False), (4, True)]
    plan += [(6, False), (3, False), (2, True), (10, True), (7, True)]
    # upper-case words: ICU does not break before a lower-case word
    sentences = [sentence(n, link, marker=chr(65 + i)) for i, (n, link) in enumerate(plan)]
    pages = {"A": [" ".join(sentences[:6]), " ".join(sentences[6:])]}
    summary, out, _ = build(
        tmp_path,
        byte_tokenizer,
        pages,
        ["Rome"],
        max_seq_length=42,
        min_sentence_length=8,
        include_sentences_without_entities=without_entities,
        name=f"pack-{without_entities}",
    )
    lengths = [(4 * n + 1, link) for n, link in plan]
    expected = expected_packing(lengths, 40, 8, without_entities)
    rows = read_rows(out)
    texts = [text_of(row["word_ids"]) for row in rows]
    plain = [s.replace("[[Rome|", "").replace("]]", "") for s in sentences]
    assert texts == ["".join(" " + plain[i] for i in seq) for seq in expected]
    assert all(len(row["word_ids"]) <= 40 for row in rows)
    # 1 word (5 tokens) is too short; 12 and 10 words (49, 41 tokens) are too long
    assert summary.sentences_too_short == 1 and summary.sentences_too_long == 2
    assert summary.sequences == len(expected)


def test_entity_and_mention_limits(tmp_path, byte_tokenizer):
    text = "[[Rome|alpha]] [[Rome|beta beta]] [[Milan|gamma]] [[Rome|delta]] end."
    summary, out, vocab = build(
        tmp_path,
        byte_tokenizer,
        {"A": [text]},
        ["Rome", "Milan"],
        max_entity_length=3,
        max_mention_length=4,
    )
    (row,) = read_rows(out)
    rome, milan = vocab.get_id("Rome"), vocab.get_id("Milan")
    # the first 3 mentions; each cut to 4 positions (" alpha" has 6 tokens, " beta beta" 10)
    assert mentions(row) == [(rome, "alp"), (rome, "bet"), (milan, "gam")]
    assert [e - s for s, e in zip(row["entity_starts"], row["entity_ends"], strict=True)] == [4] * 3
    assert summary.entities_over_limit == 1
    assert summary.mentions_cut == 3  # " alpha", " beta beta", " gamma" (not " delta": dropped)


def test_abstract_only(tmp_path, byte_tokenizer):
    pages = {
        "A": [
            paragraph("The abstract names [[Rome]] once.", is_abstract=True),
            paragraph("The body names [[Rome]] again.", is_abstract=False),
        ]
    }
    _, out, _ = build(tmp_path, byte_tokenizer, pages, ["Rome"], abstract_only=True)
    assert [text_of(r["word_ids"]) for r in read_rows(out)] == [" The abstract names Rome once."]


def many_pages(count: int) -> dict[str, list[str]]:
    return {
        f"Page {i}": [
            f"Page {i} is about [[Rome]] and [[Topic {i % 7}]]. " * (1 + i % 3),
            f"It has {i} words about [[Milan]] and nothing else.",
        ]
        for i in range(count)
    }


def test_predefined_entities_only_and_page_ids(tmp_path, byte_tokenizer):
    pages = many_pages(10)
    titles = ["Rome", "Milan", "Page 2", "Page 5"]
    summary, out, vocab = build(
        tmp_path, byte_tokenizer, pages, titles, predefined_entities_only=True, name="predef"
    )
    assert summary.pages == 2
    assert {row["page_id"] for row in read_rows(out)} == {
        vocab.get_id("Page 2"),
        vocab.get_id("Page 5"),
    }
    summary, out, _ = build(tmp_path, byte_tokenizer, pages, titles, name="all")
    assert summary.pages == 10
    assert sorted({row["page_id"] for row in read_rows(out)}) == [-1, 5, 6]


def page_order(out_dir) -> list[str]:
    firsts = []
    for row in read_rows(out_dir):
        words = text_of(row["word_ids"]).split()
        page = " ".join(words[:2])
        if not firsts or firsts[-1] != page:
            firsts.append(page)
    return firsts


def test_seed_shuffles_pages_and_max_num_documents_takes_the_first(tmp_path, byte_tokenizer):
    pages = many_pages(30)
    titles = ["Rome", "Milan"]
    _, seed0, _ = build(tmp_path, byte_tokenizer, pages, titles, name="s0", seed=0)
    _, seed0_again, _ = build(tmp_path, byte_tokenizer, pages, titles, name="s0b", seed=0)
    _, seed1, _ = build(tmp_path, byte_tokenizer, pages, titles, name="s1", seed=1)
    order0, order1 = page_order(seed0), page_order(seed1)
    assert sorted(order0) == sorted(order1) == sorted(f"Page {i}" for i in range(30))
    assert order0 != order1 and order0 != sorted(order0)
    assert page_order(seed0_again) == order0
    summary, first5, _ = build(
        tmp_path, byte_tokenizer, pages, titles, name="first5", seed=0, max_num_documents=5
    )
    assert summary.pages == 5 and page_order(first5) == order0[:5]


def shard_bytes(out_dir) -> dict[str, bytes]:
    return {
        name: open(os.path.join(out_dir, name), "rb").read()
        for name in sorted(os.listdir(out_dir))
        if name.endswith(".arrow")
    }


def test_shards_identical_whatever_the_processes(tmp_path, byte_tokenizer):
    pages = many_pages(40)
    runs = [
        {"processes": 1, "pages_per_task": 16},
        {"processes": 2, "pages_per_task": 3},
        {"processes": 2, "pages_per_task": 1},
    ]
    outputs = [
        build(
            tmp_path, byte_tokenizer, pages, ["Rome", "Milan"], name=f"run{i}", shard_size=7, **run
        )
        for i, run in enumerate(runs)
    ]
    first = shard_bytes(outputs[0][1])
    assert len(first) > 3  # several shards
    for summary, out, _ in outputs[1:]:
        assert shard_bytes(out) == first
        assert load_metadata(out).shards == load_metadata(outputs[0][1]).shards
        assert summary.sequences == outputs[0][0].sequences


def test_output_directory(tmp_path, byte_tokenizer):
    from transformers import AutoTokenizer

    from luke_core.dataset.format import file_sha256

    summary, out, vocab = build(
        tmp_path, byte_tokenizer, many_pages(12), ["Rome", "Milan"], shard_size=5
    )
    metadata = load_metadata(out)
    assert metadata.number_of_items == summary.sequences == len(read_rows(out))
    assert [s.items for s in metadata.shards][:-1] == [5] * (len(metadata.shards) - 1)
    for shard in metadata.shards:
        path = os.path.join(out, shard.name)
        assert shard.sha256 == file_sha256(path) and shard.bytes == os.path.getsize(path)
    assert (metadata.max_seq_length, metadata.max_entity_length) == (512, 128)
    assert (metadata.max_mention_length, metadata.min_sentence_length) == (30, 5)
    assert metadata.language == "en" and metadata.entity_vocab_size == len(vocab)
    assert metadata.word_vocab_size == 261 and metadata.tokenizer_name == byte_tokenizer
    assert (
        metadata.build_options["seed"] == 0 and metadata.build_options["sentence_splitter"] == "en"
    )
    assert metadata.summary["sequences"] == summary.sequences
    reloaded = EntityVocab.load(os.path.join(out, "entity_vocab.jsonl"))
    assert [e.entities for e in reloaded] == [e.entities for e in vocab]
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(out, "tokenizer"))
    original = AutoTokenizer.from_pretrained(byte_tokenizer)
    text = " Rome, Milano é 😀"
    assert tokenizer(text)["input_ids"] == original(text)["input_ids"]
    with open(os.path.join(out, "metadata.json")) as f:
        assert json.load(f)["kind"] == "dataset"


@pytest.mark.parametrize(
    ("total", "size", "processes"), [(40, 16, 1), (40, 3, 2), (1000, 16, 2), (5, 16, 4)]
)
def test_work_units_cover_every_page_once_and_shrink_at_the_end(total, size, processes):
    import numpy as np

    from luke_core.dataset.building.build import _units

    units = list(_units(np.arange(total), size, processes))
    assert [page for unit in units for page in unit] == list(range(total))
    assert all(1 <= len(unit) <= size for unit in units)
    if total > 4 * processes * size:
        assert len(units[-1]) < len(units[0])  # the tail is cut finer
