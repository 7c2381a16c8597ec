"""Worker processes for the steps: how they start, and a pool whose `map` keeps results in
submission order with only a few tasks in flight, so a stream of any length passes through
in bounded memory and the output does not depend on the number of processes."""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def process_context():
    """`fork` (fast; workers share the parent's read-only state), unless this process runs a
    JVM (pyjnius, for OpenNLP): a forked child of a JVM process has the JVM's signal handlers
    but none of its threads, so it can neither use the JVM nor die of SIGTERM (a pool's
    `terminate` would leave it behind). Then `spawn`."""
    jnius_config = sys.modules.get("jnius_config")
    running_jvm = jnius_config is not None and jnius_config.vm_running
    return multiprocessing.get_context("spawn" if running_jvm else "fork")


class OrderedPool:
    """`map(func, tasks)` over `processes` workers; with one process the work runs inline,
    which keeps tracebacks simple and avoids pickling for small inputs."""

    def __init__(self, processes: int, *, in_flight_per_process: int = 2):
        self.processes = processes
        self.limit = in_flight_per_process * processes + 1
        self.pool = None
        if processes > 1:
            self.pool = process_context().Pool(processes)

    def __enter__(self) -> OrderedPool:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.pool is None:
            return
        if exc_type is None:
            self.pool.close()
        else:
            self.pool.terminate()
        self.pool.join()

    def map(self, func: Callable[[Any], Any], tasks: Iterable) -> Iterator:
        if self.pool is None:
            yield from map(func, tasks)
            return
        pending: deque = deque()
        for task in tasks:
            pending.append(self.pool.apply_async(func, (task,)))
            while len(pending) > self.limit or (pending and pending[0].ready()):
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
