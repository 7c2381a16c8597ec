"""Bad input: a clear error naming the file, exit status 1, nothing at OUT. Plus the CLI,
`luke inspect`, and an S3 round trip."""

import bz2
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from luke_core import storage
from luke_core.cli import luke
from luke_core.dump_db import BuildDumpDbOptions, DumpDB, build_dump_db
from luke_core.errors import LukeError
from luke_testing.mediawiki import WikiPage, export_xml, write_dump

PAGES = [WikiPage(f"Page {i}", f"Text of page {i} with [[Page {i + 1}]]. " * 50) for i in range(40)]


def build(dump, out):
    return build_dump_db(dump, out, BuildDumpDbOptions(processes=2, progress=False))


def assert_fails_cleanly(tmp_path, dump, *patterns):
    out = tmp_path / "out.db"
    with pytest.raises(LukeError) as error:
        build(str(dump), str(out))
    for pattern in patterns:
        assert pattern in str(error.value)
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".out.db")]
    return str(error.value)


def test_missing_file(tmp_path):
    assert_fails_cleanly(tmp_path, tmp_path / "nope.xml.bz2", "nope.xml.bz2", "not found")


def test_not_xml(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some words, not markup\n")
    assert_fails_cleanly(tmp_path, path, "notes.txt", "not well-formed XML", "line 1")


def test_binary_garbage(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(bytes(range(256)) * 10)
    assert_fails_cleanly(tmp_path, path, "random.bin", "XML")


def test_truncated_bz2_says_how_far_it_got(tmp_path):
    full = bz2.compress(export_xml(PAGES).encode())
    path = tmp_path / "cut.xml.bz2"
    path.write_bytes(full[: len(full) // 2])
    message = assert_fails_cleanly(tmp_path, path, "cut.xml.bz2", "truncated bz2")
    assert f"of {len(full) // 2:,} compressed bytes" in message


def test_corrupt_bz2(tmp_path):
    data = bytearray(bz2.compress(export_xml(PAGES).encode()))
    for i in range(200, 260):
        data[i] ^= 0x5A
    path = tmp_path / "corrupt.xml.bz2"
    path.write_bytes(bytes(data))
    assert_fails_cleanly(tmp_path, path, "corrupt.xml.bz2", "corrupt bz2")


def test_truncated_plain_xml(tmp_path):
    text = export_xml(PAGES)
    path = tmp_path / "cut.xml"
    path.write_text(text[: len(text) * 2 // 3])
    assert_fails_cleanly(tmp_path, path, "cut.xml", "truncated XML")


def test_xml_that_is_not_a_mediawiki_export(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text('<?xml version="1.0"?><rss><channel><title>x</title></channel></rss>')
    assert_fails_cleanly(tmp_path, path, "feed.xml", "not a MediaWiki export", "<rss>")


def test_empty_dump(tmp_path):
    path = write_dump(str(tmp_path / "empty.xml"), [])
    assert_fails_cleanly(tmp_path, path, "empty.xml", "empty dump")
    only_talk = write_dump(str(tmp_path / "talk.xml"), [WikiPage("Talk:X", "t", namespace=1)])
    assert_fails_cleanly(tmp_path, only_talk, "talk.xml", "empty dump")


def test_empty_file(tmp_path):
    path = tmp_path / "zero.xml"
    path.write_bytes(b"")
    assert_fails_cleanly(tmp_path, path, "zero.xml", "empty")


def test_parts_of_different_wikis(tmp_path):
    en = write_dump(str(tmp_path / "a.xml"), PAGES[:2])
    de = write_dump(str(tmp_path / "b.xml"), PAGES[2:4], language="de", dbname="dewiki")
    out = tmp_path / "out.db"
    with pytest.raises(LukeError, match="another wiki"):
        build([en, de], str(out))
    assert not out.exists()


def test_a_failed_build_leaves_an_earlier_database_untouched(tmp_path):
    good = write_dump(str(tmp_path / "good.xml"), PAGES)
    out = tmp_path / "out.db"
    build(good, str(out))
    before = out.read_bytes()
    bad = tmp_path / "bad.xml"
    bad.write_text("<mediawiki><page><title>x</title>")
    with pytest.raises(LukeError):
        build(str(bad), str(out))
    assert out.read_bytes() == before


def test_a_forgotten_output_never_replaces_a_dump_part(tmp_path):
    """`luke build-dump-db parts/*` without OUT makes the last part the output."""
    first = write_dump(str(tmp_path / "part1.xml"), PAGES[:20])
    last = write_dump(str(tmp_path / "part2.xml.bz2"), PAGES[20:], compression="bz2")
    before = (tmp_path / "part2.xml.bz2").read_bytes()
    result = CliRunner().invoke(luke, ["build-dump-db", first, last])
    assert result.exit_code == 1
    assert "part2.xml.bz2: exists and is not a dump database" in result.output
    with pytest.raises(LukeError, match="is one of the inputs"):
        build([first, last], str(tmp_path / "." / "part1.xml"))
    assert (tmp_path / "part2.xml.bz2").read_bytes() == before
    # an earlier dump database at OUT is replaced, and merge-dump-db guards the same way
    out = str(tmp_path / "all.db")
    build([first, last], out)
    build([first], out)
    assert DumpDB(out).meta["counts"]["pages"] == 20
    result = CliRunner().invoke(luke, ["merge-dump-db", out, first])
    assert result.exit_code == 1 and "part1.xml: exists and is not a dump database" in result.output
    result = CliRunner().invoke(luke, ["merge-dump-db", out, out, str(tmp_path / "m.db")])
    assert result.exit_code == 1 and "all.db: the same part given twice" in result.output


def test_cli_exit_status_and_message(tmp_path):
    runner = CliRunner()
    result = runner.invoke(luke, ["build-dump-db", str(tmp_path / "missing.xml"), "out.db"])
    assert result.exit_code == 1
    assert "error:" in result.output and "missing.xml" in result.output


def test_cli_build_and_inspect(tmp_path):
    dump = write_dump(str(tmp_path / "d.xml.bz2"), PAGES, compression="bz2")
    redirect = write_dump(str(tmp_path / "r.xml"), [WikiPage("Alias", redirect="Page 3")])
    out = str(tmp_path / "d.db")
    result = subprocess.run(
        [sys.executable, "-m", "luke_core", "build-dump-db", dump, redirect, out, "-j", "2"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["pages"] == 40 and summary["redirects"] == 1
    assert "page/s" in result.stderr  # the progress bar shows a rate
    inspected = CliRunner().invoke(luke, ["inspect", out])
    assert inspected.exit_code == 0
    info = json.loads(inspected.output)
    assert info["kind"] == "dump_db" and info["counts"]["pages"] == 40
    page = json.loads(CliRunner().invoke(luke, ["inspect", out, "--page", "Alias"]).output)
    assert page["page"]["title"] == "Page 3" and page["redirected_from"] == "Alias"
    first = page["page"]["paragraphs"][0]
    assert first["links"][0] == {"title": "Page 4", "text": "Page 4", "start": 20, "end": 26}
    missing = CliRunner().invoke(luke, ["inspect", out, "--page", "Nothing"])
    assert missing.exit_code == 1 and "Nothing" in missing.output
    # a title as a link would write it: first letter, underscores
    page = json.loads(CliRunner().invoke(luke, ["inspect", out, "--page", "page_3"]).output)
    assert page["page"]["title"] == "Page 3" and page["redirected_from"] is None


def test_cli_no_image_captions(tmp_path):
    page = WikiPage("Lisbon", "Lisbon.[[File:Lisbon.jpg|thumb|The [[Tagus]]]]")
    dump = write_dump(str(tmp_path / "d.xml"), [page])
    for flag, expected in (
        ("--image-captions", "Lisbon.The Tagus"),
        ("--no-image-captions", "Lisbon."),
    ):
        out = str(tmp_path / f"{flag}.db")
        result = CliRunner().invoke(luke, ["build-dump-db", dump, out, "-j", "1", flag])
        assert result.exit_code == 0, result.output
        with DumpDB(out) as db:
            assert db.get_page("Lisbon").paragraphs[0].text == expected
            assert db.meta["options"]["image_captions"] is (flag == "--image-captions")


def test_s3_round_trip(s3, tmp_path):
    local = write_dump(str(tmp_path / "dump.xml.bz2"), PAGES, compression="multistream")
    storage.upload_file(local, f"{s3}/dumps/enwiki-part1.xml.bz2")
    summary = build(f"{s3}/dumps/*.xml.bz2", f"{s3}/db/enwiki.db")
    assert summary.pages == 40
    with DumpDB(f"{s3}/db/enwiki.db") as db:
        assert db.meta["sources"] == [f"{s3}/dumps/enwiki-part1.xml.bz2"]
        assert db.get_page("Page 7").paragraphs[0].links[0].title == "Page 8"


def test_s3_missing_dump_and_failed_build_leave_nothing(s3):
    with pytest.raises(LukeError, match="not found"):
        build(f"{s3}/dumps/none.xml.bz2", f"{s3}/db/x.db")
    storage.write_text(f"{s3}/dumps/bad.xml", "<html></html>")
    with pytest.raises(LukeError, match="not a MediaWiki export"):
        build(f"{s3}/dumps/bad.xml", f"{s3}/db/x.db")
    assert not storage.exists(f"{s3}/db/x.db")
