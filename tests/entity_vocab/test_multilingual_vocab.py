"""build_multilingual_entity_vocab: two synthetic Wikipedias (languages xx and yy) with
known link counts, linked by a synthetic Wikidata dump."""

import json

import pytest

from luke_core import storage
from luke_core.entity_vocab.build import BuildEntityVocabOptions, build_entity_vocab
from luke_core.entity_vocab.interwiki import BuildInterwikiDbOptions, build_interwiki_db
from luke_core.entity_vocab.multilingual import (
    BuildMultilingualEntityVocabOptions,
    build_multilingual_entity_vocab,
)
from luke_core.entity_vocab.vocab import EntityVocab
from luke_core.errors import LukeError
from luke_testing.entity_data import wikidata_item, write_dump_db, write_wikidata_dump

# xx: Sun 4, Moon 3, Star 2, Comet 1, Lonely 1 (not in Wikidata)
XX_PAGES = {
    "Sun": ["Moon", "Star", "Moon", "Comet"],
    "Moon": ["Sun", "Sun", "Star", "Lonely"],
    "Star": ["Sun", "Moon"],
    "Comet": ["Sun"],
    "Lonely": [],
}
# yy: Sol 3, Luna 2, Nova 1 (not in xx), Stella 1, Solo 1 (not in Wikidata)
YY_PAGES = {
    "Sol": ["Luna", "Stella", "Nova"],
    "Luna": ["Sol", "Sol", "Solo"],
    "Stella": ["Sol", "Luna"],
    "Nova": [],
    "Solo": [],
}
WIKIDATA = [
    wikidata_item("Q1", {"xxwiki": "Sun", "yywiki": "Sol", "zzwiki": "Sole"}),
    wikidata_item("Q2", {"xxwiki": "Moon", "yywiki": "Luna", "commonswiki": "Moon"}),
    wikidata_item("Q3", {"xxwiki": "Star", "yywiki": "Stella"}),
    wikidata_item("Q4", {"xxwiki": "Comet"}),
    wikidata_item("Q5", {"yywiki": "Nova", "zzwiki": "Nova"}),
]
SPECIALS = [
    [["[PAD]", "xx"], ["[PAD]", "yy"]],
    [["[UNK]", "xx"], ["[UNK]", "yy"]],
    [["[MASK]", "xx"], ["[MASK]", "yy"]],
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("multilingual")
    vocabs = {}
    for language, pages in (("xx", XX_PAGES), ("yy", YY_PAGES)):
        write_dump_db(str(root / f"{language}.db"), pages, language=language)
        vocabs[language] = str(root / f"{language}.jsonl")
        options = BuildEntityVocabOptions(language=language, processes=1, progress=False)
        build_entity_vocab(str(root / f"{language}.db"), vocabs[language], options)
    write_wikidata_dump(str(root / "wikidata.json.bz2"), WIKIDATA, compression="bz2")
    interwiki = str(root / "interwiki.db")
    options = BuildInterwikiDbOptions(processes=1, progress=False)
    build_interwiki_db(str(root / "wikidata.json.bz2"), interwiki, options)
    return vocabs, interwiki, root


def merge(vocabs, interwiki, out, **options):
    options = BuildMultilingualEntityVocabOptions(progress=False, **options)
    return build_multilingual_entity_vocab(vocabs, interwiki, str(out), options)


def test_merges_entities_of_one_item_and_sums_counts(inputs, tmp_path, vocab_invariants):
    vocabs, interwiki, _ = inputs
    summary = merge([vocabs["xx"], vocabs["yy"]], interwiki, tmp_path / "m.jsonl")
    lines = vocab_invariants(str(tmp_path / "m.jsonl"))
    assert [line["entities"] for line in lines[:3]] == SPECIALS
    assert [(line["entities"], line["count"]) for line in lines[3:]] == [
        ([["Sun", "xx"], ["Sol", "yy"]], 7),
        ([["Moon", "xx"], ["Luna", "yy"]], 5),
        ([["Star", "xx"], ["Stella", "yy"]], 3),
        # ties at 1, by smallest (title, language): Comet, Lonely, Nova, Solo
        ([["Comet", "xx"]], 1),
        ([["Lonely", "xx"]], 1),  # unknown to Wikidata: an entry of its own
        ([["Nova", "yy"]], 1),
        ([["Solo", "yy"]], 1),
    ]
    assert summary.languages == ["xx", "yy"]
    assert (summary.input_entities, summary.found_in_wikidata) == (10, 8)
    assert (summary.merged_entries, summary.entries) == (7, 10)
    vocab = EntityVocab.load(str(tmp_path / "m.jsonl"))
    assert vocab.is_multilingual and vocab.get_id("Sol", "yy") == vocab.get_id("Sun", "xx") == 3


def test_min_num_languages_and_vocab_size(inputs, tmp_path, vocab_invariants):
    vocabs, interwiki, _ = inputs
    out = tmp_path / "m.jsonl"
    summary = merge(list(vocabs.values()), interwiki, out, min_num_languages=2)
    lines = vocab_invariants(str(out))
    assert [line["count"] for line in lines[3:]] == [7, 5, 3]
    assert summary.below_min_languages == 4
    summary = merge(list(vocabs.values()), interwiki, out, vocab_size=5)
    assert [line["count"] for line in vocab_invariants(str(out))[3:]] == [7, 5]
    assert summary.truncated == 5 and summary.entries == 5


def test_the_order_of_the_inputs_does_not_matter(inputs, tmp_path):
    vocabs, interwiki, _ = inputs
    merge([vocabs["xx"], vocabs["yy"]], interwiki, tmp_path / "a.jsonl")
    merge([vocabs["yy"], vocabs["xx"]], interwiki, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_huggingface_form_of_the_merged_vocabulary(inputs, tmp_path):
    vocabs, interwiki, _ = inputs
    merge(list(vocabs.values()), interwiki, tmp_path / "m.jsonl")
    vocab = EntityVocab.load(str(tmp_path / "m.jsonl"))
    mapping = vocab.to_huggingface()
    assert {k: v for k, v in mapping.items() if v < 5} == {
        "[PAD]": 0,
        "[UNK]": 1,
        "[MASK]": 2,
        "xx:Sun": 3,
        "yy:Sol": 3,
        "xx:Moon": 4,
        "yy:Luna": 4,
    }
    back = EntityVocab.from_huggingface(mapping)
    assert [e.entities for e in back.entries[3:]] == [e.entities for e in vocab.entries[3:]]


def write_vocab(path, entries):
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return str(path)


def specials(language):
    return [
        {"id": i, "entities": [[token, language]], "count": 0}
        for i, token in enumerate(["[PAD]", "[UNK]", "[MASK]"])
    ]


def test_bad_inputs(inputs, tmp_path):
    vocabs, interwiki, root = inputs
    out = tmp_path / "m.jsonl"
    no_language = write_vocab(
        tmp_path / "plain.jsonl",
        [*specials(None), {"id": 3, "entities": [["Sun", None]], "count": 1}],
    )
    mixed = write_vocab(
        tmp_path / "mixed.jsonl",
        [*specials("xx"), {"id": 3, "entities": [["Sun", "xx"], ["Sol", "yy"]], "count": 1}],
    )
    other = write_vocab(
        tmp_path / "ww.jsonl", [*specials("ww"), {"id": 3, "entities": [["Sun", "ww"]], "count": 1}]
    )
    only_specials = write_vocab(tmp_path / "specials.jsonl", specials("xx"))
    cases = [
        ([only_specials], interwiki, "specials.jsonl: holds no entities besides the special"),
        (
            [vocabs["xx"], no_language],
            interwiki,
            r"plain.jsonl: its entities have no language.*--language",
        ),
        (
            [vocabs["xx"], vocabs["xx"]],
            interwiki,
            r"xx.jsonl: its language 'xx' is also the language of",
        ),
        ([mixed], interwiki, "mixed.jsonl: holds several languages"),
        (
            [vocabs["xx"], other],
            interwiki,
            r"interwiki.db: has no titles in language 'ww'.*ww.jsonl",
        ),
        (
            [vocabs["xx"], str(root / "xx.db")],
            interwiki,
            "xx.db: an SQLite database .*not an entity vocabulary",
        ),
        ([vocabs["xx"]], str(root / "xx.db"), "xx.db: not an interwiki database"),
        ([vocabs["xx"]], vocabs["yy"], "yy.jsonl: not an interwiki database"),
        ([str(tmp_path / "nope.jsonl")], interwiki, "nope.jsonl: entity vocabulary not found"),
        ([vocabs["xx"]], str(tmp_path / "nope.db"), "nope.db: no such file"),
        ([], interwiki, "no entity vocabulary given"),
    ]
    for given, db, message in cases:
        with pytest.raises(LukeError, match=message):
            merge(given, db, out)
    assert not out.exists()
    with pytest.raises(LukeError, match="--vocab-size must be at least 4"):
        BuildMultilingualEntityVocabOptions(vocab_size=3)
    with pytest.raises(LukeError, match="--min-num-languages"):
        BuildMultilingualEntityVocabOptions(min_num_languages=0)


def test_s3_round_trip(inputs, s3):
    vocabs, interwiki, _ = inputs
    for name, path in [
        ("xx.jsonl", vocabs["xx"]),
        ("yy.jsonl", vocabs["yy"]),
        ("iw.db", interwiki),
    ]:
        storage.upload_file(path, f"{s3}/in/{name}")
    summary = merge(
        [f"{s3}/in/xx.jsonl", f"{s3}/in/yy.jsonl"], f"{s3}/in/iw.db", f"{s3}/out/m.jsonl"
    )
    assert summary.entries == 10
    assert EntityVocab.load(f"{s3}/out/m.jsonl").get_entry(3).count == 7
