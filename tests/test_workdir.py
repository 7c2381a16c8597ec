"""The work dir's layout: one type names every artifact of a pipeline run."""

import re

from luke_core.workdir import WorkDir


def test_artifacts_of_a_run():
    work = WorkDir("s3://b/run")
    assert work.dump_db("de") == "s3://b/run/dump_db/de.db"
    assert work.entity_vocab("de") == "s3://b/run/entity_vocab/de.jsonl"
    assert work.entity_vocab() == "s3://b/run/entity_vocab/multilingual.jsonl"
    assert work.interwiki_db == "s3://b/run/interwiki.db"
    assert work.dataset("ja") == "s3://b/run/dataset/ja"
    assert work.training("stage1") == "s3://b/run/training/stage1"
    assert work.huggingface == "s3://b/run/huggingface"
    assert WorkDir("/data/run").dataset("en") == "/data/run/dataset/en"


def test_a_part_database_is_named_by_its_file_and_uri():
    work = WorkDir("s3://b/run")
    part = work.dump_db_part("s3://b/x/wiki-[1-3]?.bz2")
    # glob characters replaced: the merge reads the part's URI as a name, not a pattern
    assert re.fullmatch(r"s3://b/run/dump_db/parts/wiki-_1-3__\.bz2-[0-9a-f]{8}\.db", part)
    # parts of the same file name in two folders get two databases
    january = work.dump_db_part("s3://b/2024-01/pages.xml")
    march = work.dump_db_part("s3://b/2024-03/pages.xml")
    assert january != march and january.startswith("s3://b/run/dump_db/parts/pages.xml-")
    assert work.dump_db_part("s3://b/2024-01/pages.xml") == january
