"""A process pool whose `map` keeps results in submission order and only a few tasks in
flight, so a stream of any length passes through in bounded memory and the output does
not depend on the number of processes."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class OrderedPool:
    """`map(func, tasks)` over `processes` forked workers; with one process the work runs
    inline, which keeps tracebacks simple and avoids pickling for small inputs."""

    def __init__(self, processes: int, *, in_flight_per_process: int = 2):
        self.processes = processes
        self.limit = in_flight_per_process * processes + 1
        self.pool = None
        if processes > 1:
            self.pool = multiprocessing.get_context("fork").Pool(processes)

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
