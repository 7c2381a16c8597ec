"""`luke-pipeline manifest`: the stage's PyTorchJob as YAML, from the same options dict the
pipeline passes, refined on the command line; bad input gets a message and exit status 1."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from luke_core.launch import TrainingJobSpec
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.pytorchjob import build_pytorchjob
from luke_testing.crd_schema import pytorchjob_errors
from pipelines.cli import luke_pipeline

ARGS = [
    "--dataset-dir",
    "s3://luke/ds",
    "--output-dir",
    "s3://luke/stage2",
    "--reset-optimization-states",
    "--resume-checkpoint-id",
    "s3://luke/stage1/latest",
]


def invoke(*args: str):
    return CliRunner().invoke(luke_pipeline, list(args))


def test_the_manifest_is_the_builders_job_for_those_options(tmp_path):
    options_file = tmp_path / "options.yaml"
    options_file.write_text("shm_size: 32Gi\ntolerations:\n  - {key: gpu, operator: Exists}\n")
    result = invoke(
        "manifest",
        "--stage",
        "stage2",
        "--run-id",
        "run-42",
        "--num-nodes",
        "4",
        "--procs-per-node",
        "8",
        "--options",
        str(options_file),
        "--set",
        "backoff_limit=5",
        "--set",
        "node_selector={pool: a100}",
        "--image",
        "reg.example/luke-training:9",
        "--env",
        "NCCL_DEBUG=INFO",
        "--",
        *ARGS,
    )

    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.stdout)
    options = PyTorchJobOptions(
        shm_size="32Gi",
        tolerations=({"key": "gpu", "operator": "Exists"},),
        backoff_limit=5,
        node_selector={"pool": "a100"},
        image="reg.example/luke-training:9",
    )
    spec = TrainingJobSpec(
        name="stage2",
        pretrain_args=tuple(ARGS),
        num_nodes=4,
        procs_per_node=8,
        env={"NCCL_DEBUG": "INFO"},
        run_id="run-42",
    )
    assert job == build_pytorchjob(spec, options)
    assert pytorchjob_errors(job) == []
    name = job["metadata"]["name"]
    assert f"kubectl logs -f {name}-master-0" in result.stdout
    assert f"kubectl delete pytorchjob {name}" in result.stdout


def test_output_to_a_file(tmp_path):
    out = tmp_path / "job.yaml"
    result = invoke("manifest", "--stage", "stage1", "-o", str(out), "--", *ARGS)
    assert result.exit_code == 0 and result.stdout == ""
    assert yaml.safe_load(out.read_text())["kind"] == "PyTorchJob"
    assert [p.name for p in tmp_path.iterdir()] == ["job.yaml"]  # nothing half-written beside


def test_bad_input_is_reported_with_exit_status_1(tmp_path):
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("gpus: 8\n")
    not_a_mapping = tmp_path / "list.yaml"
    not_a_mapping.write_text("- a\n")
    cases = [
        (["--options", str(unknown)], "unknown gpus"),
        (["--options", str(not_a_mapping)], "must be a mapping"),
        (["--options", str(tmp_path / "missing.yaml")], "cannot read the options"),
        (["--set", "use_gpus"], "expected KEY=VALUE"),
        (["--set", "memory_limit=1Gi"], "memory_request 64Gi is above memory_limit 1Gi"),
        (["--env", "NOVALUE"], "expected NAME=VALUE"),
        (["--env", "RANK=3"], "env may not set RANK"),
    ]
    for extra, message in cases:
        result = invoke("manifest", "--stage", "stage1", *extra, "--", *ARGS)
        assert result.exit_code == 1, (extra, result.output)
        assert "error: " in result.stderr and message in result.stderr, (extra, result.stderr)
    assert invoke("manifest", "--stage", "stage1", "--num-nodes", "0").exit_code == 2  # usage
    # a job without its dataset or output would fail only once its pods run
    for args in ([], ["--dataset-dir=s3://luke/ds"]):
        result = invoke("manifest", "--stage", "stage1", "--", *args)
        assert result.exit_code == 2 and "--output-dir" in result.stderr, result.stderr


def test_the_console_script_is_installed():
    script = shutil.which("luke-pipeline") or str(
        Path(__file__).parents[2] / ".venv/bin/luke-pipeline"
    )
    done = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "manifest" in done.stdout


def test_light_modules_import_neither_kubernetes_nor_kfp():
    """The build script, the training pods and `luke-pipeline --help` must not need them."""
    code = (
        "import sys, luke_k8s.images, luke_k8s.torchrun_node, luke_k8s.pytorchjob, "
        "pipelines.cli; heavy = {'kubernetes', 'kfp', 'torch'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
