"""The ordered process pool every step uses."""

import os
import signal

import pytest

from luke_core.errors import LukeError
from luke_core.parallel import OrderedPool


def square(x: int) -> int:
    return x * x


def die_on_seven(x: int) -> int:
    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer does
    return x


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_results_in_submission_order(processes):
    with OrderedPool(processes) as pool:
        assert list(pool.map(square, range(50))) == [x * x for x in range(50)]


def test_a_worker_killed_fails_the_step_instead_of_hanging():
    with pytest.raises(LukeError, match="worker process died"), OrderedPool(2) as pool:
        list(pool.map(die_on_seven, range(20)))


def test_tasks_are_consumed_lazily():
    consumed = []

    def tasks():
        for x in range(1000):
            consumed.append(x)
            yield x

    with OrderedPool(2, in_flight_per_process=2) as pool:
        results = pool.map(square, tasks())
        assert next(results) == 0
        assert len(consumed) <= 6  # a bounded number in flight, not the whole stream
        assert sum(1 for _ in results) == 999
