"""The three commands and `luke inspect` of their outputs, through the real `luke` group:
JSON summaries on stdout, `error: FILE: ...` and exit 1 for bad input, exit 2 for usage."""

import bz2
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from luke_core.cli import luke
from luke_testing.entity_data import wikidata_item, write_dump_db, write_wikidata_dump

PAGES = {"Sun": ["Moon", "Moon", "Star"], "Moon": ["Sun"], "Star": ["R"], "Lonely": []}
WIKIDATA = [
    wikidata_item("Q1", {"xxwiki": "Sun", "yywiki": "Sol"}),
    wikidata_item("Q2", {"xxwiki": "Moon", "yywiki": "Luna"}),
]


def run(*args):
    result = CliRunner().invoke(luke, ["--log-level", "ERROR", *map(str, args)])
    return result


@pytest.fixture
def files(tmp_path):
    write_dump_db(str(tmp_path / "xx.db"), PAGES, {"R": "Star"}, language="xx")
    write_dump_db(str(tmp_path / "yy.db"), {"Sol": ["Luna"], "Luna": ["Sol"]}, language="yy")
    write_wikidata_dump(str(tmp_path / "wikidata.json"), WIKIDATA)
    return tmp_path


def test_the_three_commands_and_inspect(files):
    for language in ("xx", "yy"):
        result = run(
            "build-entity-vocab",
            files / f"{language}.db",
            files / f"{language}.jsonl",
            "--language",
            language,
            "--vocab-size",
            "6",
            "-j",
            "1",
            "--no-progress",
        )
        assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["pages"], summary["entries"], summary["language"]) == (2, 5, "yy")
    assert json.loads(run("inspect", files / "xx.jsonl", "--top", "2").stdout)["top"][3:] == [
        {"id": 3, "entities": [["Moon", "xx"]], "count": 2},
        {"id": 4, "entities": [["Star", "xx"]], "count": 2},  # Sun + Star via R
    ]

    result = run(
        "build-interwiki-db", files / "wikidata.json", files / "iw.db", "-l", "xx", "-l", "yy"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sitelinks"] == 4
    described = json.loads(run("inspect", files / "iw.db").stdout)
    assert described["kind"] == "interwiki_db" and described["counts"]["items"] == 2
    found = json.loads(
        run("inspect", files / "iw.db", "--title", "Luna", "--language", "yy").stdout
    )
    assert found["matches"][0]["entities"] == [["Moon", "xx"], ["Luna", "yy"]]

    result = run(
        "build-multilingual-entity-vocab",
        "-v",
        files / "xx.jsonl",
        "--entity-vocab-files",
        files / "yy.jsonl",
        "-i",
        files / "iw.db",
        "-o",
        files / "m.jsonl",
        "--vocab-size",
        "5",
        "--min-num-languages",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entries"] == 5
    described = json.loads(run("inspect", files / "m.jsonl").stdout)
    assert described["is_multilingual"] and described["languages"] == ["xx", "yy"]
    assert [e["count"] for e in described["top"][3:]] == [3, 2]  # Moon+Luna, Sun+Sol


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build-entity-vocab", "{d}/missing.db", "{d}/out.jsonl"], "missing.db: no such file"),
        (["build-entity-vocab", "{d}/wikidata.json", "{d}/out.jsonl"], "wikidata.json: not a dump"),
        (["build-entity-vocab", "{d}/xx.db", "{d}/out.jsonl", "--vocab-size", "3"], "at least 4"),
        (
            ["build-interwiki-db", "{d}/xx.db", "{d}/out.jsonl"],
            "xx.db: a binary file, not a Wikidata JSON dump",
        ),
        (["build-interwiki-db", "{d}/nope.json", "{d}/out.jsonl"], "nope.json: Wikidata dump not"),
        (
            [
                "build-multilingual-entity-vocab",
                "-v",
                "{d}/xx.db",
                "-i",
                "{d}/xx.db",
                "-o",
                "{d}/out.jsonl",
            ],
            "xx.db: an SQLite database",
        ),
    ],
)
def test_bad_input_exits_1_naming_the_file(files, args, message):
    result = run(*(arg.format(d=files) for arg in args))
    assert result.exit_code == 1
    last_line = result.stderr.splitlines()[-1]
    assert last_line.startswith("error: ") and message in last_line
    assert not (files / "out.jsonl").exists()


def test_usage_errors_exit_2(files):
    result = run(
        "build-multilingual-entity-vocab", "-v", files / "xx.jsonl", "-o", files / "m.jsonl"
    )
    assert result.exit_code == 2 and "-i" in result.stderr


def test_real_process_exit_status(files):
    command = [sys.executable, "-m", "luke_core", "build-entity-vocab", "--no-progress"]
    done = subprocess.run(
        [*command, str(files / "xx.db"), str(files / "v.jsonl"), "--vocab-size", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "--vocab-size must be at least 4" in done.stderr
    done = subprocess.run(
        [*command, str(files / "xx.db"), str(files / "v.jsonl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and json.loads(done.stdout)["entries"] == 6


def test_interwiki_db_from_standard_input(files):
    """`-` reads the dump from a pipe (e.g. from a parallel decompressor)."""
    compressed = bz2.compress((files / "wikidata.json").read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "luke_core", "build-interwiki-db", "-", str(files / "iw.db")],
        input=compressed,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sitelinks"] == 4
