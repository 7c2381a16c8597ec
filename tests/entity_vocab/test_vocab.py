"""EntityVocab: the three file forms, look-ups, Hugging Face conversion, bad files."""

import json
from types import SimpleNamespace

import pytest

from luke_core import storage
from luke_core.entity_vocab.vocab import (
    MASK_ID,
    PAD_ID,
    UNK_ID,
    EntityEntry,
    EntityVocab,
    describe_entity_vocab,
    special_entries,
)
from luke_core.errors import LukeError

MONO = [
    '{"id": 0, "entities": [["[PAD]", null]], "count": 0}',
    '{"id": 1, "entities": [["[UNK]", null]], "count": 0}',
    '{"id": 2, "entities": [["[MASK]", null]], "count": 0}',
    '{"id": 3, "entities": [["Tokyo", null]], "count": 30}',
    '{"id": 4, "entities": [["Star Wars: Episode I", null]], "count": 20}',
]


def multilingual_entries():
    return [
        *special_entries(["ja", "en"]),
        EntityEntry(3, (("Tokyo", "en"), ("東京", "ja")), 50),
        EntityEntry(4, (("Star Wars: Episode I", "en"),), 7),
        EntityEntry(5, (("Tokyo", "ja"),), 2),
    ]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_jsonl_load_and_look_ups(tmp_path):
    vocab = EntityVocab.load(write(tmp_path, "v.jsonl", "\n".join(MONO) + "\n"))
    assert len(vocab) == 5 and (PAD_ID, UNK_ID, MASK_ID) == (0, 1, 2)
    assert (vocab.pad_id, vocab.unk_id, vocab.mask_id) == (0, 1, 2)
    assert vocab.get_id("Tokyo") == 3 and vocab.get_id("Tokyo", "en") == 3
    assert vocab.get_id("Paris") is None and vocab.get_id("Paris", default=1) == 1
    assert "Tokyo" in vocab and ("Tokyo", None) in vocab and "Paris" not in vocab
    assert vocab.get_entry(4).count == 20 and vocab.get_title(4) == "Star Wars: Episode I"
    assert [e.id for e in vocab] == [0, 1, 2, 3, 4]
    assert vocab.languages == (None,) and not vocab.is_multilingual


def test_language_of_a_monolingual_vocabulary(tmp_path):
    lines = [line.replace("null", '"en"') for line in MONO]
    vocab = EntityVocab.load(write(tmp_path, "v.jsonl", "\n".join(lines)))
    assert vocab.languages == ("en",) and not vocab.is_multilingual
    assert vocab.get_id("Tokyo") == vocab.get_id("Tokyo", "en") == 3
    assert vocab.get_id("Tokyo", "ja") is None  # another language's title is not this one


def test_save_round_trip_keeps_the_exact_format(tmp_path):
    path = write(tmp_path, "v.jsonl", "\n".join(MONO) + "\n")
    EntityVocab.load(path).save(str(tmp_path / "copy.jsonl"))
    assert (tmp_path / "copy.jsonl").read_text() == (tmp_path / "v.jsonl").read_text()
    vocab = EntityVocab(multilingual_entries())
    vocab.save(str(tmp_path / "m.jsonl"))
    assert EntityVocab.load(str(tmp_path / "m.jsonl")).entries == vocab.entries
    line = (tmp_path / "m.jsonl").read_text().splitlines()[3]
    assert json.loads(line) == {"id": 3, "entities": [["Tokyo", "en"], ["東京", "ja"]], "count": 50}
    # byte for byte what the reference's json.dump writes: non-ASCII as \u escapes
    assert line == '{"id": 3, "entities": [["Tokyo", "en"], ["\\u6771\\u4eac", "ja"]], "count": 50}'


def test_legacy_tsv(tmp_path):
    text = "[PAD]\t0\n[UNK]\t0\n[MASK]\t0\nTokyo\t30\nTab\tin title\t5\n"
    vocab = EntityVocab.load(write(tmp_path, "v.tsv", text))
    assert [(e.id, e.title, e.count) for e in vocab.entries[3:]] == [
        (3, "Tokyo", 30),
        (4, "Tab\tin title", 5),
    ]


def test_multilingual_look_ups():
    vocab = EntityVocab(multilingual_entries())
    assert vocab.is_multilingual and vocab.languages == ("en", "ja")
    assert vocab.get_id("東京", "ja") == vocab.get_id("Tokyo", "en") == 3
    assert vocab.get_id("Tokyo", "ja") == 5
    assert vocab.get_id("Tokyo") is None  # ambiguous without a language
    assert vocab.get_title(3, "ja") == "東京" and vocab.get_title(3) == "Tokyo"
    assert vocab.get_entry(0).entities == (("[PAD]", "en"), ("[PAD]", "ja"))


