"""Worker processes for the steps: how they start, and a pool whose `map` keeps results in
submission order with only a few tasks in flight, so a stream of any length passes through
in bounded memory and the output does not depend on the number of processes."""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from luke_core.errors import LukeError


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
