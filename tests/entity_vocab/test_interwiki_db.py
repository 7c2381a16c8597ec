"""build_interwiki_db and InterwikiDB on synthetic Wikidata dumps (every layout and bad
input) and on the real 10-item sample of the original LUKE."""

import bz2
import json
import logging
import pickle
import sqlite3

import pytest

from luke_core import storage
from luke_core.entity_vocab import wikidata
from luke_core.entity_vocab.interwiki import (
    BuildInterwikiDbOptions,
    InterwikiDB,
    build_interwiki_db,
)
from luke_core.entity_vocab.wikidata import parse_entity_line, site_language
from luke_core.errors import LukeError
from luke_testing.entity_data import wikidata_item, write_wikidata_dump

ITEMS = [
    wikidata_item(
        "Q1",
        {
            "enwiki": "Tokyo",
            "jawiki": "東京都",
            "zh_yuewiki": "東京",
            "commonswiki": "Category:Tokyo",
            "enwikivoyage": "Tokyo",
            "specieswiki": "Tokyo",
        },
        labels={"en": {"language": "en", "value": "Tokyo"}},
    ),
    {"type": "property", "id": "P31", "datatype": "wikibase-item"},
    wikidata_item("Q2", {"enwiki": "Kyoto", "simplewiki": "Kyoto", "metawiki": "Kyoto"}),
    wikidata_item("Q3", {"commonswiki": "Nothing in a Wikipedia"}),
    wikidata_item("Q4", {"jawiki": "大阪市", "be_x_oldwiki": "Асака"}),
]


def build(dump, out, **options):
    options = {"processes": 2, "progress": False, **options}
    return build_interwiki_db(str(dump), str(out), BuildInterwikiDbOptions(**options))


@pytest.fixture
def dump(tmp_path):
    path = tmp_path / "wikidata.json"
    write_wikidata_dump(str(path), ITEMS)
    return path


def table_rows(path):
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("SELECT * FROM items ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM sitelinks ORDER BY item, language").fetchall(),
        )


def test_maps_titles_to_items_and_back(dump, tmp_path):
    summary = build(dump, tmp_path / "iw.db")
    with InterwikiDB(str(tmp_path / "iw.db")) as db:
        tokyo = db.get_item("Tokyo", "en")
        assert tokyo is not None and db.get_item("東京都", "ja") == tokyo
        assert db.get_entities(tokyo) == [("Tokyo", "en"), ("東京都", "ja"), ("東京", "zh-yue")]
        assert db.get_qid(tokyo) == "Q1" and db.find_item("Q4") == db.get_item("大阪市", "ja")
        assert db.get_entities(db.get_item("Kyoto", "simple")) == [
            ("Kyoto", "en"),
            ("Kyoto", "simple"),
        ]
        assert db.get_item("Tokyo", "ja") is None and db.get_item("Kyoto", "meta") is None
        assert db.languages == ("be-x-old", "en", "ja", "simple", "zh-yue")
        assert db.item_count() == 3 and db.sitelink_count() == 7  # Q3 has no Wikipedia
        assert [pairs for _, pairs in db.iter_items()][2] == [
            ("Асака", "be-x-old"),
            ("大阪市", "ja"),
        ]
        assert db.counts()["sitelinks_per_language"] == {
            "be-x-old": 1,
            "en": 2,
            "ja": 2,
            "simple": 1,
            "zh-yue": 1,
        }
        copy = pickle.loads(pickle.dumps(db))
        assert copy.get_item("Kyoto", "en") == db.get_item("Kyoto", "en")
    assert (summary.items, summary.other_entities, summary.items_with_sitelinks) == (4, 1, 3)
    assert (summary.sitelinks, summary.languages, summary.bad_lines) == (7, 5, 0)
    assert summary.closing_bracket and summary.lines == 7


def test_language_filter(dump, tmp_path):
    summary = build(dump, tmp_path / "iw.db", languages=("JA", "zh_yue"))
    with InterwikiDB(str(tmp_path / "iw.db")) as db:
        assert db.languages == ("ja", "zh-yue")
        assert db.get_entities(db.get_item("東京都", "ja")) == [
            ("東京都", "ja"),
            ("東京", "zh-yue"),
        ]
        assert db.get_item("Tokyo", "en") is None
        assert db.meta["language_filter"] == ["ja", "zh-yue"]
    assert (summary.items_with_sitelinks, summary.sitelinks) == (2, 3)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"type": "item", "id": "Q1", "sitelinks": {}},', ("Q1", [])),
        (b'{"type": "item"}\n', (None, [])),
        (b'{"type": "lexeme", "id": "L1"}', None),
        (b'{"type": "item", "sitelinks": {"enwiki": {"site": "enwiki"}}}', "missing required"),
        (b'{"type": "item", "sitelinks": {"enwiki": {"title": 5}}}', "Expected `str`"),
        (b'{"type": "item", "id": "Q2", "sitelinks": []}', ("Q2", [])),  # PHP's empty map
        (b'{"type": "item", "sitelinks": [5]}', "Expected `object`"),
        (b'{"type": "item", "id": 5}', "Expected `str | null`"),
        (b'{"type": "item", "labels": {"en": }}', "invalid JSON"),
        (b"[1, 2]", "Expected `object`"),
    ],
)
def test_entity_lines(line, expected):
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            parse_entity_line(line)
    else:
        assert parse_entity_line(line) == expected
    item = b'{"type": "item", "sitelinks": {"xx": {"site": "dewiki", "title": "T"}}}'
    assert parse_entity_line(item) == (None, [("de", "T")])  # the site field decides