def test_huggingface_form_monolingual(tmp_path):
    vocab = EntityVocab.load(write(tmp_path, "v.jsonl", "\n".join(MONO)))
    mapping = vocab.to_huggingface()
    assert mapping == {
        "[PAD]": 0,
        "[UNK]": 1,
        "[MASK]": 2,
        "Tokyo": 3,
        "Star Wars: Episode I": 4,
    }  # plain titles (the reference wrote "None:Tokyo")
    back = EntityVocab.from_huggingface(mapping)
    assert not back.is_multilingual
    assert [e.entities for e in back] == [e.entities for e in vocab]
    path = str(tmp_path / "entity_vocab.json")
    storage.write_json(path, mapping)
    assert EntityVocab.load(path).get_id("Star Wars: Episode I") == 4


def test_huggingface_form_multilingual():
    vocab = EntityVocab(multilingual_entries())
    mapping = vocab.to_huggingface()
    assert mapping == {
        "[PAD]": 0,
        "[UNK]": 1,
        "[MASK]": 2,
        "en:Tokyo": 3,
        "ja:東京": 3,
        "en:Star Wars: Episode I": 4,
        "ja:Tokyo": 5,
    }
    back = EntityVocab.from_huggingface({**mapping, "[MASK2]": 6})
    assert back.is_multilingual
    assert [e.entities for e in back.entries[3:]] == [e.entities for e in vocab.entries[3:]]
    assert back.get_id("Star Wars: Episode I", "en") == 4


def test_mlukes_form_needs_a_language_on_every_entity(tmp_path):
    vocab = EntityVocab.load(write(tmp_path, "v.jsonl", "\n".join(MONO)))
    with pytest.raises(LukeError, match="'Tokyo' has no language"):
        vocab.to_huggingface(multilingual=True)


def test_special_entries_sorted_per_language():
    entries = special_entries(["ja", "en", "ja"])
    assert [e.entities for e in entries] == [
        (("[PAD]", "en"), ("[PAD]", "ja")),
        (("[UNK]", "en"), ("[UNK]", "ja")),
        (("[MASK]", "en"), ("[MASK]", "ja")),
    ]
    assert special_entries([])[0].entities == (("[PAD]", None),)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("gap.jsonl", "\n".join([*MONO[:3], MONO[4]]), "without gaps; found id 4 at position 3"),
        ("order.jsonl", "\n".join([MONO[0].replace("PAD", "UNK"), *MONO[1:]]), "id 0 must be"),
        ("dup.jsonl", "\n".join([*MONO, MONO[3].replace('"id": 3', '"id": 5')]), "twice"),
        ("short.jsonl", "\n".join(MONO[:2]), "at least the 3 special"),
        ("bad.jsonl", "\n".join([*MONO, "{oops"]), "line 6 is not an entity vocabulary entry"),
        ("lang.jsonl", MONO[0].replace("null", "3"), "line 1 is not"),
        ("empty.jsonl", "\n".join([*MONO, '{"id": 5, "entities": [], "count": 1}']), "no entit"),
        ("v.tsv", "[PAD]\t0\n[UNK]\t0\n[MASK]\t0\nTokyo\n", "line 4 is not 'title<TAB>count'"),
        ("v.json", '{"[PAD]": 0, "x": "y"}', "expected {title: id}"),
        ("w.json", '{"[PAD]": 0,\n', "invalid JSON"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(LukeError, match=message) as error:
        EntityVocab.load(path)
    assert name in str(error.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(LukeError, match="nope.jsonl: entity vocabulary not found"):
        EntityVocab.load(str(tmp_path / "nope.jsonl"))
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(LukeError, match="bin.jsonl: not a text file"):
        EntityVocab.load(str(tmp_path / "bin.jsonl"))


def test_describe(tmp_path):
    path = write(tmp_path, "v.jsonl", "\n".join(MONO))
    options = SimpleNamespace(title=None, language=None, top=1)
    described = describe_entity_vocab(path, options)
    assert described["size"] == 5 and described["total_count"] == 50
    assert described["languages"] == [None] and not described["is_multilingual"]
    assert [e["entities"][0][0] for e in described["top"]] == ["[PAD]", "[UNK]", "[MASK]", "Tokyo"]
    one = describe_entity_vocab(path, SimpleNamespace(title="Tokyo", language=None, top=1))
    assert one["entry"] == {"id": 3, "entities": [["Tokyo", None]], "count": 30}
    with pytest.raises(LukeError, match="v.jsonl: no entity titled 'Paris'"):
        describe_entity_vocab(path, SimpleNamespace(title="Paris", language=None, top=1))


def test_s3_round_trip(s3):
    vocab = EntityVocab(multilingual_entries())
    vocab.save(f"{s3}/vocab/entity_vocab.jsonl")
    assert EntityVocab.load(f"{s3}/vocab/entity_vocab.jsonl").entries == vocab.entries
