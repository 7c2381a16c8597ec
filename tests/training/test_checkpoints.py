"""Checkpoint folders: only complete ones (with their marker) are found and resumed from,
locally and on S3; `--resume-checkpoint-id` takes a tag, a folder or a run folder.

The saving protocol runs here with a stand-in engine that writes files the way DeepSpeed's
`save_checkpoint` does (the real DeepSpeed save and load run in test_pretrain_runs.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from luke_core import storage
from luke_core.errors import LukeError
from luke_core.training.checkpoints import (
    LATEST_FILE,
    MARKER_FILE,
    CheckpointInfo,
    CheckpointStore,
    checkpoint_tags,
    epoch_tag,
    latest_complete,
    list_checkpoints,
    resolve_checkpoint,
    step_tag,
)
from luke_core.training.distributed import DistributedEnv

MAIN = DistributedEnv(rank=0, world_size=1, local_rank=0, local_world_size=1)


def marker(tag: str, step: int, epoch: int = 0, **extra) -> CheckpointInfo:
    return CheckpointInfo(
        tag=tag,
        step=step,
        epoch=epoch,
        samples=step * 8,
        model_config={"m": 1},
        fix_bert_weights=False,
        world_size=2,
        saved_at="2026-01-01T00:00:00Z",
        **extra,
    )


def write_checkpoint(run: str, tag: str, step: int, *, complete: bool = True, epoch: int = 0):
    storage.write_bytes(storage.join(run, tag, "mp_rank_00_model_states.pt"), b"weights")
    if complete:
        storage.write_json(storage.join(run, tag, MARKER_FILE), marker(tag, step, epoch).to_json())


class FileWritingEngine:
    """Writes a model file where DeepSpeed would; `fail` interrupts the save midway."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.saved = []

    def save_checkpoint(self, save_dir, tag, client_state, save_latest):
        assert save_latest is False  # `latest` is ours: written only after the marker
        os.makedirs(os.path.join(save_dir, tag), exist_ok=True)
        with open(os.path.join(save_dir, tag, "mp_rank_00_model_states.pt"), "wb") as f:
            f.write(b"w" * 100)
        if self.fail:
            raise RuntimeError("disk full")
        self.saved.append((save_dir, tag, client_state))


def test_tags():
    assert step_tag(1500) == "step0001500"
    assert epoch_tag(3) == "epoch3"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_only_complete_checkpoints_count(where, tmp_path, request):
    run = str(tmp_path / "run") if where == "local" else request.getfixturevalue("s3") + "/run"
    write_checkpoint(run, "step0000010", 10)
    write_checkpoint(run, "epoch1", 13, epoch=1)
    write_checkpoint(run, "step0000020", 20, complete=False)  # a save that was cut short
    storage.write_text(storage.join(run, "metrics.jsonl"), "")
    assert checkpoint_tags(run) == ["epoch1", "step0000010", "step0000020"]
    latest = latest_complete(run)
    assert (latest.tag, latest.step, latest.epoch) == ("epoch1", 13, 1)
    assert latest.uri == storage.join(run, "epoch1")
    listed = [(tag, info is not None) for tag, info in list_checkpoints(run)]
    assert listed == [("step0000010", True), ("epoch1", True), ("step0000020", False)]


def test_epoch_end_wins_a_tie(tmp_path):
    run = str(tmp_path)
    write_checkpoint(run, "step0000026", 26, epoch=1)
    write_checkpoint(run, "epoch2", 26, epoch=2)
    assert latest_complete(run).tag == "epoch2"


def test_no_checkpoint(tmp_path):
    assert latest_complete(str(tmp_path / "nothing")) is None
    assert latest_complete(str(tmp_path)) is None