def test_site_languages():
    assert site_language("enwiki") == "en" and site_language("zh_min_nanwiki") == "zh-min-nan"
    for site in ("commonswiki", "wikidatawiki", "enwikivoyage", "wikimania2012wiki", "sourceswiki"):
        assert site_language(site) is None, site
    assert site_language("ukwikimediawiki") is None


@pytest.mark.parametrize(
    "layout",
    [
        {"compression": "bz2"},
        {"compression": "gzip"},
        {"closing_bracket": False},
        {"trailing_commas": False},
    ],
)
def test_dump_layouts_give_the_same_database(dump, tmp_path, layout):
    build(dump, tmp_path / "plain.db")
    other = tmp_path / "other.json"
    write_wikidata_dump(str(other), ITEMS, **layout)
    summary = build(other, tmp_path / "other.db")
    assert table_rows(tmp_path / "other.db") == table_rows(tmp_path / "plain.db")
    assert summary.closing_bracket == layout.get("closing_bracket", True)


def test_json_lines_without_brackets(tmp_path, caplog):
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    summary = build(path, tmp_path / "iw.db")
    assert summary.layout == "json-lines" and "closing" not in caplog.text
    write_wikidata_dump(str(tmp_path / "ref.json"), ITEMS)
    assert build(tmp_path / "ref.json", tmp_path / "ref.db").layout == "array"
    items, sitelinks = table_rows(tmp_path / "iw.db")
    ref_items, ref_sitelinks = table_rows(tmp_path / "ref.db")
    assert sitelinks == ref_sitelinks
    assert [(i, qid, line + 1) for i, qid, line in items] == ref_items  # no '[' line


def test_result_does_not_depend_on_the_number_of_processes(tmp_path):
    items = [wikidata_item(f"Q{i}", {"enwiki": f"T{i}", "dewiki": f"D{i}"}) for i in range(2500)]
    write_wikidata_dump(str(tmp_path / "w.json"), items)
    build(tmp_path / "w.json", tmp_path / "one.db", processes=1)
    build(tmp_path / "w.json", tmp_path / "three.db", processes=3, batch_bytes=2000)
    assert table_rows(tmp_path / "one.db") == table_rows(tmp_path / "three.db")


def test_malformed_lines_are_reported_and_skipped(tmp_path, caplog):
    entities = [ITEMS[0], '{"type": "item", "sitelinks": {"enwiki": {"ti', "[1, 2]", ITEMS[2]]
    write_wikidata_dump(str(tmp_path / "w.json"), entities)
    with caplog.at_level(logging.WARNING):
        summary = build(tmp_path / "w.json", tmp_path / "iw.db", max_bad_lines=2)
    assert summary.bad_lines == 2 and summary.items_with_sitelinks == 2
    assert "line 3 skipped" in caplog.text and "line 4 skipped" in caplog.text
    with InterwikiDB(str(tmp_path / "iw.db")) as db:
        assert db.get_item("Kyoto", "en") is not None


def test_too_many_malformed_lines_fail_with_nothing_written(tmp_path):
    entities = [ITEMS[0], "{broken", '{"no type": 1}', ITEMS[2]]
    write_wikidata_dump(str(tmp_path / "w.json"), entities)
    out = tmp_path / "iw.db"
    with pytest.raises(LukeError, match=r"w\.json: more than 1 malformed lines .*line 4"):
        build(tmp_path / "w.json", out, max_bad_lines=1)
    assert not out.exists()
    assert build(tmp_path / "w.json", out, max_bad_lines=2).bad_lines == 2


def test_duplicate_titles_stay_with_their_first_item(tmp_path):
    items = [
        wikidata_item("Q1", {"enwiki": "Same", "dewiki": "Erste"}),
        wikidata_item("Q2", {"enwiki": "Same", "dewiki": "Zweite"}),
        wikidata_item("Q3", {"enwiki": "Same"}),
    ]
    write_wikidata_dump(str(tmp_path / "w.json"), items)
    summary = build(tmp_path / "w.json", tmp_path / "iw.db")
    assert summary.duplicate_titles == 2 and summary.sitelinks == 3
    with InterwikiDB(str(tmp_path / "iw.db")) as db:
        assert db.get_qid(db.get_item("Same", "en")) == "Q1"
        assert db.get_entities(db.get_item("Zweite", "de")) == [("Zweite", "de")]
        assert db.find_item("Q3") is None  # nothing left of it
        assert db.counts()["sitelinks_per_language"] == {"de": 2, "en": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '<?xml version="1.0"?>\n<mediawiki>\n</mediawiki>\n',
            r"not a Wikidata JSON dump: expected a '\[' line.*line 1 is '<\?xml",
        ),
        ('{\n  "type": "item",\n  "sitelinks": {}\n}\n', "line 1 is '{'"),
        (
            '{"name": "a JSON object", "value": 1}\n',
            "not a Wikidata entity: Object missing required field .type.",
        ),
        ("id,title\n1,Tokyo\n", "line 1 is 'id,title'"),
        ("\n\n", "the file is empty"),
        ("[\n]\n", "no Wikidata entity in the file"),
    ],
)
def test_files_that_are_not_wikidata_json_lines(tmp_path, content, message):
    path = tmp_path / "input.json"
    path.write_text(content)
    out = tmp_path / "iw.db"
    with pytest.raises(LukeError, match=message) as error:
        build(path, out)
    assert "input.json" in str(error.value)
    assert not out.exists()


