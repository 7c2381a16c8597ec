"""`plan_run`: where a run starts, and every bad input found before any process group exists
(each process makes this plan by itself, so all of them stop with the same error)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from luke_core import storage
from luke_core.errors import LukeError
from luke_core.training.checkpoints import MARKER_FILE, CheckpointInfo
from luke_core.training.distributed import DistributedEnv
from luke_core.training.options import PretrainOptions
from luke_core.training.plan import plan_run
from luke_testing.pretraining_data import save_tiny_tokenizer
from luke_testing.tiny_model import save_tiny_base_model, write_synthetic_dataset

TWO = DistributedEnv(rank=1, world_size=2, local_rank=1, local_world_size=2)


def options(base: str, **kwargs) -> PretrainOptions:
    return PretrainOptions(
        deepspeed_config_file="tiny-cpu", bert_model_name=base, num_epochs=2, **kwargs
    )


def fake_checkpoint(run: Path, tag: str, step: int, model_config: dict, *, stage_1=False):
    info = CheckpointInfo(
        tag=tag,
        step=step,
        epoch=0,
        samples=8 * step,
        model_config=model_config,
        fix_bert_weights=stage_1,
        world_size=2,
        saved_at="now",
    )
    storage.write_json(str(run / tag / MARKER_FILE), info.to_json())


def test_a_fresh_run(synthetic_dataset, tiny_base_dir, tmp_path):
    plan = plan_run(synthetic_dataset, str(tmp_path / "out"), options(tiny_base_dir), TWO)
    assert plan.resume is None and not plan.resume_weights_only
    assert plan.model_config.entity_vocab_size == 100
    assert plan.model_config.base_config["vocab_size"] == 320
    assert plan.deepspeed_config["gradient_accumulation_steps"] == 2  # 8 = 2 x 2 x 2
    assert plan.total_steps == 16  # ceil(64 items x 2 epochs / 8)
    assert plan.log_dir == str(tmp_path / "out" / "tensorboard")
    assert plan.data.dirs == (synthetic_dataset,)


def test_resumes_its_own_latest_checkpoint(synthetic_dataset, tiny_base_dir, tmp_path):
    out = tmp_path / "out"
    fresh = plan_run(synthetic_dataset, str(out), options(tiny_base_dir), TWO)
    fake_checkpoint(out, "step0000004", 4, fresh.model_config.to_json())
    fake_checkpoint(out, "step0000008", 8, fresh.model_config.to_json())
    (out / "step0000012").mkdir()  # an interrupted save: no marker
    other = tmp_path / "stage1"
    fake_checkpoint(other, "epoch1", 30, fresh.model_config.to_json(), stage_1=True)
    plan = plan_run(
        synthetic_dataset,
        str(out),
        options(tiny_base_dir, resume_checkpoint_id=str(other), reset_optimization_states=True),
        TWO,
    )
    # the run's own checkpoint wins over --resume-checkpoint-id (a restarted stage 2)
    assert plan.resume.uri == str(out / "step0000008")
    assert not plan.resume_weights_only
    with pytest.raises(LukeError, match="without --fix-bert-weights; continue it"):
        plan_run(synthetic_dataset, str(out), options(tiny_base_dir, fix_bert_weights=True), TWO)


def test_a_run_continues_only_on_its_own_data(
    synthetic_dataset, tiny_tokenizer_dir, tiny_base_dir, tmp_path
):
    """Rebuilt datasets (other content) and a run's checkpoints do not mix: the trained
    entity embeddings would meet other entity ids."""
    from luke_core.training.run_files import run_metadata

    out = tmp_path / "out"
    fresh = plan_run(synthetic_dataset, str(out), options(tiny_base_dir), TWO)
    storage.write_json(str(out / "metadata.json"), run_metadata(fresh))
    fake_checkpoint(out, "step0000004", 4, fresh.model_config.to_json())
    assert plan_run(synthetic_dataset, str(out), options(tiny_base_dir), TWO).resume.step == 4
    rebuilt = write_synthetic_dataset(str(tmp_path / "rebuilt"), tiny_tokenizer_dir, seed=1)
    with pytest.raises(LukeError, match="out: its checkpoints were trained on other datasets"):
        plan_run(rebuilt, str(out), options(tiny_base_dir), TWO)


def test_stage_2_from_stage_1(synthetic_dataset, tiny_base_dir, tmp_path):
    fresh = plan_run(synthetic_dataset, str(tmp_path / "x"), options(tiny_base_dir), TWO)
    stage1 = tmp_path / "stage1"
    fake_checkpoint(stage1, "epoch2", 16, fresh.model_config.to_json(), stage_1=True)
    plan = plan_run(
        synthetic_dataset,
        str(tmp_path / "stage2"),
        options(
            tiny_base_dir,
            resume_checkpoint_id=str(stage1 / "epoch2"),
            reset_optimization_states=True,
        ),
        TWO,
    )
    assert plan.resume.uri == str(stage1 / "epoch2") and plan.resume_weights_only
    with pytest.raises(LukeError, match="pass --reset-optimization-states"):
        plan_run(
            synthetic_dataset,
            str(tmp_path / "stage2"),
            options(tiny_base_dir, resume_checkpoint_id=str(stage1)),
            TWO,
        )


def test_a_checkpoint_of_another_model(synthetic_dataset, tiny_base_dir, tmp_path):
    fresh = plan_run(synthetic_dataset, str(tmp_path / "x"), options(tiny_base_dir), TWO)
    other = {**fresh.model_config.to_json(), "entity_emb_size": 64}
    fake_checkpoint(tmp_path / "out", "epoch1", 8, other)
    with pytest.raises(LukeError, match="does not fit: entity_emb_size 64 \\(this run: 256\\)"):
        plan_run(synthetic_dataset, str(tmp_path / "out"), options(tiny_base_dir), TWO)


def test_a_missing_checkpoint(synthetic_dataset, tiny_base_dir, tmp_path):
    for missing in ("epoch3", str(tmp_path / "nowhere" / "epoch3")):
        with pytest.raises(LukeError, match="no such checkpoint"):
            plan_run(
                synthetic_dataset,
                str(tmp_path / "out"),
                options(tiny_base_dir, resume_checkpoint_id=missing),
                TWO,
            )


def test_a_config_with_a_mistake(synthetic_dataset, tiny_base_dir, tmp_path):
    config = tmp_path / "ds.json"
    config.write_text(
        json.dumps(
            {
                "train_batch_size": 8,
                "train_micro_batch_size_per_gpu": 3,
                "optimizer": {"type": "AdamW", "params": {"lr": 1}},
            }
        )
    )
    with pytest.raises(LukeError, match=f"{config}: train_batch_size 8 !="):
        plan_run(
            synthetic_dataset,
            str(tmp_path / "out"),
            PretrainOptions(deepspeed_config_file=str(config), bert_model_name=tiny_base_dir),
            TWO,
        )


@pytest.fixture(scope="module")
def other_tokenizer_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("other-tokenizer"))
    save_tiny_tokenizer(path, vocab_size=300)
    return path


def test_a_dataset_of_another_tokenizer(synthetic_dataset, other_tokenizer_dir, tmp_path):
    # a model whose word table is big enough, but whose tokenizer is another one
    base = save_tiny_base_model(
        str(tmp_path / "base"), tokenizer_dir=other_tokenizer_dir, vocab_size=400, max_seq_length=64
    )
    with pytest.raises(LukeError, match="whose vocabulary differs from the one of"):
        plan_run(synthetic_dataset, str(tmp_path / "out"), options(base), TWO)
    # a model whose word table is too small for the dataset's tokenizer
    small = save_tiny_base_model(
        str(tmp_path / "small"),
        tokenizer_dir=other_tokenizer_dir,
        vocab_size=300,
        max_seq_length=64,
    )
    with pytest.raises(LukeError, match="320 words, the model .* only 300"):
        plan_run(synthetic_dataset, str(tmp_path / "out"), options(small), TWO)


def test_a_dataset_of_another_kind_of_tokenizer(tiny_tokenizer_dir, tiny_base_dir, tmp_path):
    dataset = write_synthetic_dataset(str(tmp_path / "ds"), tiny_tokenizer_dir)
    metadata = json.loads(Path(dataset, "metadata.json").read_text())
    metadata["tokenizer_class"] = "XLMRobertaTokenizer"
    Path(dataset, "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(LukeError, match="built with a XLMRobertaTokenizer .* is a roberta model"):
        plan_run(dataset, str(tmp_path / "out"), options(tiny_base_dir), TWO)


def test_datasets_with_different_lengths(tiny_tokenizer_dir, tiny_base_dir, tmp_path):
    write_synthetic_dataset(str(tmp_path / "data" / "a"), tiny_tokenizer_dir)
    write_synthetic_dataset(str(tmp_path / "data" / "b"), tiny_tokenizer_dir, max_seq_length=48)
    with pytest.raises(LukeError, match="max_seq_length"):
        plan_run(str(tmp_path / "data" / "*"), str(tmp_path / "out"), options(tiny_base_dir), TWO)


def test_sequences_longer_than_the_position_table(tiny_tokenizer_dir, tiny_base_dir, tmp_path):
    dataset = write_synthetic_dataset(str(tmp_path / "ds"), tiny_tokenizer_dir, max_seq_length=96)
    with pytest.raises(LukeError, match="max_seq_length 96 needs 98 position embeddings"):
        plan_run(dataset, str(tmp_path / "out"), options(tiny_base_dir), TWO)


def test_inputs_that_are_not_there(synthetic_dataset, tiny_base_dir, tmp_path):
    with pytest.raises(LukeError, match="no dataset directory matches"):
        plan_run(str(tmp_path / "none-*"), str(tmp_path / "out"), options(tiny_base_dir), TWO)
    with pytest.raises(LukeError, match="cannot load the base model's config"):
        plan_run(synthetic_dataset, str(tmp_path / "out"), options(str(tmp_path / "nb")), TWO)
    (tmp_path / "file").write_text("x")
    with pytest.raises(LukeError, match="is a file"):
        plan_run(synthetic_dataset, str(tmp_path / "file"), options(tiny_base_dir), TWO)


def test_options_are_checked():
    with pytest.raises(LukeError, match="needs --resume-checkpoint-id"):
        PretrainOptions(
            deepspeed_config_file="x", bert_model_name="b", reset_optimization_states=True
        )
    with pytest.raises(LukeError, match="exceed 1"):
        PretrainOptions(
            deepspeed_config_file="x",
            bert_model_name="b",
            random_word_prob=0.6,
            unmasked_word_prob=0.6,
        )
    with pytest.raises(LukeError, match="--masked-lm-prob must lie in"):
        PretrainOptions(deepspeed_config_file="x", bert_model_name="b", masked_lm_prob=1.5)
    with pytest.raises(LukeError, match="--num-epochs must be at least 1"):
        PretrainOptions(deepspeed_config_file="x", bert_model_name="b", num_epochs=0)


def test_a_dataset_too_small_for_one_step(tiny_tokenizer_dir, tiny_base_dir, tmp_path):
    dataset = write_synthetic_dataset(str(tmp_path / "ds"), tiny_tokenizer_dir, count=6)
    # 6 items / (2 processes x 1 worker x batch 2) = 1 micro-batch each; a step needs 2
    with pytest.raises(LukeError, match="make 1 micro-batches per process per epoch"):
        plan_run(dataset, str(tmp_path / "out"), options(tiny_base_dir, num_workers=1), TWO)


def test_a_shipped_config_of_another_model_size_is_refused(
    synthetic_dataset, tiny_base_dir, tmp_path
):
    with pytest.raises(
        LukeError,
        match=r"luke-large-stage1 is for a model of hidden size 1024, 24 layers \(luke-large\), "
        r"but the base model .* has hidden size 32, 2 layers",
    ):
        plan_run(
            synthetic_dataset,
            str(tmp_path / "out"),
            PretrainOptions(
                preset="luke-large", bert_model_name=tiny_base_dir, fix_bert_weights=True
            ),
            TWO,
        )
    assert not (tmp_path / "out").exists()


def test_the_model_size_check_names_the_configs_that_fit():
    from luke_core.presets import check_model_size

    roberta_base = {"hidden_size": 768, "num_hidden_layers": 12}
    check_model_size("luke-base-stage2", roberta_base, "roberta-base")  # fits
    check_model_size("tiny-cpu", roberta_base, "roberta-base")  # any size
    check_model_size("/my/ds.json", roberta_base, "roberta-base")  # not a shipped config
    with pytest.raises(LukeError, match="use the configs of luke-base or mluke-base"):
        check_model_size("mluke-large-stage2", roberta_base, "roberta-base")
