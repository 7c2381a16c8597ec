"""From a real `luke pretrain` run (torchrun, DeepSpeed on CPU) to transformers: the run's
checkpoints export, and the exported model computes what the checkpoint computes on a
batch of the run's own data loader."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from luke_core.export.convert import ExportOptions, export_huggingface
from luke_core.launch import TrainingJobSpec, torchrun_command
from luke_core.model import MODEL_INPUTS, LukeForPretraining, LukeModelConfig
from luke_testing.export_checks import hf_outputs, load_masked_lm, our_logits
from luke_testing.tiny_model import save_tiny_base_model, write_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory, tiny_tokenizer_dir) -> str:
    """Two epochs of the tiny model over 32 synthetic sequences: 8 optimizer steps,
    a checkpoint every 3 steps and at each epoch's end."""
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("pretrain")
    size = len(AutoTokenizer.from_pretrained(tiny_tokenizer_dir))
    base = save_tiny_base_model(str(root / "base"), tokenizer_dir=tiny_tokenizer_dir,
                                vocab_size=size, max_seq_length=64)  # fmt: skip
    dataset = write_synthetic_dataset(str(root / "dataset"), tiny_tokenizer_dir, count=32)
    run = str(root / "run")
    args = ["--dataset-dir", dataset, "--output-dir", run, "--deepspeed-config-file", "tiny-cpu",
            "--bert-model-name", base, "--entity-emb-size", "16", "--num-epochs", "2",
            "--save-interval-steps", "3", "--log-interval-steps", "1", "--num-workers", "0",
            "--no-progress"]  # fmt: skip
    spec = TrainingJobSpec(name="export-test", pretrain_args=tuple(args), procs_per_node=1)
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "PYTHONPATH": str(REPO)}
    shm_before = set(glob.glob("/dev/shm/deepspeed_*"))
    try:
        done = subprocess.run(
            torchrun_command(spec, python=sys.executable, standalone=True),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:  # DeepSpeed's shared-memory buffers of this run (as the clean_deepspeed_shm fixture)
        for path in set(glob.glob("/dev/shm/deepspeed_*")) - shm_before:
            with contextlib.suppress(OSError):
                os.remove(path)
    assert done.returncode == 0, done.stderr[-4000:]
    return run


def checkpoint_model(checkpoint: str) -> LukeForPretraining:
    info = json.load(open(os.path.join(checkpoint, "checkpoint.json")))
    model = LukeForPretraining.from_config(LukeModelConfig.from_json(info["model_config"], "t"))
    states = torch.load(os.path.join(checkpoint, "mp_rank_00_model_states.pt"), weights_only=True)
    model.load_state_dict(states["module"])
    return model.eval()


def loader_batch(run: str) -> dict[str, torch.Tensor]:
    from luke_core.dataset.loading.loader import PretrainingLoader

    dataset = json.load(open(os.path.join(run, "metadata.json")))["datasets"][0]["uri"]
    loader = PretrainingLoader([dataset], batch_size=4, seed=3)
    batch = next(iter(loader))
    return {k: batch[k] for k in MODEL_INPUTS if not k.startswith("masked_")}


def test_a_real_run_exports_with_parity(pretrained_run, tmp_path):
    out = str(tmp_path / "model")
    summary = export_huggingface(pretrained_run, out, ExportOptions(progress=False))
    assert summary.checkpoint == os.path.join(pretrained_run, "epoch2")
    assert summary.step == 8 and summary.epoch == 2
    ours = checkpoint_model(summary.checkpoint)
    model = load_masked_lm(out, use_entity_aware_attention=False)
    batch = loader_batch(pretrained_run)
    words, entities = our_logits(ours, batch)
    out_hf = hf_outputs(model, batch)
    vocab, table = words.shape[-1], entities.shape[-1]
    real = batch["word_attention_mask"].bool()
    assert (out_hf.logits[..., :vocab] - words)[real].abs().max() < 1e-5
    real = batch["entity_attention_mask"].bool()
    assert (out_hf.entity_logits[..., :table] - entities)[real].abs().max() < 1e-5
    card = open(os.path.join(out, "README.md")).read()
    last = [json.loads(line) for line in open(os.path.join(pretrained_run, "metrics.jsonl"))][-1]
    assert last["step"] == 8 and "metrics at step 8 " in card


def test_a_tag_of_the_run(pretrained_run, tmp_path):
    out = str(tmp_path / "step3")
    options = ExportOptions(run_dir=pretrained_run, progress=False)
    summary = export_huggingface("step0000003", out, options)
    assert summary.step == 3
    ours = checkpoint_model(os.path.join(pretrained_run, "step0000003"))
    batch = loader_batch(pretrained_run)
    words, _ = our_logits(ours, batch)
    got = hf_outputs(load_masked_lm(out), batch).logits[..., : words.shape[-1]]
    real = batch["word_attention_mask"].bool()
    assert (got - words)[real].abs().max() < 1e-5
