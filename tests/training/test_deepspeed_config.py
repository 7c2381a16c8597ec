"""DeepSpeed configs: the shipped ones hold the published hyperparameters; a config with a
mistake is a LukeError naming it; batch sizes and total_num_steps are completed."""

from __future__ import annotations

import json

import pytest

from luke_core.errors import LukeError
from luke_core.training.deepspeed_config import (
    LoadedConfig,
    load_config,
    resolve_config,
    shipped_config_names,
    total_training_steps,
)

PEAK_LR = {
    ("luke-base", 1): 5e-4,
    ("luke-base", 2): 1e-5,
    ("luke-large", 1): 5e-4,
    ("luke-large", 2): 1e-5,
    ("mluke-base", 1): 5e-4,
    ("mluke-base", 2): 1e-4,
    ("mluke-large", 1): 5e-4,
    ("mluke-large", 2): 5e-5,
}


def test_shipped_configs():
    names = {f"{model}-stage{stage}" for model, stage in PEAK_LR}
    assert set(shipped_config_names()) == names | {"tiny-cpu"}


@pytest.mark.parametrize(("model", "stage"), sorted(PEAK_LR))
def test_published_hyperparameters(model, stage):
    config = load_config(f"{model}-stage{stage}").config
    assert config["train_batch_size"] == 2048
    assert config["train_micro_batch_size_per_gpu"] == 4
    assert config["optimizer"] == {
        "type": "AdamW",
        "params": {
            "lr": PEAK_LR[model, stage],
            "betas": [0.9, 0.999],
            "eps": 1e-6,
            "weight_decay": 0.01,
            "bias_correction": False,
        },
    }
    schedule = config["scheduler"]
    assert schedule["type"] == "WarmupDecayLR"
    assert schedule["params"] == {
        "warmup_min_lr": 0.0,
        "warmup_max_lr": PEAK_LR[model, stage],
        "warmup_num_steps": 2500,
        "warmup_type": "linear",
        "total_num_steps": "auto",
    }
    assert config["gradient_clipping"] == 10000.0
    assert not config["fp16"]["enabled"] and not config["bf16"]["enabled"]
    assert config["zero_optimization"]["stage"] == 0


def test_published_config_on_16_gpus():
    resolved = resolve_config(
        load_config("luke-large-stage1"), world_size=16, number_of_items=10_050_000, num_epochs=20
    )
    assert resolved["gradient_accumulation_steps"] == 32
    assert resolved["scheduler"]["params"]["total_num_steps"] == 98_145  # ceil(10.05M*20/2048)
    assert "_comment" not in resolved


def test_total_steps_follow_the_reference_formula():
    assert total_training_steps(100, 8, 3) == 38  # ceil(300 / 8)
    assert total_training_steps(10_053_632, 2048, 20) == 98_180


def test_explicit_total_steps_are_kept(tmp_path):
    config = json.loads(json.dumps(load_config("tiny-cpu").config))
    config["scheduler"]["params"]["total_num_steps"] = 123
    resolved = resolve_config(
        LoadedConfig(config, "x"), world_size=2, number_of_items=9, num_epochs=1
    )
    assert resolved["scheduler"]["params"]["total_num_steps"] == 123


