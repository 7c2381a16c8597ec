"""`luke convert-to-huggingface` with our names and the reference's, its errors and exit
statuses, and `luke inspect` of the result."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from luke_core.cli import luke


def invoke(*args: str):
    return CliRunner().invoke(luke, list(args), catch_exceptions=False)


def test_convert_with_the_reference_option_names(luke_run, tmp_path):
    out = str(tmp_path / "model")
    result = invoke(
        "convert-luke-to-huggingface-model",  # the reference's command name, too
        "--checkpoint-path", os.path.join(luke_run, "epoch1", "mp_rank_00_model_states.pt"),
        "--metadata-path", os.path.join(luke_run, "metadata.json"),
        "--entity-vocab-path", os.path.join(luke_run, "entity_vocab.jsonl"),
        "--transformers-model-save-path", out,
        "--tokenizer-class", "LukeTokenizer",
        "--set-entity-aware-attention-default", "false",
        "--remove-entity-embeddings",
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["lite"] and not summary["use_entity_aware_attention"]
    assert summary["entity_vocab_size"] == 4 and summary["output_dir"] == out
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["use_entity_aware_attention"] is False and config["entity_vocab_size"] == 4


def test_convert_a_tag_of_a_run(luke_run, tmp_path):
    out = str(tmp_path / "model")
    result = invoke(
        "convert-to-huggingface", "epoch1", out, "--run-dir", luke_run,
        "--model-name", "org/luke-tiny", "--license", "apache-2.0", "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    card = open(os.path.join(out, "README.md")).read()
    assert "license: apache-2.0" in card and 'from_pretrained("org/luke-tiny"' in card


def test_errors_and_usage(luke_run, tmp_path):
    out = str(tmp_path / "model")
    result = CliRunner().invoke(
        luke, ["convert-to-huggingface", "epoch7", out, "--run-dir", luke_run]
    )
    assert result.exit_code == 1
    assert "error:" in result.stderr and "no complete checkpoint tagged epoch7" in result.stderr
    assert not os.path.exists(out)
    unknown = CliRunner().invoke(
        luke, ["convert-to-huggingface", luke_run, out, "--tokenizer-class", "BertTokenizer"]
    )
    assert unknown.exit_code == 2 and "BertTokenizer" in unknown.stderr
    both = CliRunner().invoke(
        luke, ["convert-to-huggingface", luke_run, out, "--checkpoint-path", "x"]
    )
    assert both.exit_code == 2 and "not both" in both.stderr
    missing = CliRunner().invoke(luke, ["convert-to-huggingface", luke_run])
    assert missing.exit_code == 2 and "missing OUT_DIR" in missing.stderr
    assert not os.path.exists(out)


def test_inspect_an_export(exported):
    result = invoke("inspect", exported)
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["kind"] == "huggingface_model"
    assert described["model"]["use_entity_aware_attention"] is True
    assert "entity_vocab.json" in described["tokenizer_files"]
