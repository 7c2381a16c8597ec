"""Benchmark of the PyTorchJob launcher's own overhead, against the local fake API server
(testsupport/luke_testing/kube_fake.py) through the real kubernetes client:

- log copying: lines/s and MB/s that PodLogFollower copies from a followed pod log (a chatty
  training log must never make the launcher fall behind);
- polling: the time of one watch poll (GET the job + list its pods), which bounds how often
  the launcher can look without loading the API server.

    .venv/bin/python bench/bench_pod_logs.py [--lines 200000] [--polls 200]

There is no speed goal in the issue; the figures show the launcher is far from a bottleneck.
"""

from __future__ import annotations

import argparse
import statistics
import time

from kubernetes import client

from luke_core.launch import TrainingJobSpec
from luke_k8s import pytorchjob as pj
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.job_status import JobObserver
from luke_k8s.pod_logs import PodLogFollower
from luke_testing.kube_fake import FakeKubernetes, PodState, Scenario, Snapshot, condition

NS = "bench"
SPEC = TrainingJobSpec(name="stage1", pretrain_args=(), num_nodes=4, procs_per_node=8, run_id="b")
LINE = "step 12345 | loss 3.1416 | mlm_acc 0.4567 | entity_acc 0.1234 | lr 1.0e-04 | 812 samples/s"


def scenario(lines: int) -> Scenario:
    pods = {"master-0": PodState("Running")} | {
        f"worker-{i}": PodState("Running") for i in range(3)
    }
    done = {k: PodState("Succeeded", exit_code=0) for k in pods}

    def at(t: float) -> Snapshot:
        if t < 0.5:
            return Snapshot([condition("Running")], pods)
        return Snapshot([condition("Succeeded")], done)

    log = [(i * 1e-6, f"{LINE} #{i}") for i in range(lines)]  # all written within 0.2 s
    return Scenario(at=at, logs={"master-0": log})


def bench_log_copy(lines: int) -> tuple[float, int]:
    fake = FakeKubernetes(scenario(lines)).start()
    try:
        fake.add_job(NS, pj.build_pytorchjob(SPEC, PyTorchJobOptions(image="x:1")))
        core = client.CoreV1Api(fake.api_client())
        copied: list[int] = []
        follower = PodLogFollower(
            core,
            NS,
            f"{pj.job_name(SPEC)}-master-0",
            "pytorch",
            lambda line: copied.append(len(line)),
            retry_interval_s=0.01,
        )
        start = time.perf_counter()
        follower.start()
        while len(copied) < lines and time.perf_counter() - start < 120:
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        follower.stop()
        assert len(copied) == lines, f"copied {len(copied)} of {lines} lines"
        return elapsed, sum(copied) + lines
    finally:
        fake.stop()


def bench_poll(polls: int) -> float:
    fake = FakeKubernetes(scenario(0)).start()
    try:
        job = pj.build_pytorchjob(SPEC, PyTorchJobOptions(image="x:1"))
        fake.add_job(NS, job)
        api = fake.api_client()
        custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
        observer = JobObserver(core, NS, job["metadata"]["name"], SPEC.num_nodes)
        times = []
        for _ in range(polls):
            start = time.perf_counter()
            custom.get_namespaced_custom_object(
                pj.GROUP, pj.VERSION, NS, pj.PLURAL, job["metadata"]["name"]
            )
            observer.pods()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--polls", type=int, default=200)
    args = parser.parse_args()
    elapsed, size = bench_log_copy(args.lines)
    print(
        f"log copy: {args.lines} lines in {elapsed:.2f} s: {args.lines / elapsed:,.0f} lines/s, "
        f"{size / elapsed / 1e6:.1f} MB/s"
    )
    poll = bench_poll(args.polls)
    print(f"poll (GET job + list 4 pods): median {poll * 1e3:.2f} ms over {args.polls}")


if __name__ == "__main__":
    main()