@pytest.mark.parametrize("where", ["local", "s3"])
def test_resume_checkpoint_id(where, tmp_path, request):
    root = str(tmp_path) if where == "local" else request.getfixturevalue("s3")
    stage1, out = storage.join(root, "stage1"), storage.join(root, "stage2")
    write_checkpoint(stage1, "step0000010", 10)
    write_checkpoint(stage1, "epoch1", 13, epoch=1)
    write_checkpoint(out, "step0000004", 4)
    assert resolve_checkpoint("step0000004", out).uri == storage.join(out, "step0000004")
    assert resolve_checkpoint(storage.join(stage1, "step0000010"), out).step == 10
    assert resolve_checkpoint(stage1, out).tag == "epoch1"  # a run folder: its latest
    states = storage.join(stage1, "epoch1", "mp_rank_00_model_states.pt")
    assert resolve_checkpoint(states, out).uri == storage.join(stage1, "epoch1")  # its folder
    with pytest.raises(LukeError, match="no such checkpoint"):
        resolve_checkpoint("epoch7", out)
    with pytest.raises(LukeError, match="no such checkpoint"):
        resolve_checkpoint(storage.join(root, "elsewhere"), out)
    write_checkpoint(stage1, "step0000020", 20, complete=False)
    with pytest.raises(LukeError, match="not a complete checkpoint"):
        resolve_checkpoint(storage.join(stage1, "step0000020"), out)
    empty = storage.join(root, "empty-run")
    write_checkpoint(empty, "step0000001", 1, complete=False)
    with pytest.raises(LukeError, match="without a complete checkpoint"):
        resolve_checkpoint(empty, out)


def test_a_copied_checkpoint_loads_under_its_own_folder_name(tmp_path):
    write_checkpoint(str(tmp_path / "run"), "epoch1", 13, epoch=1)
    kept = tmp_path / "kept" / "stage1-final"
    shutil.copytree(tmp_path / "run" / "epoch1", kept)
    info = resolve_checkpoint(str(kept), str(tmp_path / "out"))
    assert info.tag == "epoch1"  # the marker keeps the tag it was saved under

    class LoadingEngine:
        def load_checkpoint(self, load_dir, tag, **options):
            self.loaded = (load_dir, tag)
            return os.path.join(load_dir, tag), {"step": 13}

    engine = LoadingEngine()
    store = CheckpointStore(str(tmp_path / "out"), MAIN)
    assert store.load(engine, info, weights_only=True) == {"step": 13}
    assert engine.loaded == (str(tmp_path / "kept"), "stage1-final")


def test_marker_is_checked(tmp_path):
    storage.write_json(str(tmp_path / "step0000001" / MARKER_FILE), {"kind": "other"})
    with pytest.raises(LukeError, match="not a checkpoint marker"):
        latest_complete(str(tmp_path))


@pytest.mark.parametrize("where", ["local", "s3"])
def test_save_publishes_marker_then_latest(where, tmp_path, request, monkeypatch):
    monkeypatch.setenv("LUKE_CHECKPOINT_STAGING", str(tmp_path / "staging"))
    run = str(tmp_path / "run") if where == "local" else request.getfixturevalue("s3") + "/run"
    store = CheckpointStore(run, MAIN)
    engine = FileWritingEngine()
    saved = store.save(engine, marker("step0000005", 5), {"luke": {"step": 5}})
    assert saved.uri == storage.join(run, "step0000005") and saved.saved_at
    assert storage.read_text(storage.join(run, LATEST_FILE)) == "step0000005"
    assert storage.is_file(storage.join(run, "step0000005", "mp_rank_00_model_states.pt"))
    assert latest_complete(run).step == 5
    assert engine.saved[0][2] == {"luke": {"step": 5}}
    if where == "s3":  # written locally first, uploaded, and the local copy dropped
        assert engine.saved[0][0] == store.local_root != run
        assert not os.path.exists(os.path.join(store.local_root, "step0000005"))

    # a save that dies midway leaves the previous state: no marker, `latest` unchanged
    with pytest.raises(RuntimeError):
        store.save(FileWritingEngine(fail=True), marker("step0000010", 10), {})
    assert latest_complete(run).step == 5
    assert storage.read_text(storage.join(run, LATEST_FILE)) == "step0000005"
    assert not storage.is_file(storage.join(run, "step0000010", MARKER_FILE))


def test_saving_a_tag_again_replaces_the_old_folder(tmp_path):
    run = str(tmp_path / "run")
    write_checkpoint(run, "step0000005", 5)
    storage.write_bytes(storage.join(run, "step0000005", "stale-file"), b"x")
    CheckpointStore(run, MAIN).save(FileWritingEngine(), marker("step0000005", 5), {})
    assert sorted(os.listdir(storage.join(run, "step0000005"))) == [
        MARKER_FILE,
        "mp_rank_00_model_states.pt",
    ]
