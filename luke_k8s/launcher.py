"""`PyTorchJobLauncher`: run a training stage as a PyTorchJob and wait for it, for as long as
it runs.

What it does, and what the upstream KFP launcher sample does not:
- success only on the job's `Succeeded` condition; on `Failed`, a failed result with the
  operator's reason and message and the last log lines of the master and of failed pods;
- no fixed wait: the job runs until it ends, bounded only by `deadline_s` if given; a job whose
  pods are not all running within `start_timeout_s` (unschedulable, image pull errors, a
  missing Secret, no training operator) fails with what Kubernetes says is wrong;
- the job is deleted when the step ends for any reason: success, failure, a timeout, a
  cancel, SIGTERM (what a terminated pipeline run sends: the handler raises so `finally` runs);
  and it carries an owner reference to the step's pod, so deleting the run deletes it even if
  the step was killed outright;
- the master's log is copied into the step's log as it is written.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from luke_core.errors import LukeError
from luke_core.launch import LaunchResult, TrainingJobSpec
from luke_k8s import pytorchjob as pj
from luke_k8s.context import OwnerPod, find_own_pod, load_api_client, own_namespace
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.job_status import JobObserver, failure_detail
from luke_k8s.pod_logs import PodLogFollower

logger = logging.getLogger(__name__)


class StepInterrupted(BaseException):
    """Raised in the waiting thread by SIGTERM or a cancel request. A BaseException, so that
    no `except Exception` on the way swallows it before `finally` deletes the job."""


class PyTorchJobLauncher:
    """Implements `luke_core.launch.Launcher` with a PyTorchJob per stage."""

    def __init__(
        self,
        options: PyTorchJobOptions,
        *,
        api_client: client.ApiClient | None = None,
        start_timeout_s: float | None = None,
        deadline_s: float | None = None,
        max_restarts: int | None = None,
        poll_interval_s: float = 10.0,
        log_tail_lines: int = 50,
        owner: OwnerPod | Literal["auto"] | None = "auto",
        cancel_event: threading.Event | None = None,
        log_sink: Callable[[str], None] | None = None,
        handle_sigterm: bool = True,
    ):
        """`api_client`: default in-cluster config, else the kubeconfig. `start_timeout_s`:
        how long the pods may take to all be running (scheduling, autoscaling, image pulls),
        at the start and after each restart. `deadline_s`: the most the whole job may take
        (None: the options' active_deadline_seconds, else no limit). `max_restarts`: job
        restarts (the operator's Restarting condition) before the launcher gives up. Unset,
        these come from `options`. `owner`: the pod the job belongs to ("auto": this
        process's pod when in one). `cancel_event`: set it to stop the job from another
        thread. `log_sink`: where the master's log lines go (default: stdout)."""
        self.options = options
        self._api_client = api_client
        self._kubeconfig_namespace: str | None = None
        # None: the job options' values (the pipeline's job_options parameter sets them)
        self.start_timeout_s = start_timeout_s or options.start_timeout_s
        self.deadline_s = deadline_s or options.active_deadline_seconds
        self.max_restarts = options.max_restarts if max_restarts is None else max_restarts
        self.poll_interval_s = poll_interval_s
        self.log_tail_lines = log_tail_lines
        self.owner = owner
        self.cancel_event = cancel_event or threading.Event()
        self.log_sink = log_sink or (lambda line: print(line, flush=True))
        self.handle_sigterm = handle_sigterm
        self._started_at = 0.0
        self._unhealthy_since: float | None = None
        self._cleaning_up = False

    def run(self, spec: TrainingJobSpec) -> LaunchResult:
        """Create the stage's job, follow it to its end, delete it; never raises for a failed
        job (nor for a cancel or SIGTERM: those end as a failed result). Raises LukeError for
        a stage that cannot become a job, or without any Kubernetes configuration."""
        api = self._client()
        custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
        self._cleaning_up = False
        owner = find_own_pod(core) if self.owner == "auto" else self.owner
        namespace = self._namespace(owner)
        job = self._job(spec, namespace, owner)
        name = job["metadata"]["name"]
        follower: PodLogFollower | None = None
        interrupted = False
        with self._sigterm_raises():
            try:
                # From here on the job may exist (even if the create call is interrupted).
                self._create(custom, namespace, job)
                run_label = job["metadata"]["labels"][pj.LABEL_RUN_ID]
                logger.info(
                    "created PyTorchJob %s/%s; see: kubectl -n %s get pytorchjobs,pods -l %s=%s",
                    *(namespace, name, namespace, pj.LABEL_RUN_ID, run_label),
                )
                follower = self._follow_master(core, namespace, name)
                return self._wait(custom, core, namespace, name, spec, follower)
            except StepInterrupted as exc:
                interrupted = True
                return LaunchResult(False, f"PyTorchJob {namespace}/{name}: {exc}; job deleted")
            except (ApiException, HTTPError, OSError) as exc:
                return LaunchResult(False, f"PyTorchJob {namespace}/{name}: API error: {exc}")
            finally:
                self._cleaning_up = True  # a SIGTERM now must not cut the clean-up short
                if follower is not None and not interrupted:
                    follower.finish(timeout_s=max(2 * self.poll_interval_s, 10.0))
                self._delete(custom, namespace, name)
                if follower is not None:
                    follower.stop()  # after the delete: a terminated step has little time

    def _wait(self, custom, core, namespace, name, spec, follower) -> LaunchResult:
        observer = JobObserver(core, namespace, name, spec.num_nodes)
        self._started_at = self._unhealthy_since = time.monotonic()
        api_errors = 0
        while True:
            self._check_cancel()
            try:
                job = custom.get_namespaced_custom_object(
                    pj.GROUP, pj.VERSION, namespace, pj.PLURAL, name
                )
                pods = observer.pods()
                api_errors = 0
            except (ApiException, HTTPError, OSError) as exc:
                if isinstance(exc, ApiException) and exc.status == 404:
                    reason = "the job was deleted by someone else"
                    return self._failed(core, namespace, name, reason, [], follower)
                api_errors = self._api_error(exc, api_errors)
                continue
            verdict = self._judge(job, pods, observer)
            if verdict == "Succeeded":
                return LaunchResult(True, f"PyTorchJob {namespace}/{name} succeeded")
            if verdict is not None:
                return self._failed(core, namespace, name, verdict, pods, follower)
            observer.log_changes(job, pods)
            self._sleep(self.poll_interval_s)

    def _judge(self, job: dict, pods: list, observer: JobObserver) -> str | None:
        """The verdict on this poll: "Succeeded", a failure reason, or None (go on)."""
        ended = observer.ended(job)
        if ended == "Succeeded":
            return ended
        if ended == "Failed":
            return observer.failure(job)
        restarts = observer.count_restarts(job)
        if restarts > self.max_restarts:
            return f"restarted {restarts} times (max_restarts={self.max_restarts})"
        now = time.monotonic()
        if observer.all_running(pods):
            self._unhealthy_since = None
        elif self._unhealthy_since is None:
            self._unhealthy_since = now
        elif now - self._unhealthy_since > self.start_timeout_s:
            problems = observer.pending_reasons(pods)
            return f"pods not all running after {self.start_timeout_s:.0f} s: {problems}"
        if self.deadline_s is not None and now - self._started_at > self.deadline_s:
            return f"deadline of {self.deadline_s:.0f} s exceeded"
        return None

    def _follow_master(self, core: client.CoreV1Api, namespace: str, name: str) -> PodLogFollower:
        follower = PodLogFollower(
            core,
            namespace,
            f"{name}-master-0",
            pj.CONTAINER_NAME,
            self.log_sink,
            tail_lines=self.log_tail_lines,
            retry_interval_s=min(self.poll_interval_s, 5.0),
        )
        follower.start()
        return follower

    def _failed(self, core, namespace, name, reason, pods, follower) -> LaunchResult:
        follower.finish(timeout_s=max(self.poll_interval_s, 5.0))
        detail = failure_detail(
            core,
            namespace,
            f"PyTorchJob {namespace}/{name} failed: {reason}",
            pods,
            master_tail=list(follower.tail),
            tail_lines=self.log_tail_lines,
        )
        logger.error("%s", detail)
        return LaunchResult(False, detail)

    def _create(self, custom: client.CustomObjectsApi, namespace: str, job: dict) -> None:
        name = job["metadata"]["name"]
        try:
            custom.create_namespaced_custom_object(pj.GROUP, pj.VERSION, namespace, pj.PLURAL, job)
            return
        except ApiException as exc:
            if exc.status != 409:
                raise
        # A job of this run and stage exists: a retried step. Its pods may still be writing
        # to the same output; replace it (the new job resumes from its checkpoint).
        logger.warning("PyTorchJob %s/%s exists (a retried step?): replacing it", namespace, name)
        self._delete(custom, namespace, name, propagation="Foreground")
        deadline = time.monotonic() + max(self.start_timeout_s, 60.0)
        while time.monotonic() < deadline:
            self._check_cancel()
            try:
                custom.get_namespaced_custom_object(
                    pj.GROUP, pj.VERSION, namespace, pj.PLURAL, name
                )
            except ApiException as exc:
                if exc.status == 404:
                    custom.create_namespaced_custom_object(
                        pj.GROUP, pj.VERSION, namespace, pj.PLURAL, job
                    )
                    return
                raise
            self._sleep(min(self.poll_interval_s, 2.0))
        raise ApiException(status=409, reason=f"the previous job {name} was not deleted in time")

    def _delete(self, custom, namespace: str, name: str, propagation: str = "Background") -> None:
        """Delete the job and (through garbage collection) its pods; never raises."""
        try:
            custom.delete_namespaced_custom_object(
                pj.GROUP, pj.VERSION, namespace, pj.PLURAL, name, propagation_policy=propagation
            )
            logger.info("deleted PyTorchJob %s/%s", namespace, name)
        except ApiException as exc:
            if exc.status != 404:
                logger.error("could not delete PyTorchJob %s/%s: %s", namespace, name, exc)
        except (HTTPError, OSError) as exc:
            logger.error("could not delete PyTorchJob %s/%s: %s", namespace, name, exc)

    def _job(self, spec: TrainingJobSpec, namespace: str, owner: OwnerPod | None) -> dict[str, Any]:
        job = pj.build_pytorchjob(spec, self.options)
        job["metadata"]["namespace"] = namespace
        if owner is not None and owner.namespace == namespace:
            job["metadata"]["ownerReferences"] = [owner.owner_reference()]
            job["metadata"]["annotations"]["luke-pipeline/launcher-pod"] = owner.name
        elif owner is not None:
            logger.warning(
                "the job's namespace %s is not my pod's (%s): no owner reference, so only this "
                "step deletes the job",
                namespace,
                owner.namespace,
            )
        return job

    def _client(self) -> client.ApiClient:
        if self._api_client is None:
            try:
                self._api_client, self._kubeconfig_namespace = load_api_client()
            except config.ConfigException as exc:
                raise LukeError(
                    f"no Kubernetes configuration: not in a cluster and no usable kubeconfig "
                    f"(KUBECONFIG or ~/.kube/config): {exc}"
                ) from exc
        return self._api_client

    def _namespace(self, owner: OwnerPod | None) -> str:
        return (
            self.options.namespace
            or (owner.namespace if owner else None)
            or own_namespace()
            or self._kubeconfig_namespace
            or "default"
        )

    def _api_error(self, exc: Exception, count: int) -> int:
        """Transient API trouble is waited out; a long run of failures ends the step."""
        count += 1
        logger.warning("Kubernetes API error (%d in a row): %s", count, exc)
        if count >= 30 or (isinstance(exc, ApiException) and exc.status in (401, 403)):
            raise exc
        self._sleep(self.poll_interval_s)
        return count

    def _check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise StepInterrupted("cancelled")

    def _sleep(self, seconds: float) -> None:
        if self.cancel_event.wait(seconds):
            raise StepInterrupted("cancelled")

    @contextmanager
    def _sigterm_raises(self) -> Iterator[None]:
        if not self.handle_sigterm or threading.current_thread() is not threading.main_thread():
            yield
            return
        received = []

        def on_sigterm(signum, frame):
            # Once only, and not during the clean-up: the job must still be deleted.
            if not received and not self._cleaning_up:
                received.append(signum)
                raise StepInterrupted("terminated by SIGTERM (pipeline run stopped?)")
            logger.warning("SIGTERM: finishing the clean-up first")

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
