"""build_dump_db on generated dumps: formats, encodings, parts, redirects, parallelism."""

import json
import os
import shutil
import sqlite3

import pytest

from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db
from luke_core.dump_db.database import describe_dump_db
from luke_core.errors import LukeError
from luke_core.inspect import InspectOptions
from luke_testing.mediawiki import WikiPage, write_dump

PAGES = [
    WikiPage("Tokyo", "'''Tokyo''' is the capital of [[Japan]].\n== History ==\nIt was [[Edo]]."),
    WikiPage("Japan", "An island country near [[Tokyo (city)|the capital]] and [[korea]]."),
    WikiPage("Edo", "[[Tokyo]]'s former name, see [[Edo period#Culture|period]]."),
    WikiPage("Edo period", "A period. [[Category:Eras]]"),
    WikiPage("Mercury", "Mercury may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}"),
    WikiPage("Tokyo (city)", redirect="Tokyo"),
    WikiPage("Nippon", redirect="Japan"),
    WikiPage("Old Edo", redirect="Edo (city)"),
    WikiPage("Edo (city)", redirect="Edo"),
    WikiPage("Loop A", redirect="Loop B"),
    WikiPage("Loop B", redirect="Loop A"),
    WikiPage("Talk:Tokyo", "Discussion [[Tokyo]]", namespace=1),
    WikiPage("Category:Eras", "Eras.", namespace=14),
    WikiPage("Data page", '{"a": 1}', model="json"),
]


def build(tmp_path, pages=PAGES, name="dump.xml", processes=1, **dump_kwargs):
    dump = write_dump(str(tmp_path / name), pages, **dump_kwargs)
    out = str(tmp_path / f"{name}.db")
    summary = build_dump_db(dump, out, BuildDumpDbOptions(processes=processes, progress=False))
    return out, summary


def test_counts_and_summary(tmp_path):
    out, summary = build(tmp_path)
    assert (summary.pages, summary.redirects, summary.disambiguation_pages) == (5, 6, 1)
    assert summary.skipped_pages == 2
    assert summary.non_wikitext_pages == 1
    assert summary.redirect_loops == 2
    assert summary.links == 7
    with DumpDB(out) as db:
        assert db.counts() == {
            "pages": 5, "redirects": 6, "disambiguation_pages": 1, "links": 7, "redirect_loops": 2
        }  # fmt: skip
        assert db.language == "en"
        assert db.meta["site"]["dbname"] == "enwiki"
        assert list(db.titles()) == ["Tokyo", "Japan", "Edo", "Edo period", "Mercury"]


def test_pages_paragraphs_and_links(tmp_path):
    out, _ = build(tmp_path)
    with DumpDB(out) as db:
        tokyo = db.get_page("Tokyo")
        assert [(p.text, p.is_abstract) for p in tokyo.paragraphs] == [
            ("Tokyo is the capital of Japan.", True),
            ("It was Edo.", False),
        ]
        japan = db.get_page("Japan")
        (link1, link2) = japan.paragraphs[0].links
        assert (link1.title, link1.text) == ("Tokyo (city)", "the capital")
        assert (link2.title, link2.text) == ("Korea", "korea")
        edo = db.get_page("Edo")
        assert [ln.title for ln in edo.paragraphs[0].links] == ["Tokyo", "Edo period"]
        assert edo.paragraphs[0].text.startswith("Tokyo's former name")
        assert db.get_page("Mercury").is_disambiguation
        assert db.get_page("Edo period").paragraphs[0].links == ()


def test_redirect_chains_and_loops(tmp_path):
    out, _ = build(tmp_path)
    with DumpDB(out) as db:
        assert db.resolve_redirect("Tokyo (city)") == "Tokyo"
        assert db.resolve_redirect("Old Edo") == "Edo"  # two hops
        assert db.resolve_redirect("Loop A") == "Loop A"  # a loop resolves to nothing
        assert db.resolve_redirect("Tokyo") == "Tokyo"
        assert db.is_redirect("Nippon") and not db.is_article("Nippon")
        assert db.get_page("Nippon").title == "Japan"
        assert dict(db.iter_redirects())["Loop B"] is None
    with pytest.raises(LukeError, match="'Loop A' is a redirect in a loop"):
        describe_dump_db(out, InspectOptions(page="loop_A"))


