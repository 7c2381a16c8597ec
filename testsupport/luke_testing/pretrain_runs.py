"""Running `luke pretrain` the way a launcher does, for tests and benchmarks: torchrun with
N CPU processes in a subprocess, and reading what a run printed and logged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import luke_core
from luke_core.launch import TrainingJobSpec, torchrun_command

SOURCE_ROOT = str(Path(luke_core.__file__).resolve().parents[1])

FAST_TINY_CONFIG = {
    "train_batch_size": 8,
    "train_micro_batch_size_per_gpu": 2,
    "optimizer": {
        "type": "AdamW",
        "params": {
            "lr": 0.005,
            "betas": [0.9, 0.999],
            "eps": 1e-6,
            "weight_decay": 0.01,
            "torch_adam": True,
        },
    },
    "scheduler": {
        "type": "WarmupDecayLR",
        "params": {
            "warmup_min_lr": 0,
            "warmup_max_lr": 0.005,
            "warmup_num_steps": 5,
            "warmup_type": "linear",
            "total_num_steps": "auto",
        },
    },
    "gradient_clipping": 1.0,
    "steps_per_print": 1000000,
}
"""tiny-cpu with a learning rate that moves a tiny model within a few epochs (tests)."""


class PretrainRunner:
    """Runs `luke pretrain ARGS` under torchrun (the command a launcher runs) with this
    process's environment (an S3 endpoint and credentials included) and S3 checkpoints
    staged in `staging`."""

    def __init__(self, staging: Path):
        self.staging = staging

    def command(self, args: list[str], processes: int = 2) -> list[str]:
        spec = TrainingJobSpec(name="test", pretrain_args=tuple(args), procs_per_node=processes)
        return torchrun_command(spec, python=sys.executable, standalone=True)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "LUKE_CHECKPOINT_STAGING": str(self.staging)}
        env["PYTHONPATH"] = SOURCE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def run(self, args: list[str], processes: int = 2, timeout: float = 600):
        return subprocess.run(
            self.command(args, processes),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, args: list[str], processes: int = 2) -> subprocess.Popen:
        return subprocess.Popen(
            self.command(args, processes),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def summary_of(completed) -> dict:
    """The JSON summary the first process prints on stdout."""
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout)


def metrics_of(output_dir) -> list[dict]:
    text = Path(output_dir, "metrics.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]
