"""Reading a PyTorchJob's state: its conditions (set by the training operator) and its pods
(what Kubernetes says about scheduling, images and exits), turned into the launcher's
decisions and into messages a person can act on."""

from __future__ import annotations

import logging
from typing import Any

from kubernetes.client import CoreV1Api, V1Pod

from luke_k8s.pod_logs import read_log_tail
from luke_k8s.pytorchjob import CONTAINER_NAME, OPERATOR_JOB_NAME_LABEL

logger = logging.getLogger(__name__)

OPERATOR_HINT = (
    "no pods were created: is the training operator running "
    "(kubectl get pods -A -l control-plane=kubeflow-training-operator)? If it is, it could "
    "not create them (a missing service account, a ResourceQuota, Pod Security admission): "
    "the job's events say which (kubectl describe pytorchjob JOB)"
)
MAX_FAILED_POD_LOGS = 3


def conditions(job: dict[str, Any]) -> list[dict[str, Any]]:
    return (job.get("status") or {}).get("conditions") or []


def true_condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in conditions(job):
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


class JobObserver:
    """Follows one job across polls: remembers restarts seen and what was already logged."""

    def __init__(self, core: CoreV1Api, namespace: str, name: str, num_nodes: int):
        self.core, self.namespace, self.name = core, namespace, name
        self.expected_pods = [f"{name}-master-0"] + [
            f"{name}-worker-{i}" for i in range(num_nodes - 1)
        ]
        self._restarts_seen: set[str] = set()
        self._logged: set[str] = set()

    def pods(self) -> list[V1Pod]:
        selector = f"{OPERATOR_JOB_NAME_LABEL}={self.name}"
        return self.core.list_namespaced_pod(self.namespace, label_selector=selector).items

    @staticmethod
    def ended(job: dict[str, Any]) -> str | None:
        """ "Succeeded" or "Failed" once the operator says so; None while it runs."""
        for kind in ("Succeeded", "Failed"):
            if true_condition(job, kind):
                return kind
        return None

    @staticmethod
    def failure(job: dict[str, Any]) -> str:
        condition = true_condition(job, "Failed") or {}
        return f"{condition.get('reason', 'Failed')}: {condition.get('message', '(no message)')}"

    def count_restarts(self, job: dict[str, Any]) -> int:
        """Restarts seen so far: each time the Restarting condition turns true it gets a new
        transition time (the operator keeps one condition per type)."""
        restarting = true_condition(job, "Restarting")
        if restarting:
            stamp = restarting.get("lastTransitionTime") or restarting.get("lastUpdateTime") or "?"
            if stamp not in self._restarts_seen:
                self._restarts_seen.add(stamp)
                logger.warning("job restarting: %s", restarting.get("message", ""))
        return len(self._restarts_seen)

    def all_running(self, pods: list[V1Pod]) -> bool:
        phases = {pod.metadata.name: pod.status.phase for pod in pods if pod.status}
        return all(phases.get(name) in ("Running", "Succeeded") for name in self.expected_pods)

    def pending_reasons(self, pods: list[V1Pod]) -> str:
        if not pods:
            return OPERATOR_HINT
        by_name = {pod.metadata.name: pod for pod in pods}
        reasons = []
        for name in self.expected_pods:
            pod = by_name.get(name)
            if pod is None:
                reasons.append(f"{name}: not created")
            elif pod.status.phase not in ("Running", "Succeeded"):
                reasons.append(f"{name}: {pod_problem(pod)}")
        return "; ".join(reasons)

    def log_changes(self, job: dict[str, Any], pods: list[V1Pod]) -> None:
        """Log each new condition and each new pod state once, so the step's log tells the
        story (Created, Running, a pod Pending because of insufficient GPUs, ...)."""
        for condition in conditions(job):
            if condition.get("status") == "True":
                self._log_once(f"job {condition.get('type')}: {condition.get('message', '')}")
        for pod in pods:
            self._log_once(f"pod {pod.metadata.name}: {pod_problem(pod) or pod.status.phase}")

    def _log_once(self, message: str) -> None:
        if message not in self._logged:
            self._logged.add(message)
            logger.info("%s", message)


def pod_problem(pod: V1Pod) -> str:
    """Why a pod is not running, in Kubernetes' words ("" when nothing is wrong)."""
    status = pod.status
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return f"not scheduled: {condition.reason}: {condition.message}"
    for container in status.container_statuses or []:
        waiting = container.state.waiting if container.state else None
        if waiting and waiting.reason not in (None, "ContainerCreating", "PodInitializing"):
            return f"{waiting.reason}: {waiting.message or ''}".rstrip(": ")
        terminated = container.state.terminated if container.state else None
        if terminated and terminated.exit_code:
            return f"exited with code {terminated.exit_code} ({terminated.reason})"
    return "" if status.phase in ("Running", "Succeeded") else status.phase or "Pending"


def exit_codes(pod: V1Pod) -> list[tuple[int, str]]:
    """Non-zero exits of the training container, current and previous."""
    found = []
    for container in pod.status.container_statuses or []:
        if container.name != CONTAINER_NAME:
            continue
        for state in (container.state, container.last_state):
            terminated = state.terminated if state else None
            if terminated and terminated.exit_code:
                found.append((terminated.exit_code, terminated.reason or ""))
    return found


def failure_detail(
    core: CoreV1Api,
    namespace: str,
    headline: str,
    pods: list[V1Pod],
    *,
    master_tail: list[str],
    tail_lines: int,
) -> str:
    """The headline, each failed pod's exit, and the last log lines of the master (as copied)
    and of up to MAX_FAILED_POD_LOGS failed workers (read now, before the job is deleted)."""
    parts = [headline]
    failed = [pod for pod in pods if exit_codes(pod)]
    for pod in failed:
        code, reason = exit_codes(pod)[0]
        parts.append(f"pod {pod.metadata.name}: exited with code {code} ({reason})")
    if not master_tail and any("-master-" in pod.metadata.name for pod in pods):
        master = next(pod.metadata.name for pod in pods if "-master-" in pod.metadata.name)
        master_tail = read_log_tail(core, namespace, master, CONTAINER_NAME, tail_lines)
    if master_tail:
        parts.append(f"--- last {len(master_tail)} lines of the master's log ---")
        parts += master_tail
    workers = [pod for pod in failed if "-master-" not in pod.metadata.name]
    for pod in workers[:MAX_FAILED_POD_LOGS]:
        lines = read_log_tail(core, namespace, pod.metadata.name, CONTAINER_NAME, tail_lines)
        if lines:
            parts.append(f"--- last {len(lines)} lines of {pod.metadata.name} ---")
            parts += lines
    return "\n".join(parts)
