"""Bad input to `export_huggingface`: each a LukeError that names the file and the problem,
and nothing at the output location (an earlier export there stays as it was)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from luke_core.errors import LukeError
from luke_core.export.convert import ExportOptions, export_huggingface
from luke_testing.pretraining_run import entity_vocab_of, random_model, write_checkpoint

OPTIONS = ExportOptions(progress=False)


@pytest.fixture
def run(tmp_path, luke_run) -> str:
    """A private copy of the run, free to damage."""
    return shutil.copytree(luke_run, str(tmp_path / "run"))


def fails(checkpoint: str, out: str, match: str, options: ExportOptions = OPTIONS) -> None:
    with pytest.raises(LukeError, match=match):
        export_huggingface(checkpoint, out, options)
    assert not os.path.exists(out)
    leftovers = [n for n in os.listdir(os.path.dirname(out)) if n.startswith(".")]
    assert leftovers == [], leftovers


def test_checkpoint_without_metadata(run, tmp_path):
    os.remove(os.path.join(run, "metadata.json"))
    fails(
        os.path.join(run, "epoch1"), str(tmp_path / "out"), r"metadata is missing .*metadata\.json"
    )


def test_metadata_of_another_run(run, tmp_path):
    path = os.path.join(run, "metadata.json")
    metadata = json.load(open(path))
    metadata["model_config"]["entity_emb_size"] = 8
    json.dump(metadata, open(path, "w"))
    fails(run, str(tmp_path / "out"), r"describes another model .*entity_emb_size")


def test_metadata_of_another_kind(run, tmp_path):
    other = tmp_path / "dataset-metadata.json"
    other.write_text(json.dumps({"kind": "dataset"}))
    options = ExportOptions(metadata_path=str(other), progress=False)
    fails(run, str(tmp_path / "out"), "not the metadata of a pretraining run", options)


def test_vocabulary_that_does_not_fit_the_entity_table(run, tmp_path):
    vocab = str(tmp_path / "other_vocab.jsonl")
    entity_vocab_of(60).save(vocab)
    options = ExportOptions(entity_vocab_path=vocab, progress=False)
    fails(
        run,
        str(tmp_path / "out"),
        r"other_vocab\.jsonl: 60 entities, but the entity table .* 50 rows",
        options,
    )


def test_unknown_tokenizer_class():
    with pytest.raises(LukeError, match="unknown tokenizer class 'BertTokenizer'"):
        ExportOptions(tokenizer_class="BertTokenizer")


def test_tokenizer_class_of_the_other_kind(run, tmp_path):
    options = ExportOptions(tokenizer_class="MLukeTokenizer", progress=False)
    fails(run, str(tmp_path / "out"), "MLukeTokenizer needs a SentencePiece", options)


def test_missing_checkpoint_tag(run, tmp_path):
    options = ExportOptions(run_dir=run, progress=False)
    fails(
        "epoch7",
        str(tmp_path / "out"),
        r"no complete checkpoint tagged epoch7 \(complete ones: epoch1\)",
        options,
    )


def test_tag_without_run_folder(tmp_path):
    fails("step0000100", str(tmp_path / "out"), "needs its run folder")


def test_a_model_states_file_means_its_checkpoint(run, tmp_path):
    """The reference's --checkpoint-path pointed at the states file inside the folder."""
    states = os.path.join(run, "epoch1", "mp_rank_00_model_states.pt")
    summary = export_huggingface(states, str(tmp_path / "out"), OPTIONS)
    assert summary.checkpoint == os.path.join(run, "epoch1")


def test_an_output_folder_holding_something_else_is_refused(run, tmp_path):
    before = sorted(os.listdir(run))
    with pytest.raises(LukeError, match="exists and is not a Hugging Face export"):
        export_huggingface(run, run, OPTIONS)  # the run itself as OUT_DIR
    assert sorted(os.listdir(run)) == before


def test_missing_checkpoint_folder(run, tmp_path):
    fails(os.path.join(run, "epoch9"), str(tmp_path / "out"), "no such checkpoint")


def test_incomplete_checkpoint(run, tmp_path, tiny_model):
    folder = write_checkpoint(run, tiny_model, tag="step0000020", step=20, epoch=1, marker=False)
    fails(folder, str(tmp_path / "out"), r"not a complete checkpoint \(no checkpoint\.json")


def test_a_run_without_a_complete_checkpoint(run, tmp_path):
    os.remove(os.path.join(run, "epoch1", "checkpoint.json"))
    fails(run, str(tmp_path / "out"), "a run folder without a complete checkpoint")


def test_weights_that_do_not_fit_the_model_config(run, tmp_path, tiny_config):
    from luke_core.model import LukeModelConfig

    bigger = LukeModelConfig(**{**tiny_config.to_json(), "entity_emb_size": 24})
    write_checkpoint(run, random_model(bigger), tag="epoch1", step=10, epoch=1)
    marker = os.path.join(run, "epoch1", "checkpoint.json")
    info = json.load(open(marker))
    info["model_config"] = tiny_config.to_json()  # a marker that lies about the weights
    json.dump(info, open(marker, "w"))
    fails(run, str(tmp_path / "out"), r"do not fit the checkpoint's model config: shapes differ")


def test_not_a_checkpoint_file(run, tmp_path):
    with open(os.path.join(run, "epoch1", "mp_rank_00_model_states.pt"), "wb") as f:
        f.write(b"not a torch file")
    fails(run, str(tmp_path / "out"), "cannot read the checkpoint")


def test_missing_tokenizer_folder(run, tmp_path):
    shutil.rmtree(os.path.join(run, "tokenizer"))
    fails(run, str(tmp_path / "out"), "tokenizer folder not found")


def test_a_failed_export_leaves_the_previous_one(run, tmp_path):
    out = tmp_path / "out"
    export_huggingface(run, str(out), OPTIONS)
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    os.remove(os.path.join(run, "entity_vocab.jsonl"))
    with pytest.raises(LukeError, match="entity vocabulary not found"):
        export_huggingface(run, str(out), OPTIONS)
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before


def test_zero_stage_3_partitions(run, tmp_path):
    folder = os.path.join(run, "epoch1")
    os.rename(
        os.path.join(folder, "mp_rank_00_model_states.pt"),
        os.path.join(folder, "zero_pp_rank_0_mp_rank_00_model_states.pt"),
    )
    fails(run, str(tmp_path / "out"), "ZeRO stage 3 checkpoint .*zero_to_fp32")
