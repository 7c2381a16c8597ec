"""PyTorchJobLauncher against a local HTTP server that speaks the Kubernetes API subset it
uses (testsupport/luke_testing/kube_fake.py), through the real kubernetes client: a job
that succeeds, one that fails, one that never starts, a cancelled step, restarts, a deadline,
a job left by an earlier attempt. In every case the job must be deleted at the end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from luke_core.errors import LukeError
from luke_core.launch import TrainingJobSpec
from luke_k8s import pytorchjob as pj
from luke_k8s.context import OwnerPod
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.job_status import OPERATOR_HINT
from luke_k8s.launcher import PyTorchJobLauncher
from luke_testing.kube_fake import PodState, Scenario, Snapshot, condition, query_bool

NS = "luke-test"
SPEC = TrainingJobSpec(
    name="stage1",
    pretrain_args=("--dataset-dir", "s3://b/ds", "--output-dir", "s3://b/out"),
    num_nodes=2,
    procs_per_node=2,
    run_id="run-0001",
)
JOB = pj.job_name(SPEC)
MASTER, WORKER = f"{JOB}-master-0", f"{JOB}-worker-0"


def launcher(fake, **kwargs) -> tuple[PyTorchJobLauncher, list[str]]:
    lines: list[str] = []
    settings = {
        "poll_interval_s": 0.05,
        "start_timeout_s": 5.0,
        "owner": None,
        "log_sink": lines.append,
        "handle_sigterm": False,
        **kwargs,
    }
    built = PyTorchJobLauncher(
        PyTorchJobOptions(namespace=NS, image="registry.test/luke-training:1"),
        api_client=fake.api_client(),
        **settings,
    )
    return built, lines


def running(t_end: float | None = None, worker_exit: int | None = None) -> Snapshot:
    worker = PodState("Failed", exit_code=worker_exit) if worker_exit else PodState("Running")
    return Snapshot(
        conditions=[condition("Created"), condition("Running")],
        pods={"master-0": PodState("Running"), "worker-0": worker},
    )


def succeeded() -> Snapshot:
    return Snapshot(
        conditions=[condition("Created"), condition("Succeeded")],
        pods={
            "master-0": PodState("Succeeded", exit_code=0),
            "worker-0": PodState("Succeeded", exit_code=0),
        },
    )


MASTER_LOG = [(0.1, f"step {i} loss {5 - i * 0.5:.1f}") for i in range(6)] + [
    (0.1, "same stamp")
] * 2


def succeeding_scenario(drop_after: int | None = None) -> Scenario:
    def at(t: float) -> Snapshot:
        if t < 0.05:
            return Snapshot(
                [condition("Created")], {"master-0": PodState(), "worker-0": PodState()}
            )
        return running() if t < 0.6 else succeeded()

    log = [(0.1 + i * 0.04, text) for i, (_, text) in enumerate(MASTER_LOG[:6])] + MASTER_LOG[6:]
    log = [(at, text) for at, text in log]
    # the last two lines share a timestamp, as lines of one write do
    log[-2:] = [(0.4, "same stamp"), (0.4, "same stamp")]
    return Scenario(at=at, logs={"master-0": log}, drop_first_stream_after=drop_after)


def test_a_job_that_succeeds_is_created_followed_and_deleted(fake_kube):
    fake = fake_kube(succeeding_scenario())
    built, lines = launcher(fake)

    result = built.run(SPEC)

    assert result.succeeded, result.detail
    assert f"{NS}/{JOB} succeeded" in result.detail
    # what was created is the builder's job, in the namespace, and nothing else
    (created,) = fake.created
    expected = pj.build_pytorchjob(SPEC, built.options)
    expected["metadata"]["namespace"] = NS
    for generated in ("uid", "creationTimestamp"):
        created["metadata"].pop(generated)
    assert created == expected
    # the master's log reached the step's log, in order, each line once
    assert lines == [text for _, text in succeeding_scenario().logs["master-0"]]
    assert fake.deleted == [(NS, JOB, "Background")]


def test_a_dropped_log_stream_is_resumed_without_repeating_lines(fake_kube):
    fake = fake_kube(succeeding_scenario(drop_after=3))
    built, lines = launcher(fake)

    assert built.run(SPEC).succeeded
    assert lines == [text for _, text in succeeding_scenario().logs["master-0"]]
    follows = [q for p, q in fake.requests_of("GET", f"{MASTER}/log") if query_bool(q, "follow")]
    # the reconnect asked only for the recent part of the log
    assert any("sinceSeconds" in query for query in follows)
    assert fake.deleted == [(NS, JOB, "Background")]


def failing_scenario() -> Scenario:
    message = f"PyTorchJob {JOB} is failed because 1 Worker replica(s) failed."

    def at(t: float) -> Snapshot:
        if t < 0.3:
            return running()
        snapshot = running(worker_exit=1)
        snapshot.conditions = [
            condition("Created"),
            condition("Failed", message, "PyTorchJobFailed"),
        ]
        return snapshot

    worker_log = [(0.2, "Traceback (most recent call last):"), (0.25, "ValueError: bad config")]
    master_log = [(0.1, "rendezvous complete"), (0.2, "step 1 loss 9.0")]
    return Scenario(at=at, logs={"master-0": master_log, "worker-0": worker_log})


def test_a_failed_job_fails_the_step_with_reason_exit_and_last_log_lines(fake_kube):
    fake = fake_kube(failing_scenario())
    built, _ = launcher(fake)

    result = built.run(SPEC)

    assert not result.succeeded
    detail = result.detail
    assert "PyTorchJobFailed" in detail and "1 Worker replica(s) failed" in detail
    assert f"pod {WORKER}: exited with code 1 (Error)" in detail
    assert "step 1 loss 9.0" in detail  # the master's last lines
    assert (
        "ValueError: bad config" in detail
    )  # the failed worker's last lines, read before deletion
    assert detail.index("ValueError") > detail.index(f"last 2 lines of {WORKER}")
    assert fake.deleted == [(NS, JOB, "Background")]


def never_scheduled(t: float) -> Snapshot:
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    pending = PodState("Pending", unschedulable=message)
    return Snapshot([condition("Created")], {"master-0": pending, "worker-0": pending})


def test_a_job_that_never_starts_fails_after_the_start_timeout_with_the_scheduler_reason(fake_kube):
    fake = fake_kube(Scenario(at=never_scheduled))
    built, _ = launcher(fake, start_timeout_s=0.4)

    started = time.monotonic()
    result = built.run(SPEC)

    assert not result.succeeded
    assert time.monotonic() - started >= 0.4
    assert "pods not all running after 0 s" in result.detail
    assert "Insufficient nvidia.com/gpu" in result.detail
    assert MASTER in result.detail and WORKER in result.detail
    assert fake.deleted == [(NS, JOB, "Background")]


def test_an_image_that_cannot_be_pulled_is_named_when_the_start_times_out(fake_kube):
    waiting = PodState("Pending", waiting=("ImagePullBackOff", 'Back-off pulling image "x"'))
    fake = fake_kube(
        Scenario(at=lambda t: Snapshot([], {"master-0": waiting, "worker-0": waiting}))
    )
    result = launcher(fake, start_timeout_s=0.2)[0].run(SPEC)
    assert not result.succeeded
    assert "ImagePullBackOff" in result.detail
    assert fake.deleted == [(NS, JOB, "Background")]


def test_no_pods_at_all_points_at_the_training_operator(fake_kube):
    fake = fake_kube(Scenario(at=lambda t: Snapshot()))
    result = launcher(fake, start_timeout_s=0.2)[0].run(SPEC)
    assert not result.succeeded
    assert OPERATOR_HINT in result.detail
    assert fake.deleted == [(NS, JOB, "Background")]


def forever(t: float) -> Snapshot:
    return running()


def test_a_cancelled_step_deletes_the_job(fake_kube):
    fake = fake_kube(Scenario(at=forever, logs={"master-0": [(0.05, "training...")]}))
    cancel = threading.Event()
    lines: list[str] = []

    def sink(line: str) -> None:  # cancel while the job runs and its log streams
        lines.append(line)
        cancel.set()

    result = launcher(fake, cancel_event=cancel, log_sink=sink)[0].run(SPEC)

    assert not result.succeeded
    assert "cancelled" in result.detail and "job deleted" in result.detail
    assert lines == ["training..."]
    assert fake.deleted == [(NS, JOB, "Background")]
    assert not fake.jobs


def test_a_deadline_ends_a_job_that_runs_too_long(fake_kube):
    fake = fake_kube(Scenario(at=forever))
    result = launcher(fake, deadline_s=0.3)[0].run(SPEC)
    assert not result.succeeded
    assert "deadline of 0 s exceeded" in result.detail
    assert fake.deleted == [(NS, JOB, "Background")]


def test_a_job_running_long_is_waited_for_without_a_fixed_limit(fake_kube):
    """No fixed wait: without a deadline the job is followed until it ends; the start timeout
    only bounds how long its pods may take to run, not how long they run."""
    at = lambda t: running() if t < 1.5 else succeeded()  # noqa: E731
    fake = fake_kube(Scenario(at=at))
    built, _ = launcher(fake, poll_interval_s=0.02, start_timeout_s=0.3)
    assert built.deadline_s is None
    started = time.monotonic()
    assert built.run(SPEC).succeeded
    assert time.monotonic() - started >= 1.5
    assert len(fake.requests_of("GET", f"/pytorchjobs/{JOB}")) > 10


def test_the_job_options_set_the_launchers_limits(fake_kube):
    """The pipeline's job_options parameter is the one place a run sets them (a busy
    cluster may queue GPU pods for hours)."""
    options = PyTorchJobOptions.from_dict(
        {"start_timeout_s": 7200.0, "max_restarts": 3.0, "active_deadline_seconds": 86400}
    )  # KFP's protobuf Struct sends integers as floats
    api = fake_kube(Scenario(at=lambda t: Snapshot())).api_client()
    built = PyTorchJobLauncher(options, api_client=api, owner=None)
    assert (built.start_timeout_s, built.max_restarts, built.deadline_s) == (7200, 3, 86400)
    assert PyTorchJobLauncher(options, api_client=api, max_restarts=0).max_restarts == 0
    with pytest.raises(LukeError, match="start_timeout_s must be at least 1"):
        PyTorchJobOptions(start_timeout_s=0)


def test_restarts_beyond_max_restarts_fail_the_step(fake_kube):
    def at(t: float) -> Snapshot:
        snapshot = running()
        stamp = f"2025-01-01T00:00:{int(t * 10):02d}Z"  # a new restart every 0.1 s
        snapshot.conditions = [
            condition("Created"),
            condition("Restarting", "restarting", stamp=stamp),
        ]
        snapshot.pods["worker-0"] = PodState("Running", restarted_exit_code=137)
        return snapshot

    fake = fake_kube(Scenario(at=at))
    result = launcher(fake, max_restarts=2)[0].run(SPEC)
    assert not result.succeeded
    assert "restarted 3 times (max_restarts=2)" in result.detail
    assert f"pod {WORKER}: exited with code 137" in result.detail
    assert fake.deleted == [(NS, JOB, "Background")]


def test_transient_api_errors_are_waited_out(fake_kube):
    fake = fake_kube(succeeding_scenario())
    fake.fail_next_gets = 3
    assert launcher(fake)[0].run(SPEC).succeeded
    assert fake.deleted == [(NS, JOB, "Background")]


def test_a_job_left_by_an_earlier_attempt_is_replaced(fake_kube):
    fake = fake_kube(succeeding_scenario())
    stale = pj.build_pytorchjob(SPEC, PyTorchJobOptions(namespace=NS, image="old:1"))
    fake.add_job(NS, stale)

    result = launcher(fake)[0].run(SPEC)

    assert result.succeeded, result.detail
    assert fake.deleted[0] == (NS, JOB, "Foreground")  # the old one, waited for
    assert (
        fake.created[-1]["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][
            0
        ]["image"]
        == "registry.test/luke-training:1"
    )
    assert fake.deleted[-1] == (NS, JOB, "Background")


def test_the_job_is_owned_by_the_launcher_pod(fake_kube, monkeypatch):
    fake = fake_kube(succeeding_scenario())
    fake.add_pod(NS, "pipeline-step-pod", uid="1234-abcd")
    for name, value in {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KFP_POD_NAME": "pipeline-step-pod",
        "KFP_NAMESPACE": NS,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KFP_POD_UID", raising=False)
    monkeypatch.delenv("POD_UID", raising=False)
    built, _ = launcher(fake, owner="auto")
    built.options = PyTorchJobOptions(image="registry.test/luke-training:1")  # no namespace

    assert built.run(SPEC).succeeded

    (created,) = fake.created
    assert created["metadata"]["namespace"] == NS  # the pod's own namespace
    assert created["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "pipeline-step-pod", "uid": "1234-abcd"}
    ]
    assert fake.requests_of("GET", f"/namespaces/{NS}/pods/pipeline-step-pod")  # uid looked up


def test_no_owner_reference_across_namespaces(fake_kube):
    fake = fake_kube(succeeding_scenario())
    built, _ = launcher(fake, owner=OwnerPod(namespace="kubeflow", name="step", uid="u"))
    assert built.run(SPEC).succeeded
    assert "ownerReferences" not in fake.created[0]["metadata"]


def test_forbidden_fails_the_step_at_once_and_still_deletes(fake_kube):
    """A Role without `get pytorchjobs` is not a transient error."""
    fake = fake_kube(Scenario(at=forever))
    fake.fail_next_gets, fake.fail_status = 1000, 403
    result = launcher(fake)[0].run(SPEC)
    assert not result.succeeded
    assert "API error" in result.detail and "403" in result.detail
    assert len(fake.requests_of("GET", f"/pytorchjobs/{JOB}")) == 1
    assert fake.deleted == [(NS, JOB, "Background")]


LAUNCHER_SCRIPT = """
import json, sys
from kubernetes import client
from luke_core.launch import TrainingJobSpec
from luke_k8s.launcher import PyTorchJobLauncher
from luke_k8s.job_options import PyTorchJobOptions

