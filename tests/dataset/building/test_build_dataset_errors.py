"""Bad input to `build_dataset` and its CLI: a clear LukeError (exit 1 from `luke`) before
anything exists at the output location."""

from __future__ import annotations

import os
import sqlite3

import pytest
from click.testing import CliRunner

from luke_core.cli import luke
from luke_core.dataset.building.build import BuildDatasetOptions, build_dataset
from luke_core.entity_vocab.vocab import EntityEntry, EntityVocab, special_entries
from luke_core.errors import LukeError
from luke_testing.dataset_inputs import write_byte_tokenizer, write_dump_db, write_vocab

PAGES = {"Rome": ["[[Rome]] is the capital of [[Italy]]. It is old."]}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    return {
        "db": write_dump_db(str(root / "en.db"), PAGES),
        "tokenizer": write_byte_tokenizer(str(root / "tokenizer")),
        "vocab": write_vocab(str(root / "vocab.jsonl"), ["Rome", "Italy"]),
        "root": root,
    }


def run(inputs, out, **changes):
    args = {k: inputs[k] for k in ("db", "tokenizer", "vocab")}
    options = {"sentence_splitter": "en", "processes": 1, "progress": False}
    for key, value in changes.items():
        (args if key in args else options)[key] = value
    return build_dataset(
        args["db"], args["tokenizer"], args["vocab"], out, BuildDatasetOptions(**options)
    )


def multilingual_vocab(path) -> str:
    entries = [EntityEntry(3, (("Rome", "en"), ("Roma", "it")), 2)]
    EntityVocab(special_entries(["en", "it"]) + entries).save(str(path))
    return str(path)


def not_a_dump_db(root) -> str:
    path = root / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        conn.execute("""INSERT INTO meta VALUES ('kind', '"interwiki_db"')""")
    return str(path)


def text_file(root) -> str:
    (root / "notes.txt").write_text("not a database")
    return str(root / "notes.txt")


BAD_INPUTS = {
    "tokenizer folder missing": (lambda r: {"tokenizer": str(r / "nope")}, "tokenizer folder"),
    "vocabulary missing": (lambda r: {"vocab": str(r / "nope.jsonl")}, "vocabulary not found"),
    "vocabulary in another language": (
        lambda r: {"vocab": write_vocab(str(r / "ja.jsonl"), ["東京"], language="ja")},
        "titles in ja only, none in 'en'",
    ),
    "multilingual vocabulary without --language": (
        lambda r: {"vocab": multilingual_vocab(r / "multi.jsonl")},
        "pass --language",
    ),
    "--language other than the dump's": (
        lambda r: {"language": "it"},
        "the dump database is in 'en', but --language is 'it'",
    ),
    "OpenNLP model missing": (
        lambda r: {"sentence_splitter": "opennlp", "opennlp_model": str(r / "en-sent.bin")},
        "OpenNLP sentence model not found",
    ),
    "unknown ICU locale": (lambda r: {"sentence_splitter": "klingon"}, "unknown sentence splitter"),
    "dump DB of another kind": (lambda r: {"db": not_a_dump_db(r)}, "not a dump database"),
    "dump DB not SQLite": (lambda r: {"db": text_file(r)}, "not a dump database"),
    "dump DB missing": (lambda r: {"db": str(r / "missing.db")}, "no such file"),
    "no instance at all": (
        lambda r: {"vocab": write_vocab(str(r / "other.jsonl"), ["Paris"])},
        "no instance from 1 pages",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_a_clear_error_and_writes_nothing(inputs, tmp_path, case):
    make_changes, message = BAD_INPUTS[case]
    out = tmp_path / "out"
    with pytest.raises(LukeError, match=message):
        run(inputs, str(out), **make_changes(tmp_path))
    assert not out.exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".out")]


def test_multilingual_vocabulary_with_language(inputs, tmp_path):
    vocab = multilingual_vocab(tmp_path / "multi.jsonl")
    summary = run(inputs, str(tmp_path / "out"), vocab=vocab, language="en")
    assert summary.entities == 1  # Rome in English; Italy is not in the vocabulary


@pytest.mark.parametrize(
    "options",
    [
        {"max_seq_length": 2},
        {"min_sentence_length": 600},
        {"max_entity_length": 0},
        {"max_mention_length": 0},
        {"processes": 0},
        {"shard_size": 0},
        {"max_num_documents": 0},
        {"sentence_splitter": " "},
    ],
)
def test_invalid_options(options):
    with pytest.raises(LukeError):
        BuildDatasetOptions(**options)


def test_cli_builds_and_counts_steps(inputs, tmp_path):
    runner = CliRunner()
    out = str(tmp_path / "ds")
    args = ["build-wikipedia-pretraining-dataset", inputs["db"], inputs["tokenizer"]]
    args += [inputs["vocab"], out, "--sentence-splitter", "en", "-j", "1", "--no-progress"]
    result = runner.invoke(luke, [*args, "--include-unk-entities", "--min-sentence-length", "3"])
    assert result.exit_code == 0, result.output
    steps_args = ["--dataset-dir", out, "--train-batch-size", "3", "--num-epochs", "7"]
    steps = runner.invoke(luke, ["compute-total-training-steps", *steps_args])
    assert steps.exit_code == 0
    assert steps.stdout.strip() == "3"  # ceil(1 item / 3 * 7)


def test_cli_error_exits_1(inputs, tmp_path):
    missing_tokenizer = str(tmp_path / "none")
    args = [
        inputs["db"],
        missing_tokenizer,
        inputs["vocab"],
        str(tmp_path / "out"),
        "--no-progress",
    ]
    result = CliRunner().invoke(luke, ["build-wikipedia-pretraining-dataset", *args])
    assert result.exit_code == 1
    assert "error:" in result.output and "tokenizer folder not found" in result.output
    assert not (tmp_path / "out").exists()


def test_default_splitter_is_icu_for_the_dump_language(inputs, tmp_path):
    db = write_dump_db(str(tmp_path / "simple.db"), PAGES, language="simple")
    out = tmp_path / "out"
    with pytest.raises(LukeError, match="ICU has no sentence rules for the language 'simple'"):
        run(inputs, str(out), db=db, sentence_splitter=None)
    assert not out.exists()
    summary = run(inputs, str(out), db=db, sentence_splitter="en")
    assert summary.sequences == 1


def test_error_in_a_worker_reaches_the_caller(inputs, tmp_path):
    """A model that passes the early checks but that OpenNLP rejects fails in the workers:
    the error comes back to the caller and the output location stays empty."""
    import zipfile

    from luke_testing.dataset_inputs import shared_data

    shared_data("opennlp", "en-sent.bin")  # skips without the shared data (needs Java too)
    model = tmp_path / "broken-sent.bin"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("manifest.properties", "Component-Name=SentenceDetectorME\n")
        archive.writestr("sent.model", b"not a maximum entropy model")
    out = tmp_path / "out"
    with pytest.raises(LukeError, match="not an OpenNLP sentence model"):
        run(inputs, str(out), sentence_splitter="opennlp", opennlp_model=str(model), processes=2)
    assert not out.exists()
