"""`--reuse`: a step keeps its earlier output when that output records the same recipe (the
step's rules, its inputs unchanged since, the same output-shaping options), from the command
line as from a component; anything else builds it again, and the log says why."""

from __future__ import annotations

import dataclasses
import json
import os
import time

import pytest
from click.testing import CliRunner

from luke_core import storage
from luke_core.cli import luke
from luke_core.dump_db import BuildDumpDbOptions, DumpDB
from luke_core.errors import LukeError
from luke_core.reuse import (
    Recipe,
    is_neutral,
    recipe_options,
    reused_summary,
    sidecar,
    write_sidecar,
)
from luke_testing.mediawiki import WikiPage, write_dump

PAGES = [
    WikiPage("Tokyo", "'''Tokyo''' is the capital of [[Japan]]."),
    WikiPage("Japan", "'''Japan''' is in [[Asia]]. [[Tokyo]] is its capital."),
    WikiPage("Asia", "'''Asia''' holds [[Japan]]."),
]


def run(*args: str) -> tuple[dict, str]:
    result = CliRunner().invoke(luke, [*args, "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def build_id(uri: str) -> str:
    with DumpDB(uri) as db:
        return db.meta["build_id"]


@pytest.fixture
def dump(tmp_path) -> str:
    return write_dump(str(tmp_path / "wiki.xml"), PAGES)


def test_build_dump_db_reuse_from_the_command_line(tmp_path, dump):
    out = str(tmp_path / "wiki.db")
    first, _ = run("build-dump-db", dump, out)
    assert first["reused"] is False
    built = build_id(out)

    # the same dump: kept, with the figures of its build; the number of processes and the
    # chunk size do not change the database, so they do not matter
    again, _ = run("build-dump-db", dump, out, "--reuse", "-j", "2", "--chunk-size", "7")
    assert again == {**first, "reused": True}
    assert build_id(out) == built
    # without --reuse: built again
    run("build-dump-db", dump, out, "--processes", "1")
    assert build_id(out) != built
    built = build_id(out)

    # a new dump at the same path (written later than the build): built again, and why
    time.sleep(0.05)
    write_dump(dump, [*PAGES, WikiPage("Kyoto", "'''Kyoto''' is in [[Japan]].")])
    rebuilt, log = run("build-dump-db", dump, out, "--reuse")
    assert rebuilt["reused"] is False and rebuilt["pages"] == 4
    assert f"building {out} again: input dump[0]:" in log

    # another dump copied over it with the old file time (cp -p, rsync -a): its size tells
    old = os.stat(dump).st_mtime - 3600
    write_dump(dump, PAGES)
    os.utime(dump, (old, old))
    rebuilt, _ = run("build-dump-db", dump, out, "--reuse")
    assert rebuilt["reused"] is False and rebuilt["pages"] == 3


def test_a_database_replaced_behind_its_record_is_built_again(tmp_path, dump):
    out = str(tmp_path / "wiki.db")
    run("build-dump-db", dump, out)
    other = str(tmp_path / "other.db")
    run("build-dump-db", write_dump(str(tmp_path / "other.xml"), PAGES[:1]), other)
    # someone copies another database over the output: the record beside it no longer
    # describes the file there
    os.replace(other, out)
    summary, _ = run("build-dump-db", dump, out, "--reuse")
    assert summary["reused"] is False and summary["pages"] == 3
    # and an output without any record (made by an older version) is built again too
    os.remove(sidecar(out))
    summary, _ = run("build-dump-db", dump, out, "--reuse")
    assert summary["reused"] is False


def test_merge_and_vocabulary_reuse_from_the_command_line(tmp_path, dump):
    part = str(tmp_path / "part.db")
    run("build-dump-db", dump, part)
    merged = str(tmp_path / "merged.db")
    assert run("merge-dump-db", part, merged)[0]["reused"] is False
    assert run("merge-dump-db", part, merged, "--reuse")[0]["reused"] is True

    vocab = str(tmp_path / "vocab.jsonl")
    run("build-entity-vocab", merged, vocab)
    assert run("build-entity-vocab", merged, vocab, "--reuse", "-j", "1")[0]["reused"] is True
    # an option that shapes the vocabulary: built again
    smaller, _ = run("build-entity-vocab", merged, vocab, "--reuse", "--vocab-size", "5")
    assert smaller["reused"] is False and smaller["entries"] == 5
    # a white list is an input by content
    white = tmp_path / "white.txt"
    white.write_text("Asia\n")
    args = ("build-entity-vocab", merged, vocab, "--reuse", "-w", str(white))
    assert run(*args)[0]["reused"] is False
    assert run(*args)[0]["reused"] is True
    white.write_text("Tokyo\n")
    assert run(*args)[0]["reused"] is False
    # the part rebuilt: the merge, then the vocabulary of the new merge, are stale
    time.sleep(0.05)
    run("build-dump-db", dump, part)
    assert run("merge-dump-db", part, merged, "--reuse")[0]["reused"] is False
    assert run(*args)[0]["reused"] is False


def test_recipes_name_what_differs():
    earlier = Recipe("build-x", 1, {"dump": {"size": 3}}, {"vocab_size": 10, "seed": 0})
    now = Recipe("build-x", 2, {"dump": {"size": 4}}, {"vocab_size": 12, "seed": 0})
    assert now.differences(earlier) == [
        "made by build-x rules 1, now 2",
        'input dump: {"size": 3} -> {"size": 4}',
        "option vocab_size: 10 -> 12",
    ]
    assert Recipe.from_json(now.to_json()) == now
    with pytest.raises(LukeError, match="no recipe"):
        Recipe.from_json({"step": "x"})


def test_output_neutral_options_are_marked_where_they_are_defined():
    neutral = {f.name for f in dataclasses.fields(BuildDumpDbOptions) if is_neutral(f)}
    assert neutral == {"processes", "chunk_size", "reuse", "progress"}
    assert recipe_options(BuildDumpDbOptions(processes=3, chunk_size=9)) == {"image_captions": True}


@dataclasses.dataclass
class _Summary:
    pages: int = 0
    reused: bool = False


def test_reused_summary_and_its_record(tmp_path):
    out = str(tmp_path / "out.txt")
    recipe = Recipe("x", 1, {}, {"a": 1})
    assert reused_summary(out, recipe, lambda _: None, _Summary) is None  # nothing there
    storage.write_text(out, "hello")
    assert reused_summary(out, recipe, lambda _: None, _Summary) is None  # no record
    write_sidecar(out, recipe, _Summary(pages=3))
    from luke_core.reuse import read_sidecar

    assert reused_summary(out, recipe, read_sidecar, _Summary) == _Summary(pages=3, reused=True)
    assert reused_summary(out, Recipe("x", 1, {}, {"a": 2}), read_sidecar, _Summary) is None