@pytest.mark.parametrize(
    ("compression", "encoding"),
    [("none", "utf-8"), ("bz2", "utf-8"), ("gzip", "utf-8"), ("multistream", "utf-8"),
     ("bz2", "utf-16"), ("none", "shift_jis"), ("none", "iso-8859-1")],
)  # fmt: skip
def test_formats_and_encodings_give_the_same_database(tmp_path, compression, encoding):
    pages = [*PAGES, WikiPage("Kana", "かな [[Hiragana|ひらがな]] and [[東京]].")]
    if encoding == "iso-8859-1":
        pages = [*PAGES, WikiPage("Umlaut", "Über [[Ärger]] café.")]
    reference, _ = build(tmp_path, pages, name="plain.xml")
    out, summary = build(tmp_path, pages, name=f"x.{compression}", compression=compression,
                         encoding=encoding)  # fmt: skip
    assert summary.pages == 6
    assert dump_rows(out) == dump_rows(reference)


def dump_rows(path):
    conn = sqlite3.connect(path)
    pages = conn.execute("SELECT id, title, is_disambiguation, paragraphs FROM pages").fetchall()
    redirects = conn.execute("SELECT * FROM redirects ORDER BY title").fetchall()
    conn.close()
    return pages, redirects


def test_dump_in_parts_by_arguments_and_by_glob(tmp_path):
    whole, _ = build(tmp_path, name="whole.xml")
    parts = [PAGES[:5], PAGES[5:9], PAGES[9:]]
    files = [write_dump(str(tmp_path / f"part{i}.xml.bz2"), p, compression="bz2")
             for i, p in enumerate(parts)]  # fmt: skip
    options = BuildDumpDbOptions(processes=2, progress=False)
    by_args = str(tmp_path / "args.db")
    build_dump_db(files, by_args, options)
    by_glob = str(tmp_path / "glob.db")
    summary = build_dump_db(str(tmp_path / "part*.xml.bz2"), by_glob, options)
    assert summary.redirects == 6 and summary.redirect_loops == 2
    assert dump_rows(by_args) == dump_rows(whole) == dump_rows(by_glob)


def test_process_counts_give_identical_databases(tmp_path):
    pages = [WikiPage(f"Page {i}", f"Text {i} [[Page {(i * 7) % 300}]]." * (i % 5 + 1))
             for i in range(300)]  # fmt: skip
    one, _ = build(tmp_path, pages, name="one.xml", processes=1)
    two, _ = build(tmp_path, pages, name="two.xml", processes=2)
    assert dump_rows(one) == dump_rows(two)


def test_old_exports_without_ns_and_redirect_elements(tmp_path):
    out, summary = build(tmp_path, with_ns=False, redirect_elements=False)
    assert (summary.pages, summary.redirects, summary.skipped_pages) == (5, 6, 2)
    with DumpDB(out) as db:
        assert db.resolve_redirect("Old Edo") == "Edo"


def test_unparseable_page_is_logged_counted_and_skipped(tmp_path, monkeypatch, caplog):
    from luke_core.dump_db import build as build_module

    real_parse = build_module.parse_wikitext

    def parse(text, rules):
        if "island country" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(text, rules)

    monkeypatch.setattr(build_module, "parse_wikitext", parse)
    out, summary = build(tmp_path)
    assert summary.unparseable_pages == 1 and summary.pages == 4
    assert "Japan" in caplog.text and "RecursionError" in caplog.text
    with DumpDB(out) as db:
        assert not db.is_article("Japan")


def test_sharded_iteration_covers_every_page_once(tmp_path):
    pages = [WikiPage(f"P{i}", f"t [[P{i + 1}]]") for i in range(23)]
    out, _ = build(tmp_path, pages)
    with DumpDB(out) as db:
        seen = [p.title for rank in range(4) for p in db.iter_pages(rank, 4)]
        assert seen == [f"P{i}" for i in range(23)]
        targets = [t for rank in range(3) for t in db.iter_link_targets(rank, 3)]
        assert targets == [[f"P{i + 1}"] for i in range(23)]


