"""How a training stage is started: the launcher interface and the local launcher.

A stage is `luke pretrain ARGS` run as one process per device under torchrun. Where the
processes run is the launcher's business: `LocalLauncher` starts torchrun on this machine
(the demo, tests, kfp.local); the PyTorchJob launcher (in `pipelines/`, since luke_core
imports nothing of Kubernetes) builds a Kubeflow PyTorchJob running the same command.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from luke_core.errors import LukeError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainingJobSpec:
    """One training stage, independent of where it runs."""

    name: str
    """Stage name, e.g. `stage1`; part of job names and labels."""
    pretrain_args: tuple[str, ...]
    """Arguments of `luke pretrain` (everything after the subcommand)."""
    num_nodes: int = 1
    procs_per_node: int = 1
    """Processes per node: one per GPU, or CPU processes (gloo) without GPUs."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment (never secrets: those come from the environment or Secrets)."""
    run_id: str = ""
    """The pipeline run this stage belongs to (labels, job names)."""

    def __post_init__(self) -> None:
        if self.num_nodes < 1 or self.procs_per_node < 1:
            raise LukeError(
                f"training stage {self.name}: nodes and processes per node must be >= 1"
            )


def torchrun_command(
    spec: TrainingJobSpec, *, python: str = "python", standalone: bool = False
) -> list[str]:
    """The command every node runs. Without `standalone`, the caller adds the rendezvous
    (torchrun reads only `PET_*` variables by itself; the PyTorchJob builder passes the
    operator's MASTER_ADDR, MASTER_PORT and RANK as `--master-addr`, `--master-port`,
    `--node-rank`)."""
    command = [python, "-m", "torch.distributed.run"]
    if standalone:
        command.append("--standalone")
    command += [f"--nnodes={spec.num_nodes}", f"--nproc-per-node={spec.procs_per_node}"]
    return [*command, "-m", "luke_core", "pretrain", *spec.pretrain_args]


@dataclass(frozen=True)
class LaunchResult:
    succeeded: bool
    detail: str = ""


class Launcher(Protocol):
    def run(self, spec: TrainingJobSpec) -> LaunchResult:
        """Run the stage to its end; return (never raise) how it ended."""
        ...


class LocalLauncher:
    """torchrun on this machine, one node, `procs_per_node` processes."""

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def run(self, spec: TrainingJobSpec) -> LaunchResult:
        if spec.num_nodes != 1:
            raise LukeError(f"training stage {spec.name}: the local launcher runs one node")
        command = torchrun_command(spec, python=self.python, standalone=True)
        logger.info("launching %s: %s", spec.name, " ".join(command))
        env = {**os.environ, **spec.env}
        completed = subprocess.run(command, env=env, check=False)
        if completed.returncode != 0:
            return LaunchResult(False, f"torchrun exited with status {completed.returncode}")
        return LaunchResult(True)


def pretrain_arguments(dataset_dirs: list[str], output_dir: str, options) -> tuple[str, ...]:
    """The `luke pretrain` arguments that reproduce `PretrainOptions` `options` (flags for
    booleans, `--no-progress` / `--subword-masking` for the negative forms)."""
    import dataclasses

    args = [arg for d in dataset_dirs for arg in ("--dataset-dir", d)]
    args += ["--output-dir", output_dir]
    negatives = {"whole_word_masking": "--subword-masking", "progress": "--no-progress"}
    for field_ in dataclasses.fields(options):
        value = getattr(options, field_.name)
        flag = "--" + field_.name.replace("_", "-")
        if isinstance(value, bool):
            if not value and field_.name in negatives:
                args.append(negatives[field_.name])
            elif value and field_.name not in negatives:
                args.append(flag)
        elif value is not None:
            args += [flag, str(value)]
        elif field_.name == "save_interval_steps":
            args += [flag, "0"]  # the CLI's "only at the end of each epoch"
    return tuple(args)
