"""`luke pretrain`'s command line: every option of PretrainOptions, and the arguments a
launcher builds from options (`luke_core.launch.pretrain_arguments`) parse back to them."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from luke_core.cli import luke
from luke_core.launch import pretrain_arguments
from luke_core.training.cli import pretrain_command
from luke_core.training.options import PretrainOptions


def parse(args) -> tuple[tuple[str, ...], str, PretrainOptions]:
    params = dict(pretrain_command.make_context("pretrain", list(args)).params)
    dirs, out = params.pop("dataset_dirs"), params.pop("output_dir")
    interval = params.pop("save_interval_steps")
    return dirs, out, PretrainOptions(save_interval_steps=interval or None, **params)


def test_defaults_are_the_options_defaults():
    _, _, options = parse(
        ["--dataset-dir", "d", "--output-dir", "o", "--deepspeed-config-file", "tiny-cpu"]
    )
    assert options == PretrainOptions(deepspeed_config_file="tiny-cpu")


@pytest.mark.parametrize(
    "options",
    [
        PretrainOptions(deepspeed_config_file="luke-base-stage1", fix_bert_weights=True),
        PretrainOptions(
            deepspeed_config_file="s3://b/ds.json",
            bert_model_name="xlm-roberta-base",
            whole_word_masking=False,
            resume_checkpoint_id="s3://b/stage1",
            reset_optimization_states=True,
            save_interval_steps=None,
            log_dir="s3://b/tb",
            masked_entity_prob=0.2,
            mask_words_in_entity_span=True,
            sampling_smoothing=0.5,
            deterministic=True,
            progress=False,
            num_workers=0,
            seed=3,
            entity_emb_size=128,
        ),
    ],
)
def test_launcher_arguments_parse_back(options):
    args = pretrain_arguments(["s3://b/data/*", "other"], "s3://b/out", options)
    assert parse(args) == (("s3://b/data/*", "other"), "s3://b/out", options)


def test_every_option_has_a_flag():
    flags = {opt for param in pretrain_command.params for opt in param.opts}
    for field in dataclasses.fields(PretrainOptions):
        assert "--" + field.name.replace("_", "-") in flags, field.name


def test_bad_options_exit_with_a_message(tmp_path):
    result = CliRunner().invoke(
        luke,
        [
            "pretrain",
            "--dataset-dir",
            str(tmp_path),
            "--output-dir",
            str(tmp_path / "o"),
            "--deepspeed-config-file",
            "tiny-cpu",
            "--reset-optimization-states",
        ],
    )
    assert result.exit_code == 1
    assert "error: --reset-optimization-states needs --resume-checkpoint-id" in result.output


def test_the_deepspeed_launcher_local_rank_argument_is_accepted():
    result = CliRunner().invoke(luke, ["--local_rank=1", "pretrain", "--help"])
    assert result.exit_code == 0 and "--fix-bert-weights" in result.output
