"""Worker processes for the steps: how many (`available_cpus`, the one rule every step and
the training pods use), how they start, and a pool whose `map` keeps results in submission
order with only a few tasks in flight, so a stream of any length passes through in bounded
memory and the output does not depend on the number of processes."""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from luke_core.errors import LukeError

STEP_CPUS_ENV = "LUKE_STEP_CPUS"
"""The CPUs a pipeline step's pod requests (a Kubernetes quantity: `4`, `500m`); the
pipeline sets it from the step's resource request."""
CGROUP_ROOT = "/sys/fs/cgroup"


def available_cpus(cgroup_root: str = CGROUP_ROOT) -> int:
    """The worker processes (or threads) a step should start here: the cores this process
    may run on (its affinity), at most its cgroup's CPU quota, at most the CPUs its pod
    requests ($LUKE_STEP_CPUS). `os.cpu_count()` sees the whole node, not the container's
    share: a step on a 96-core node would start 96 workers inside a quota of 4 CPUs and a
    memory limit sized for 4."""
    limits = [len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()]
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        limits.append(math.floor(quota))
    requested = os.environ.get(STEP_CPUS_ENV, "").strip()
    if requested:
        limits.append(math.floor(cpu_quantity(requested)))
    return max(1, min(limit or 1 for limit in limits))


def cgroup_cpu_quota(cgroup_root: str = CGROUP_ROOT) -> float | None:
    """CPUs the cgroup may use per period (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` /
    `cpu.cfs_period_us`); None when unlimited or not readable."""
    v2 = _read_words(os.path.join(cgroup_root, "cpu.max"))
    if v2:
        return None if v2[0] == "max" else int(v2[0]) / int(v2[1] if len(v2) > 1 else 100_000)
    quota = _read_words(os.path.join(cgroup_root, "cpu", "cpu.cfs_quota_us"))
    period = _read_words(os.path.join(cgroup_root, "cpu", "cpu.cfs_period_us"))
    if quota and period and int(quota[0]) > 0:
        return int(quota[0]) / int(period[0])
    return None


def _read_words(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().split()
    except (OSError, ValueError):
        return []


def cpu_quantity(text: str) -> float:
    """A Kubernetes CPU quantity in CPUs: `2` -> 2.0, `500m` -> 0.5."""
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise LukeError(f"{STEP_CPUS_ENV}={text!r}: not a CPU quantity (like 4 or 500m)") from None


def process_context():
    """`fork` (fast; workers share the parent's read-only state), unless this process runs a
    JVM (pyjnius, for OpenNLP): a forked child of a JVM process has the JVM's signal handlers
    but none of its threads, so it can neither use the JVM nor die of SIGTERM (a pool's
    `terminate` would leave it behind). Then `spawn`."""
    jnius_config = sys.modules.get("jnius_config")
    running_jvm = jnius_config is not None and jnius_config.vm_running
    return multiprocessing.get_context("spawn" if running_jvm else "fork")


class OrderedPool:
    """`map(func, tasks)` over `processes` workers, results in submission order, at most
    `in_flight_per_process` tasks a worker in flight; with one process the work runs inline,
    which keeps tracebacks simple and avoids pickling for small inputs.

    An executor rather than a `multiprocessing.Pool`: a worker that dies (killed for memory)
    fails the step with `BrokenProcessPool` instead of leaving it waiting forever."""

    def __init__(
        self,
        processes: int,
        *,
        in_flight_per_process: int = 2,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
    ):
        self.processes = processes
        self.limit = in_flight_per_process * processes
        self.executor: ProcessPoolExecutor | None = None
        if processes > 1:
            self.executor = ProcessPoolExecutor(
                processes, mp_context=process_context(), initializer=initializer,
                initargs=initargs,
            )  # fmt: skip

    def __enter__(self) -> OrderedPool:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=exc_type is not None)

    def map(self, func: Callable[[Any], Any], tasks: Iterable) -> Iterator:
        if self.executor is None:
            yield from map(func, tasks)
            return
        pending: deque[Future] = deque()
        try:
            for task in tasks:
                pending.append(self.executor.submit(func, task))
                while len(pending) > self.limit or (pending and pending[0].done()):
                    yield _result(pending.popleft())
            while pending:
                yield _result(pending.popleft())
        finally:
            for future in pending:
                future.cancel()


def _result(future: Future):
    try:
        return future.result()
    except BrokenProcessPool:
        raise LukeError(
            "a worker process died (killed for lack of memory?); rerun with fewer processes "
            "or more memory"
        ) from None
