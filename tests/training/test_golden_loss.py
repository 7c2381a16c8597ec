"""The golden loss curve of the tiny preset on CPU: one process, a synthetic dataset, fixed
seeds, deterministic algorithms. Any change to the model, its initialisation, the optimizer
set-up, the data order or the masking moves the curve; when such a change is meant,
regenerate the curve with LUKE_UPDATE_GOLDEN=1 and review the difference in the commit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from luke_testing.pretrain_runs import metrics_of, summary_of

pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "golden_loss_tiny_cpu.json"


def test_golden_loss_curve(synthetic_dataset, tiny_base_dir, test_config, runner, tmp_path):
    out = tmp_path / "run"
    args = [
        "--dataset-dir", synthetic_dataset, "--bert-model-name", tiny_base_dir,
        "--deepspeed-config-file", test_config, "--output-dir", str(out), "--num-epochs", "2",
        "--log-interval-steps", "1", "--save-interval-steps", "0", "--num-workers", "0",
        "--seed", "3", "--deterministic", "--no-progress",
    ]  # fmt: skip
    summary_of(runner.run(args, processes=1))
    curve = [
        {k: m[k] for k in ("step", "loss", "masked_lm_loss", "masked_entity_loss", "lr")}
        for m in metrics_of(out)
    ]
    if os.environ.get("LUKE_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(curve, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert [c["step"] for c in curve] == [g["step"] for g in golden]
    for ours, expected in zip(curve, golden, strict=True):
        for key in ("loss", "masked_lm_loss", "masked_entity_loss", "lr"):
            # other CPUs may round differently (vector widths): a tolerance, not equality
            assert ours[key] == pytest.approx(expected[key], rel=1e-3, abs=1e-6), (ours, key)
