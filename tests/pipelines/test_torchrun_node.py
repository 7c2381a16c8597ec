"""What the job's pods run, run for real: the container command of a 2-node PyTorchJob,
expanded the way the kubelet expands it with the variables the training operator injects,
started as two "nodes" on this machine (gloo); and the exit statuses that make the operator
restart a crashed pod (128-255) but fail a bad configuration at once (1-127)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from luke_core.launch import TrainingJobSpec
from luke_k8s import pytorchjob as pj
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.torchrun_node import (
    RETRYABLE_EXIT_CODE,
    TRANSIENT_WORKER_EXIT_CODE,
    agent_failure_exit_code,
    child_failure_exit_code,
)

PROBES = {
    "probe_dist": """
        import os, sys
        import torch, torch.distributed as dist
        dist.init_process_group("gloo")
        total = torch.tensor([float(dist.get_rank())])
        dist.all_reduce(total)
        # one file per rank: lines several processes print to one pipe can interleave
        report = os.path.join(os.path.dirname(__file__), f"probe-rank-{dist.get_rank()}.txt")
        with open(report, "w") as f:
            f.write(f"PROBE rank={dist.get_rank()} world={dist.get_world_size()} "
                    f"local={os.environ['LOCAL_RANK']} sum={total.item():.0f} "
                    f"args={sys.argv[1:]}")
        dist.destroy_process_group()
    """,
    "probe_sigkill": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    "probe_dist_error": """
        from torch.distributed import DistNetworkError
        raise DistNetworkError("Connection reset by peer (a node went away)")
    """,
    "probe_bad_config": """
        import sys
        print("error: --dataset-dir: no such dataset", file=sys.stderr)
        sys.exit(3)
    """,
}


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of command arguments: `$(NAME)` becomes the variable's value when
    it is defined (else stays as written), `$$` becomes `$`."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and text.find(")", i) != -1:
            end = text.find(")", i)
            name = text[i + 2 : end]
            out.append(env.get(name, text[i : end + 1]))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def operator_env(job: dict, node_rank: int, port: int) -> dict[str, str]:
    """What training-operator 1.9 adds to each pod (the master's address is its Service name
    in a cluster; here both "nodes" share 127.0.0.1)."""
    nodes = 1 + job["spec"]["pytorchReplicaSpecs"].get("Worker", {}).get("replicas", 0)
    nproc = job["spec"]["nprocPerNode"]
    return {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": str(node_rank),
        "WORLD_SIZE": str(nodes * int(nproc)),
        "PET_MASTER_ADDR": "127.0.0.1",
        "PET_MASTER_PORT": str(port),
        "PET_NODE_RANK": str(node_rank),
        "PET_NNODES": str(nodes),
        "PET_NPROC_PER_NODE": nproc,
        "PYTHONUNBUFFERED": "0",
    }


def start_node(job: dict, kind: str, node_rank: int, port: int, module: str, probes_dir):
    (container,) = job["spec"]["pytorchReplicaSpecs"][kind]["template"]["spec"]["containers"]
    env = {**os.environ, "PYTHONPATH": str(probes_dir), "OMP_NUM_THREADS": "1"}
    env.update({e["name"]: e["value"] for e in container["env"] if "value" in e})
    env.update(operator_env(job, node_rank, port))
    command = [kubelet_expand(arg, env) for arg in container["command"]]
    assert command[:3] == ["python", "-m", "luke_k8s.torchrun_node"]
    # the probe stands in for `luke_core` (the module torchrun starts); its arguments stay
    script = command.index("luke_core")
    command = [sys.executable, *command[1:script], module, *command[script + 1 :]]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def probes_dir(tmp_path):
    for name, code in PROBES.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
    return tmp_path


def cpu_job(num_nodes: int, procs: int, args=("--output-dir", "s3://b/$(HOME)")) -> dict:
    spec = TrainingJobSpec(
        name="stage1",
        pretrain_args=tuple(args),
        num_nodes=num_nodes,
        procs_per_node=procs,
        run_id="local",
    )
    options = PyTorchJobOptions(
        image="unused:1", use_gpus=False, memory_request="1Gi", memory_limit="2Gi", shm_size="1Gi"
    )
    return pj.build_pytorchjob(spec, options)


@pytest.mark.slow
def test_the_job_command_forms_one_process_group_across_two_nodes(probes_dir):
    job = cpu_job(num_nodes=2, procs=2)
    port = free_port()
    nodes = [
        start_node(job, "Master", 0, port, "probe_dist", probes_dir),
        start_node(job, "Worker", 1, port, "probe_dist", probes_dir),
    ]
    outputs = [node.communicate(timeout=240)[0] for node in nodes]

    assert [node.returncode for node in nodes] == [0, 0], outputs
    probes = [path.read_text() for path in sorted(probes_dir.glob("probe-rank-*.txt"))]
    # global ranks 0-3 over 2 nodes x 2 processes; the all-reduce saw all four (0+1+2+3)
    assert probes == [
        f"PROBE rank={rank} world=4 local={rank % 2} sum=6 "
        "args=['pretrain', '--output-dir', 's3://b/$(HOME)']"
        for rank in range(4)
    ]  # the escaped `$(HOME)` reached `luke pretrain` as written


@pytest.mark.slow
def test_exit_statuses_tell_the_operator_what_to_retry(probes_dir):
    job = cpu_job(num_nodes=1, procs=1)
    cases = {
        "probe_sigkill": 128 + signal.SIGKILL,
        "probe_dist_error": RETRYABLE_EXIT_CODE,
        "probe_bad_config": 3,
    }
    runs = {
        module: start_node(job, "Master", 0, free_port(), module, probes_dir) for module in cases
    }
    for module, expected in cases.items():
        output = runs[module].communicate(timeout=240)[0]
        assert runs[module].returncode == expected, output
    assert 128 + 64 < RETRYABLE_EXIT_CODE <= 255  # retryable, and no 128 + signal number


def test_worker_failures_map_to_retryable_or_permanent_statuses():
    assert child_failure_exit_code({0: -signal.SIGKILL}) == 137  # OOM-killed
    assert child_failure_exit_code({0: -signal.SIGABRT, 1: 1}) == 134  # NCCL watchdog abort
    assert child_failure_exit_code({0: TRANSIENT_WORKER_EXIT_CODE}) == RETRYABLE_EXIT_CODE
    assert child_failure_exit_code({0: TRANSIENT_WORKER_EXIT_CODE, 1: 2}) == 2  # a real error
    assert child_failure_exit_code({3: 1}) == 1
    assert child_failure_exit_code({0: 300}) == 127  # kept within the permanent range


def test_agent_failures_map_to_retryable_statuses():
    from torch.distributed import DistStoreError
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.rendezvous.api import RendezvousTimeoutError

    assert agent_failure_exit_code(SignalException("term", signal.SIGTERM)) == 143
    assert agent_failure_exit_code(RendezvousTimeoutError("no peers")) == RETRYABLE_EXIT_CODE
    assert agent_failure_exit_code(DistStoreError("master not reachable")) == RETRYABLE_EXIT_CODE
    assert agent_failure_exit_code(ValueError("bad --nnodes")) is None  # re-raised: exit 1
