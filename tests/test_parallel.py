"""The ordered process pool every step uses."""

import os
import signal

import pytest

from luke_core.errors import LukeError
from luke_core.parallel import (
    STEP_CPUS_ENV,
    OrderedPool,
    available_cpus,
    cgroup_cpu_quota,
)


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


@pytest.mark.parametrize(
    ("cores", "cpu_max", "requested", "expected"),
    [
        (6, None, "", 6),  # nothing but the affinity
        (6, "max 100000", "", 6),  # cgroup v2 without a quota
        (6, "200000 100000", "", 2),  # a quota of 2 CPUs
        (6, "150000 100000", "", 1),  # 1.5 CPUs: one busy process, not two
        (6, "400000 100000", "2", 2),  # the pod's request is smaller still
        (2, "800000 100000", "8", 2),  # the affinity is the smallest
        (6, None, "500m", 1),  # never none
        (6, None, "2500m", 2),
    ],
)
def test_available_cpus_is_the_smallest_limit(monkeypatch, tmp_path, cores, cpu_max, requested,
                                              expected):  # fmt: skip
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setenv(STEP_CPUS_ENV, requested)
    if cpu_max is not None:
        (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    assert available_cpus(str(tmp_path)) == expected


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    assert cgroup_cpu_quota(str(tmp_path)) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")  # unlimited
    assert cgroup_cpu_quota(str(tmp_path)) is None


def test_a_bad_cpu_request_names_the_variable(monkeypatch):
    monkeypatch.setenv(STEP_CPUS_ENV, "four")
    with pytest.raises(LukeError, match="LUKE_STEP_CPUS='four': not a CPU quantity"):
        available_cpus()


def test_every_step_defaults_to_the_available_cpus(monkeypatch):
    from luke_core.dataset.building.options import BuildDatasetOptions
    from luke_core.dump_db import BuildDumpDbOptions
    from luke_core.entity_vocab.build import BuildEntityVocabOptions
    from luke_core.entity_vocab.interwiki import BuildInterwikiDbOptions

    monkeypatch.setenv(STEP_CPUS_ENV, "1")
    for options in (BuildDumpDbOptions, BuildEntityVocabOptions, BuildInterwikiDbOptions,
                    BuildDatasetOptions):  # fmt: skip
        assert options().processes == 1, options