api = client.ApiClient(client.Configuration(host=sys.argv[1]))
spec = TrainingJobSpec(name="stage1", pretrain_args=("--dataset-dir", "s3://b/ds", "--output-dir",
                       "s3://b/out"), num_nodes=2, procs_per_node=2, run_id="run-0001")
launcher = PyTorchJobLauncher(PyTorchJobOptions(namespace="luke-test", image="x:1"),
                              api_client=api, poll_interval_s=0.05, owner=None)
result = launcher.run(spec)
print("RESULT", json.dumps({"succeeded": result.succeeded, "detail": result.detail}), flush=True)
sys.exit(0 if result.succeeded else 3)
"""


def test_sigterm_to_the_step_deletes_the_job(fake_kube, tmp_path):
    """What a terminated pipeline run does to the step's pod: SIGTERM, then SIGKILL after the
    grace period. The launcher deletes the job in between and exits."""
    fake = fake_kube(Scenario(at=forever, logs={"master-0": [(0.05, "training...")]}))
    script = tmp_path / "launch.py"
    script.write_text(LAUNCHER_SCRIPT)
    step = subprocess.Popen(
        [sys.executable, str(script), fake.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    streaming = threading.Event()

    def read_output() -> None:
        for line in step.stdout:
            output.append(line)
            if line.strip() == "training...":
                streaming.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    # the job runs and the master's log reaches the step's log
    assert streaming.wait(60), "".join(output)
    assert fake.created

    step.send_signal(signal.SIGTERM)
    step.wait(timeout=30)
    reader.join(10)

    assert step.returncode == 3, "".join(output)
    (result,) = [json.loads(line[7:]) for line in output if line.startswith("RESULT ")]
    assert not result["succeeded"]
    assert "terminated by SIGTERM" in result["detail"]
    assert fake.deleted == [(NS, JOB, "Background")]
    assert not fake.jobs
