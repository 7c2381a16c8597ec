"""`luke pretrain` for real: two CPU processes under torchrun (gloo), DeepSpeed, the loader,
on the dataset the real pipeline builds from the real Wikipedia fragment."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from luke_core import storage
from luke_testing.pretrain_runs import PretrainRunner, metrics_of, summary_of

pytestmark = pytest.mark.slow

METRIC_FIELDS = {
    "step",
    "epoch",
    "loss",
    "masked_lm_loss",
    "masked_lm_accuracy",
    "masked_entity_loss",
    "masked_entity_accuracy",
    "lr",
    "samples_per_second",
    "samples",
    "time",
}
STEPS_PER_EPOCH = 13  # 104 items / (2 processes x batch 2) = 26 micro-batches, 2 per step


def common_args(dataset: str, base: str, config: str) -> list[str]:
    return [
        "--dataset-dir",
        dataset,
        "--bert-model-name",
        base,
        "--deepspeed-config-file",
        config,
        "--log-interval-steps",
        "1",
        "--num-workers",
        "1",
        "--seed",
        "7",
        "--deterministic",
        "--no-progress",
    ]


def kill_job(job: subprocess.Popen) -> None:
    """SIGKILL to torchrun and every process below it at once, as when a pod dies
    (torchrun starts its workers in sessions of their own)."""
    import psutil

    family = [psutil.Process(job.pid), *psutil.Process(job.pid).children(recursive=True)]
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    job.communicate()


def model_states(checkpoint: Path) -> dict:
    state = torch.load(
        checkpoint / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False
    )
    return state


@pytest.fixture(scope="module")
def reference_run(fragment_dataset, roberta_tiny_base, test_config, tmp_path_factory):
    """Three epochs, uninterrupted; the other tests compare against it."""
    root = tmp_path_factory.mktemp("reference")
    out = root / "run"
    args = common_args(fragment_dataset, roberta_tiny_base, test_config)
    completed = PretrainRunner(root / "staging").run(
        [*args, "--output-dir", str(out), "--num-epochs", "3", "--save-interval-steps", "4"]
    )
    return args, out, summary_of(completed), completed


def test_two_processes_train_and_the_loss_goes_down(reference_run, fragment_dataset):
    _, out, summary, completed = reference_run
    assert summary["world_size"] == 2
    assert summary["steps"] == summary["total_steps"] == 3 * STEPS_PER_EPOCH
    assert summary["epochs"] == 3 and summary["samples"] == 3 * STEPS_PER_EPOCH * 8
    metrics = metrics_of(out)
    assert [m["step"] for m in metrics] == list(range(1, 3 * STEPS_PER_EPOCH + 1))
    assert all(set(m) == METRIC_FIELDS for m in metrics)
    assert [m["epoch"] for m in metrics[::STEPS_PER_EPOCH]] == [1, 2, 3]
    first = sum(m["loss"] for m in metrics[:8]) / 8
    last = sum(m["loss"] for m in metrics[-8:]) / 8
    assert last < first - 2.0, (first, last)
    assert metrics[-1]["masked_lm_loss"] < metrics[0]["masked_lm_loss"] - 1.0
    assert metrics[0]["lr"] == 0.0 and max(m["lr"] for m in metrics) == pytest.approx(0.005)
    assert summary["loss"] == pytest.approx(metrics[-1]["loss"], abs=1e-3)
    assert completed.stderr.count("checkpoint ") >= 1  # progress of the first process only
    assert "rank 1" not in completed.stderr.replace("rank 1 of 2", "")


def test_the_output_dir(reference_run, fragment_dataset, roberta_tiny_base):
    _, out, _, _ = reference_run
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["kind"] == "pretraining_run"
    assert metadata["model_config"]["bert_model_name"] == roberta_tiny_base
    assert metadata["model_config"]["entity_emb_size"] == 256
    assert metadata["max_seq_length"] == 128 and metadata["max_mention_length"] == 30
    assert metadata["deepspeed_config"]["gradient_accumulation_steps"] == 2
    assert metadata["deepspeed_config"]["scheduler"]["params"]["total_num_steps"] == 39
    assert metadata["options"]["save_interval_steps"] == 4
    dataset = Path(fragment_dataset)
    assert (out / "entity_vocab.jsonl").read_bytes() == (
        dataset / "entity_vocab.jsonl"
    ).read_bytes()
    assert (out / "tokenizer" / "vocab.json").is_file()
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    tags = sorted(p.name for p in out.iterdir() if (p / "checkpoint.json").is_file())
    steps = [f"step{s:07d}" for s in range(4, 40, 4)]
    assert tags == sorted(["epoch1", "epoch2", "epoch3", *steps])
    assert (out / "latest").read_text() == "epoch3"
    marker = json.loads((out / "epoch2" / "checkpoint.json").read_text())
    assert (marker["step"], marker["epoch"], marker["samples"]) == (26, 2, 208)
    state = model_states(out / "step0000008")
    assert state["luke"]["step"] == 8 and state["luke"]["data"]["position"] == 16
    assert state["global_steps"] == 8


def test_tensorboard_scalars(reference_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, out, _, _ = reference_run
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {
        "train/loss",
        "train/masked_lm_accuracy",
        "train/masked_entity_loss",
        "train/lr",
    } <= tags
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == list(range(1, 40))
    assert losses[-1].value == pytest.approx(metrics_of(out)[-1]["loss"], rel=1e-6)


def test_inspect_lists_checkpoints_and_metrics(reference_run):
    _, out, _, _ = reference_run
    shown = subprocess.run(
        [sys.executable, "-m", "luke_core", "inspect", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    described = json.loads(shown.stdout)
    assert described["kind"] == "pretraining_run"
    assert described["latest"] == "epoch3"
    assert described["checkpoints"][0] == {
        "tag": "step0000004",
        "complete": True,
        "step": 4,
        "epoch": 0,
        "saved_at": described["checkpoints"][0]["saved_at"],
    }
    assert all(c["complete"] for c in described["checkpoints"])
    assert described["last_metrics"] == metrics_of(out)[-1]
    assert described["model"]["hidden_size"] == 32


def test_a_killed_run_resumes_with_the_same_losses(reference_run, runner, tmp_path):
    """SIGKILL to the whole job once a checkpoint is complete (as when a pod dies), then
    the same command again: it resumes by itself and repeats the uninterrupted run."""
    args, reference, _, _ = reference_run
    out = tmp_path / "run"
    command = [*args, "--output-dir", str(out), "--num-epochs", "3", "--save-interval-steps", "4"]
    job = runner.start(command)
    try:
        deadline = time.monotonic() + 300
        while not (out / "step0000008" / "checkpoint.json").exists():
            assert job.poll() is None, job.communicate()[1][-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        kill_job(job)
    killed_at = max(m["step"] for m in metrics_of(out))
    assert killed_at < 3 * STEPS_PER_EPOCH, "the job ended before it could be killed"

    summary = summary_of(runner.run(command))
    assert summary["resumed_from"].startswith(str(out))
    assert summary["steps"] == 3 * STEPS_PER_EPOCH
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["resumed_from"] is None  # the run still began from the base model
    assert metadata["restarted_at"] >= metadata["started_at"]
    resumed = metrics_of(out)
    assert [m["step"] for m in resumed] == list(range(1, 3 * STEPS_PER_EPOCH + 1))
    expected = [m["loss"] for m in metrics_of(reference)]
    assert [m["loss"] for m in resumed] == expected
    ours = model_states(out / "epoch3")["module"]
    theirs = model_states(reference / "epoch3")["module"]
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_stage_1_then_stage_2(fragment_dataset, roberta_tiny_base, test_config, runner, tmp_path):
    from safetensors.torch import load_file

    args = common_args(fragment_dataset, roberta_tiny_base, test_config)
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    summary_of(
        runner.run(
            [
                *args,
                "--output-dir",
                str(stage1),
                "--num-epochs",
                "1",
                "--fix-bert-weights",
                "--save-interval-steps",
                "4",
            ]
        )
    )
    trained = model_states(stage1 / "epoch1")["module"]
    early = model_states(stage1 / "step0000004")["module"]
    changed = {key for key in trained if not torch.equal(trained[key], early[key])}
    assert changed == {
        key for key in trained if key.startswith(("luke.entity_embeddings.", "entity_predictions."))
    }
    base = load_file(str(Path(roberta_tiny_base) / "model.safetensors"))
    for key, value in base.items():  # the base model's weights are untouched by stage 1
        ours = "luke." + key.removeprefix("roberta.") if key.startswith("roberta.") else key
        assert torch.equal(trained[ours], value), key
    entity_table = trained["luke.entity_embeddings.entity_embeddings.weight"]

    summary = summary_of(
        runner.run(
            [
                *args,
                "--output-dir",
                str(stage2),
                "--num-epochs",
                "1",
                "--save-interval-steps",
                "1",
                "--resume-checkpoint-id",
                str(stage1),
                "--reset-optimization-states",
            ]
        )
    )
    assert summary["resumed_from"] == str(stage1 / "epoch1")
    assert summary["steps"] == STEPS_PER_EPOCH  # the step count starts anew
    metrics = metrics_of(stage2)
    assert metrics[0]["step"] == 1 and metrics[0]["lr"] == 0.0  # the schedule restarts
    first = model_states(stage2 / "step0000001")
    # step 1 runs at learning rate 0: the weights are stage 1's exactly
    assert all(torch.equal(first["module"][k], trained[k]) for k in trained)
    adam_steps = {float(s["step"]) for s in first["optimizer"]["state"].values()}
    assert adam_steps == {1.0}  # fresh optimizer state
    last = model_states(stage2 / "epoch1")["module"]
    assert not torch.equal(
        last["luke.encoder.layer.0.attention.self.query.weight"],
        trained["luke.encoder.layer.0.attention.self.query.weight"],
    )
    assert not torch.equal(last["luke.entity_embeddings.entity_embeddings.weight"], entity_table)


def test_checkpoints_and_logs_on_s3(
    s3, fragment_dataset, roberta_tiny_base, test_config, runner, tmp_path
):
    storage.upload_dir(fragment_dataset, f"{s3}/data/enwiki")
    out, logs = f"{s3}/runs/stage2", f"{s3}/tensorboard/stage2"
    args = common_args(f"{s3}/data/*", roberta_tiny_base, test_config)
    args += ["--output-dir", out, "--log-dir", logs, "--save-interval-steps", "5"]
    first = summary_of(runner.run([*args, "--num-epochs", "1"]))
    assert first["last_checkpoint"] == f"{out}/epoch1"
    assert storage.read_text(f"{out}/latest") == "epoch1"
    assert storage.is_file(f"{out}/epoch1/mp_rank_00_model_states.pt")
    assert storage.is_file(f"{out}/step0000010/checkpoint.json")

    # the same job started again (a pod restart) continues from S3 for another epoch
    second = summary_of(runner.run([*args, "--num-epochs", "2"]))
    assert second["resumed_from"] == f"{out}/epoch1"
    assert second["steps"] == 2 * STEPS_PER_EPOCH
    lines = [json.loads(line) for line in storage.read_text(f"{out}/metrics.jsonl").splitlines()]
    assert [m["step"] for m in lines] == list(range(1, 2 * STEPS_PER_EPOCH + 1))
    assert all(storage.basename(u).startswith("events.out") for u in storage.list_files(logs))
    assert len(storage.list_files(logs)) == 2  # one event file per start of the job
    metadata = storage.read_json(f"{out}/metadata.json")
    assert metadata["kind"] == "pretraining_run" and metadata["resumed_from"] is None
    # uploads and the download of the resumed checkpoint leave no local copies behind
    assert list((tmp_path / "staging").rglob("mp_rank_*")) == []


@pytest.mark.parametrize("case", ["config", "checkpoint"])
def test_bad_input_stops_every_process(case, synthetic_dataset, tiny_base_dir, runner, tmp_path):
    args = [
        "--dataset-dir",
        synthetic_dataset,
        "--bert-model-name",
        tiny_base_dir,
        "--output-dir",
        str(tmp_path / "out"),
        "--num-workers",
        "0",
    ]
    if case == "config":
        config = tmp_path / "ds.json"
        config.write_text(
            json.dumps(
                {
                    "train_batch_size": 8,
                    "train_micro_batch_size_per_gpu": 3,
                    "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
                }
            )
        )
        args += ["--deepspeed-config-file", str(config)]
        message = f"error: {config}: train_batch_size 8 != train_micro_batch_size_per_gpu 3"
    else:
        args += ["--deepspeed-config-file", "tiny-cpu", "--resume-checkpoint-id", "epoch4"]
        message = "error: --resume-checkpoint-id epoch4: no such checkpoint"
    # each process finds the problem itself before any collective, so none waits for a
    # peer until a timeout (the runner's timeout fails the test if one did); torchrun may
    # stop the second process once the first has failed, before it prints its message
    completed = runner.run(args, timeout=300)
    assert completed.returncode != 0
    assert 1 <= completed.stderr.count(message) <= 2
    assert not (tmp_path / "out").exists()