def test_pretty_printed_array_fails_on_bad_lines(tmp_path):
    path = tmp_path / "pretty.json"
    path.write_text(json.dumps(ITEMS, indent=2))
    with pytest.raises(LukeError, match="pretty.json: more than 10 malformed lines"):
        build(path, tmp_path / "iw.db")


def test_truncated_compressed_dump_and_missing_file(tmp_path):
    data = bz2.compress(("[\n" + ",\n".join(json.dumps(i) for i in ITEMS) + "\n]\n").encode())
    (tmp_path / "cut.json.bz2").write_bytes(data[: len(data) // 2])
    with pytest.raises(LukeError, match="cut.json.bz2: truncated bz2 file"):
        build(tmp_path / "cut.json.bz2", tmp_path / "iw.db")
    with pytest.raises(LukeError, match="nope.json: Wikidata dump not found"):
        build(tmp_path / "nope.json", tmp_path / "iw.db")
    assert not (tmp_path / "iw.db").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"languages": ("en wiki",)}, "not a Wikipedia language code"),
        ({"max_bad_lines": -1}, "--max-bad-lines"),
        ({"processes": 0}, "processes"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(LukeError, match=message):
        BuildInterwikiDbOptions(**options)


def test_not_an_interwiki_database(tmp_path):
    (tmp_path / "x.db").write_text("text, not SQLite\n" * 100)
    with pytest.raises(LukeError, match="x.db: not an interwiki database"):
        InterwikiDB(str(tmp_path / "x.db"))
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        conn.execute("""INSERT INTO meta VALUES ('kind', '"dump_db"')""")
    with pytest.raises(LukeError, match="other.db: not an interwiki database .*'dump_db'"):
        InterwikiDB(str(tmp_path / "other.db"))


def test_real_wikidata_sample(tmp_path, wikidata_sample):
    """The 10 real items (2018) kept by the original LUKE's tests: all have enwiki and
    jawiki; the database must hold each item's title in every language Wikipedia."""
    sample = wikidata_sample
    summary = build(sample, tmp_path / "iw.db")
    raw = [json.loads(line.rstrip().rstrip(",")) for line in sample.read_text().splitlines()[1:-1]]
    assert summary.items == summary.items_with_sitelinks == 10 and summary.bad_lines == 0
    with InterwikiDB(str(tmp_path / "iw.db")) as db:
        for item in raw:
            links = item["sitelinks"]
            found = db.get_item(links["enwiki"]["title"], "en")
            assert found is not None and db.get_item(links["jawiki"]["title"], "ja") == found
            expected = {
                (link["title"], site.removesuffix("wiki").replace("_", "-"))
                for site, link in links.items()
                if site.endswith("wiki") and site not in ("commonswiki", "specieswiki")
            }
            assert set(db.get_entities(found)) == expected
        assert db.get_entities(db.get_item("Spain", "en"))[0:2] == [
            ("Еспаниа", "ab"),
            ("Seupanyo", "ace"),
        ]
        assert {"zh-yue", "be-x-old", "simple"} <= set(db.languages)
        assert not {"commons", "species"} & set(db.languages)
    filtered = build(sample, tmp_path / "enja.db", languages=("en", "ja"))
    assert (filtered.sitelinks, filtered.languages) == (20, 2)


def test_s3_round_trip(dump, tmp_path, s3):
    compressed = tmp_path / "w.json.gz"
    write_wikidata_dump(str(compressed), ITEMS, compression="gzip")
    storage.upload_file(str(compressed), f"{s3}/in/w.json.gz")
    summary = build(f"{s3}/in/w.json.gz", f"{s3}/out/iw.db")
    assert summary.sitelinks == 7
    with InterwikiDB(f"{s3}/out/iw.db") as db:
        assert db.get_entities(db.get_item("Kyoto", "en")) == [("Kyoto", "en"), ("Kyoto", "simple")]


def test_a_huge_line_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(wikidata, "MAX_LINE_BYTES", 1000)
    (tmp_path / "one_line.json").write_text(json.dumps(ITEMS * 20))  # a minified array
    with pytest.raises(LukeError, match="one_line.json: line 1 is longer than"):
        build(tmp_path / "one_line.json", tmp_path / "iw.db", processes=1)
    assert not (tmp_path / "iw.db").exists()