def test_meta_is_json_in_sqlite(tmp_path):
    out, _ = build(tmp_path)
    conn = sqlite3.connect(out)
    meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    assert meta["kind"] == "dump_db"
    assert meta["counts"]["pages"] == 5
    assert meta["sources"] == [str(tmp_path / "dump.xml")]
    assert os.path.basename(meta["sources"][0]) == "dump.xml"


def test_merging_part_databases_equals_building_the_parts_together(tmp_path):
    from luke_core.dump_db import MergeDumpDbOptions, merge_dump_dbs

    quiet = MergeDumpDbOptions(progress=False)
    whole, _ = build(tmp_path, name="whole.xml")
    parts = [PAGES[:5], PAGES[5:9], PAGES[9:]]
    part_dbs = []
    for i, pages in enumerate(parts):
        db, _ = build(tmp_path, pages, name=f"part{i}.xml")
        part_dbs.append(db)
    merged = str(tmp_path / "merged.db")
    summary = merge_dump_dbs(part_dbs, merged, quiet)
    assert (summary.parts, summary.pages, summary.redirects, summary.redirect_loops) == (3, 5, 6, 2)
    assert dump_rows(merged) == dump_rows(whole)
    with DumpDB(merged) as db:
        assert db.resolve_redirect("Old Edo") == "Edo"  # a chain across parts
        assert db.meta["merged_from"] == part_dbs
        assert db.meta["counts"]["skipped_pages"] == 2
    with pytest.raises(LukeError, match="part0.xml.db: the same part given twice"):
        merge_dump_dbs([part_dbs[0], part_dbs[0]], str(tmp_path / "twice.db"), quiet)
    copy = shutil.copy(part_dbs[0], tmp_path / "copy-of-part0.db")  # titles seen before
    again = merge_dump_dbs([part_dbs[0], str(copy)], str(tmp_path / "twice.db"), quiet)
    assert again.duplicate_titles == 5 and again.pages == 5


CAPTIONED = [
    WikiPage(
        "Lisbon", "[[File:Lisbon.jpg|thumb|The [[Tagus]] at night]]\nLisbon is in [[Portugal]]."
    ),
    WikiPage("Porto", "Porto.[[Image:Porto.jpg|right|200px]] [[Category:Cities|Porto]]"),
]


def test_image_captions_kept_by_default_and_recorded(tmp_path):
    out, summary = build(tmp_path, CAPTIONED)
    assert summary.links == 2
    with DumpDB(out) as db:
        assert db.meta["options"]["image_captions"] is True and db.image_captions
        lisbon = db.get_page("Lisbon")
        assert [p.text for p in lisbon.paragraphs] == [
            "The Tagus at night",
            "Lisbon is in Portugal.",
        ]
        assert [ln.title for ln in lisbon.paragraphs[0].links] == ["Tagus"]
        # options are no caption; a category's sort key is no text
        assert [p.text for p in db.get_page("Porto").paragraphs] == ["Porto. "]


def test_no_image_captions_restores_dropping_them(tmp_path):
    dump = write_dump(str(tmp_path / "dump.xml"), CAPTIONED)
    out = str(tmp_path / "no-captions.db")
    options = BuildDumpDbOptions(processes=1, image_captions=False, progress=False)
    summary = build_dump_db(dump, out, options)
    assert summary.links == 1
    with DumpDB(out) as db:
        assert db.meta["options"]["image_captions"] is False and not db.image_captions
        assert [p.text for p in db.get_page("Lisbon").paragraphs] == ["Lisbon is in Portugal."]


def test_parts_parsed_with_other_caption_rules_are_not_merged(tmp_path):
    from luke_core.dump_db import MergeDumpDbOptions, merge_dump_dbs

    kept, _ = build(tmp_path, CAPTIONED[:1], name="part1.xml")
    dump = write_dump(str(tmp_path / "part2.xml"), CAPTIONED[1:])
    dropped = str(tmp_path / "part2.xml.db")
    options = BuildDumpDbOptions(processes=1, image_captions=False, progress=False)
    build_dump_db(dump, dropped, options)
    out = tmp_path / "merged.db"
    with pytest.raises(LukeError, match="part2.xml.db: image captions dropped, but kept in"):
        merge_dump_dbs([kept, dropped], str(out), MergeDumpDbOptions(progress=False))
    assert not out.exists()