@pytest.mark.parametrize(
    ("sizes", "world", "expected"),
    [
        ({"train_batch_size": 16, "train_micro_batch_size_per_gpu": 2}, 2, (16, 2, 4)),
        ({"train_batch_size": 16, "gradient_accumulation_steps": 2}, 2, (16, 4, 2)),
        ({"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 3}, 2, (12, 2, 3)),
        ({"train_batch_size": 8}, 4, (8, 2, 1)),
        ({"train_micro_batch_size_per_gpu": 3}, 2, (6, 3, 1)),
        (
            {
                "train_batch_size": 12,
                "train_micro_batch_size_per_gpu": 2,
                "gradient_accumulation_steps": 3,
            },
            2,
            (12, 2, 3),
        ),
    ],
)
def test_batch_sizes_are_completed(sizes, world, expected):
    config = {"optimizer": {"type": "AdamW", "params": {"lr": 1e-3}}, **sizes}
    resolved = resolve_config(
        LoadedConfig(config, "c.json"), world_size=world, number_of_items=10, num_epochs=1
    )
    got = tuple(
        resolved[k]
        for k in (
            "train_batch_size",
            "train_micro_batch_size_per_gpu",
            "gradient_accumulation_steps",
        )
    )
    assert got == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"train_batch_size": 10, "train_micro_batch_size_per_gpu": 4}, "train_batch_size 10 !="),
        (
            {
                "train_batch_size": 16,
                "train_micro_batch_size_per_gpu": 2,
                "gradient_accumulation_steps": 2,
            },
            "16 != train_micro_batch_size_per_gpu 2 x gradient_accumulation_steps 2 x 2 proc",
        ),
        ({"train_batch_size": 9}, "not a multiple of 2 processes"),
        ({"gradient_accumulation_steps": 2}, "needs train_batch_size or"),
        ({"train_batch_size": "16"}, "positive integer"),
    ],
)
def test_inconsistent_batch_sizes(config, message):
    config = {"optimizer": {"type": "AdamW", "params": {"lr": 1e-3}}, **config}
    with pytest.raises(LukeError, match=r"c\.json: .*" + message.replace("(", r"\(")):
        resolve_config(
            LoadedConfig(config, "c.json"), world_size=2, number_of_items=10, num_epochs=1
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("optimizer"), "needs an 'optimizer' section"),
        (lambda c: c["optimizer"]["params"].pop("lr"), "need an 'lr'"),
        (lambda c: c["optimizer"].update(type="AdamX"), "unknown optimizer type 'AdamX'"),
        (lambda c: c["scheduler"].update(type="Warmup"), "unknown scheduler type 'Warmup'"),
        (lambda c: c["optimizer"]["params"].update(bias_correction=False), "torch_adam"),
        (lambda c: c["scheduler"].pop("type"), "needs a 'type'"),
        (lambda c: c["scheduler"]["params"].update(total_num_steps=-3), "total_num_steps"),
        (lambda c: c.update(gradient_clipping="auto"), "only the scheduler's total_num_steps"),
        # what DeepSpeed itself would refuse only at initialize, after start-up
        (lambda c: c["optimizer"]["params"].update(lr="0.001"), "lr must be a number"),
        (lambda c: c["optimizer"]["params"].update(beta=0.9), "AdamW has no parameter beta"),
        (
            lambda c: c["scheduler"]["params"].update(warmup_num_stepz=5),
            "WarmupDecayLR has no parameter warmup_num_stepz",
        ),
        (lambda c: c.update(zero_optimization={"stage": 5}), "DeepSpeed refuses this config"),
        (lambda c: c.update(zero_optimization={"stgae": 1}), "stgae"),
        (lambda c: c.update(fp16={"enabled": True}), "fp16 needs a GPU"),
    ],
)
def test_config_mistakes(change, message):
    config = json.loads(json.dumps(load_config("tiny-cpu").config))
    change(config)
    with pytest.raises(LukeError, match=message):
        resolve_config(
            LoadedConfig(config, "mine.json"), world_size=1, number_of_items=10, num_epochs=1
        )


def test_config_files(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"train_batch_size": 4}))
    assert load_config(str(good)).config == {"train_batch_size": 4}
    assert load_config(str(good)).source == str(good)
    bad = tmp_path / "bad.json"
    bad.write_text('{"train_batch_size": 4,}')
    with pytest.raises(LukeError, match=r"bad\.json: not valid JSON"):
        load_config(str(bad))
    with pytest.raises(LukeError, match="no such DeepSpeed config file, nor a shipped config"):
        load_config(str(tmp_path / "missing.json"))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(LukeError, match="a JSON object"):
        load_config(str(listed))


def test_config_on_s3(s3):
    from luke_core import storage

    storage.write_json(f"{s3}/configs/ds.json", load_config("tiny-cpu").config)
    loaded = load_config(f"{s3}/configs/ds.json")
    assert loaded.config == load_config("tiny-cpu").config
    with pytest.raises(LukeError, match="no such"):
        load_config(f"{s3}/configs/other.json")
