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
        ["--dataset-dir", "d", "--output-dir", "o", "--deepspeed-config-file", "tiny-cpu",
         "--bert-model-name", "base"]
    )  # fmt: skip
    assert options == PretrainOptions(deepspeed_config_file="tiny-cpu", bert_model_name="base")
    assert (options.entity_emb_size, options.whole_word_masking) == (256, True)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--preset", "luke-base", "--fix-bert-weights"],
         ("luke-base-stage1", "roberta-base", 256, True)),
        (["--preset", "mluke-large"], ("mluke-large-stage2", "xlm-roberta-large", 256, False)),
        (["--preset", "tiny", "--bert-model-name", "b"], ("tiny-cpu", "b", 64, True)),
        # explicit options win over the preset's
        (["--preset", "mluke-base", "--deepspeed-config-file", "my.json", "--whole-word-masking",
          "--entity-emb-size", "128", "--bert-model-name", "s3://b/xlmr"],
         ("my.json", "s3://b/xlmr", 128, True)),
    ],
)  # fmt: skip
def test_a_preset_fills_what_is_not_given(args, expected):
    _, _, options = parse(["--dataset-dir", "d", "--output-dir", "o", *args])
    assert (
        options.deepspeed_config_file,
        options.bert_model_name,
        options.entity_emb_size,
        options.whole_word_masking,
    ) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "error: give --deepspeed-config-file or a --preset"),
        (["--deepspeed-config-file", "tiny-cpu"], "error: give --bert-model-name or a --preset"),
        (["--preset", "tiny"], "the tiny preset's base model is made locally"),
    ],
)
def test_without_a_preset_the_config_and_base_model_are_needed(args, message):
    result = CliRunner().invoke(
        luke, ["pretrain", "--dataset-dir", "d", "--output-dir", "o", *args]
    )
    assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize(
    "options",
    [
        PretrainOptions(preset="luke-base", fix_bert_weights=True),
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
            "--preset",
            "luke-base",
            "--reset-optimization-states",
        ],
    )
    assert result.exit_code == 1
    assert "error: --reset-optimization-states needs --resume-checkpoint-id" in result.output


def test_the_deepspeed_launcher_local_rank_argument_is_accepted():
    result = CliRunner().invoke(luke, ["--local_rank=1", "pretrain", "--help"])
    assert result.exit_code == 0 and "--fix-bert-weights" in result.output
