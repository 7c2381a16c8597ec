"""A local HTTP server speaking the part of the Kubernetes API that the PyTorchJob launcher
calls, with a scripted training operator behind it.

Endpoints: PyTorchJob create / get / delete (custom objects), pods list (by the operator's
job-name label) and get, and pod logs (plain, `tailLines`, `sinceSeconds`, `timestamps`, and
`follow` as a chunked stream that ends when the container stops). Every request is recorded,
so tests assert what the launcher did (above all: that it deleted the job).

A `Scenario` says what the job and its pods look like `t` seconds after the job was created,
and when each master log line appears.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client

JOBS_PREFIX = "/apis/kubeflow.org/v1/namespaces/"
PODS_PREFIX = "/api/v1/namespaces/"


@dataclass
class PodState:
    phase: str = "Pending"
    waiting: tuple[str, str] | None = None  # (reason, message)
    unschedulable: str | None = None  # the scheduler's message
    exit_code: int | None = None  # set when the container has terminated
    restarted_exit_code: int | None = None  # lastState: an earlier run's exit


@dataclass
class Snapshot:
    conditions: list[dict[str, str]] = field(default_factory=list)
    pods: dict[str, PodState] = field(default_factory=dict)  # by suffix: "master-0", ...


@dataclass
class Scenario:
    """`at(t)` gives the snapshot t seconds after creation; `logs` the lines of each pod
    (by suffix) with the second they appear; `drop_first_stream_after` cuts the first followed
    log stream of the master after that many lines (a dropped connection)."""

    at: Callable[[float], Snapshot]
    logs: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    drop_first_stream_after: int | None = None


def condition(kind: str, message: str = "", reason: str = "", stamp: str = "") -> dict:
    return {
        "type": kind,
        "status": "True",
        "reason": reason or f"PyTorchJob{kind}",
        "message": message or f"PyTorchJob is {kind.lower()}.",
        "lastTransitionTime": stamp or "2025-01-01T00:00:00Z",
        "lastUpdateTime": stamp or "2025-01-01T00:00:00Z",
    }


def rfc3339(seconds: float) -> str:
    """Like the kubelet: nanoseconds, trailing zeros trimmed."""
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)
    base = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


class FakeKubernetes:
    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.lock = threading.Lock()
        self.jobs: dict[tuple[str, str], dict] = {}
        self.created_at: dict[tuple[str, str], tuple[float, float]] = {}  # (monotonic, wall)
        self.extra_pods: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.created: list[dict] = []
        self.deleted: list[tuple[str, str, str | None]] = []
        self.fail_next_gets = 0  # answer that many job GETs with fail_status
        self.fail_status = 500
        self.closing = threading.Event()
        self._streams_opened = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def api_client(self) -> client.ApiClient:
        """A real kubernetes client, pointed at this server."""
        return client.ApiClient(client.Configuration(host=self.url))

    def start(self) -> FakeKubernetes:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    def add_job(self, namespace: str, job: dict) -> None:
        """A job that exists before the test (e.g. left by an earlier attempt)."""
        key = (namespace, job["metadata"]["name"])
        self.jobs[key] = json.loads(json.dumps(job))
        self.created_at[key] = (time.monotonic(), time.time())

    def add_pod(self, namespace: str, name: str, uid: str) -> None:
        self.extra_pods[(namespace, name)] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "status": {"phase": "Running"},
        }

    def requests_of(self, method: str, path_part: str = "") -> list[tuple[str, dict]]:
        return [(p, q) for m, p, q in self.requests if m == method and path_part in p]

    # What the scripted operator shows at a given moment.

    def _elapsed(self, key: tuple[str, str]) -> float:
        return time.monotonic() - self.created_at[key][0]

    def snapshot(self, key: tuple[str, str]) -> Snapshot:
        return self.scenario.at(self._elapsed(key))

    def job_with_status(self, key: tuple[str, str]) -> dict:
        job = json.loads(json.dumps(self.jobs[key]))
        job["status"] = {"conditions": self.snapshot(key).conditions}
        return job

    def pods_of(self, key: tuple[str, str]) -> list[dict]:
        namespace, name = key
        return [
            pod_object(namespace, name, suffix, state)
            for suffix, state in self.snapshot(key).pods.items()
        ]

    def find_pod(self, namespace: str, pod: str) -> tuple[tuple[str, str], str] | None:
        for key in self.jobs:
            if key[0] == namespace and pod.startswith(key[1] + "-"):
                suffix = pod[len(key[1]) + 1 :]
                if suffix in self.snapshot(key).pods:
                    return key, suffix
        return None

    def log_lines(self, key, suffix: str, since_s: float | None) -> list[tuple[float, str]]:
        """(wall time, text) of the lines written so far."""
        elapsed, wall0 = self._elapsed(key), self.created_at[key][1]
        lines = [
            (wall0 + at, text) for at, text in self.scenario.logs.get(suffix, []) if at <= elapsed
        ]
        if since_s is not None:
            lines = [line for line in lines if line[0] >= time.time() - since_s]
        return lines

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else small writes wait for delayed ACKs (40 ms)

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_DELETE(self):
                self._route("DELETE")

            def _route(self, method: str) -> None:
                parsed = urlparse(self.path)
                query = parse_qs(parsed.query)
                with fake.lock:
                    fake.requests.append((method, parsed.path, query))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route_request(fake, self, method, parsed.path, query, body)

            def send_json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def send_text(self, text: str) -> None:
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def send_status(self, code: int, message: str, reason: str = "") -> None:
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
                self.send_json(code, {**status, "code": code, "message": message, "reason": reason})

        return Handler


def route_request(fake: FakeKubernetes, handler, method, path, query, body) -> None:
    if path.startswith(JOBS_PREFIX) and "/pytorchjobs" in path:
        parts = path[len(JOBS_PREFIX) :].split("/")  # ns, "pytorchjobs", [name]
        namespace, name = parts[0], (parts[2] if len(parts) > 2 else None)
        return handle_job(fake, handler, method, namespace, name, query, body)
    if path.startswith(PODS_PREFIX) and "/pods" in path:
        parts = path[len(PODS_PREFIX) :].split("/")  # ns, "pods", [name, ["log"]]
        namespace = parts[0]
        if len(parts) == 2:
            return handle_pod_list(fake, handler, namespace, query)
        if len(parts) == 3:
            return handle_pod_get(fake, handler, namespace, parts[2])
        if len(parts) == 4 and parts[3] == "log":
            return handle_log(fake, handler, namespace, parts[2], query)
    handler.send_status(404, f"no route for {method} {path}", "NotFound")


def handle_job(fake, handler, method, namespace, name, query, body) -> None:
    with fake.lock:
        if method == "POST":
            key = (namespace, body["metadata"]["name"])
            if key in fake.jobs:
                return handler.send_status(
                    409, f"pytorchjobs {key[1]} already exists", "AlreadyExists"
                )
            body["metadata"]["uid"] = str(uuid.uuid4())
            body["metadata"]["creationTimestamp"] = rfc3339(int(time.time()))
            fake.created.append(json.loads(json.dumps(body)))
            fake.add_job(namespace, body)
            return handler.send_json(201, body)
        key = (namespace, name)
        if key not in fake.jobs:
            return handler.send_status(404, f"pytorchjobs {name} not found", "NotFound")
        if method == "DELETE":
            propagation = (query.get("propagationPolicy") or [None])[0]
            fake.deleted.append((namespace, name, propagation))
            del fake.jobs[key]
            return handler.send_json(200, {"kind": "Status", "status": "Success"})
        if fake.fail_next_gets > 0:
            fake.fail_next_gets -= 1
            return handler.send_status(fake.fail_status, "no luck this time", "InternalError")
        return handler.send_json(200, fake.job_with_status(key))


def handle_pod_list(fake, handler, namespace, query) -> None:
    selector = (query.get("labelSelector") or [""])[0]
    label, _, job_name = selector.partition("=")
    assert label == "training.kubeflow.org/job-name", selector
    with fake.lock:
        key = (namespace, job_name)
        items = fake.pods_of(key) if key in fake.jobs else []
    handler.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})


def handle_pod_get(fake, handler, namespace, pod) -> None:
    with fake.lock:
        if (namespace, pod) in fake.extra_pods:
            return handler.send_json(200, fake.extra_pods[(namespace, pod)])
        found = fake.find_pod(namespace, pod)
        if found is None:
            return handler.send_status(404, f'pods "{pod}" not found', "NotFound")
        key, suffix = found
        return handler.send_json(
            200, pod_object(namespace, key[1], suffix, fake.snapshot(key).pods[suffix])
        )


def handle_log(fake, handler, namespace, pod, query) -> None:
    assert query.get("container") == ["pytorch"], query
    with fake.lock:
        found = fake.find_pod(namespace, pod)
        if found is None:
            return handler.send_status(404, f'pods "{pod}" not found', "NotFound")
        key, suffix = found
        state = fake.snapshot(key).pods[suffix]
    if state.phase == "Pending":
        message = f'container "pytorch" in pod "{pod}" is waiting to start: ContainerCreating'
        return handler.send_status(400, message, "BadRequest")
    since = float(query["sinceSeconds"][0]) if "sinceSeconds" in query else None
    stamps = query_bool(query, "timestamps")
    if not query_bool(query, "follow"):
        with fake.lock:
            lines = fake.log_lines(key, suffix, since)
        if "tailLines" in query:
            lines = lines[-int(query["tailLines"][0]) :]
        return handler.send_text("".join(format_line(w, t, stamps) for w, t in lines))
    stream_log(fake, handler, key, suffix, since, stamps)


def query_bool(query: dict[str, list[str]], name: str) -> bool:
    """As the API server parses it (Go's ParseBool): the Python client sends `True`."""
    return (query.get(name) or ["false"])[0] in ("1", "t", "T", "true", "TRUE", "True")


def format_line(wall: float, text: str, stamps: bool) -> str:
    return f"{rfc3339(wall)} {text}\n" if stamps else f"{text}\n"


def stream_log(fake, handler, key, suffix, since, stamps) -> None:
    """A followed log, chunked as lines appear, until the container stops (or, to test
    reconnects, cut without the final chunk after `drop_first_stream_after` lines)."""
    with fake.lock:
        fake._streams_opened += 1
        drop_after = fake.scenario.drop_first_stream_after if fake._streams_opened == 1 else None
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    sent = 0
    while not fake.closing.is_set():
        with fake.lock:
            if key not in fake.jobs:
                break
            lines = fake.log_lines(key, suffix, since)
            running = fake.snapshot(key).pods.get(suffix, PodState()).exit_code is None
        new = lines[sent:] if drop_after is None else lines[sent : max(sent, drop_after)]
        if new:
            write_chunk(handler, "".join(format_line(wall, text, stamps) for wall, text in new))
            sent += len(new)
        if drop_after is not None and sent >= drop_after:
            handler.close_connection = True
            handler.connection.shutdown(2)  # no final chunk: the client sees a cut stream
            return
        if not running:
            break
        time.sleep(0.01)
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


def write_chunk(handler, text: str) -> None:
    data = text.encode()
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def pod_object(namespace: str, job: str, suffix: str, state: PodState) -> dict:
    replica_type, index = suffix.rsplit("-", 1)
    container: dict[str, Any] = {
        "name": "pytorch",
        "ready": state.phase == "Running",
        "restartCount": 0,
        "image": "x",
        "imageID": "",
        "state": {},
    }
    if state.waiting:
        container["state"] = {"waiting": {"reason": state.waiting[0], "message": state.waiting[1]}}
    elif state.exit_code is not None:
        reason = "Completed" if state.exit_code == 0 else "Error"
        container["state"] = {"terminated": {"exitCode": state.exit_code, "reason": reason}}
    elif state.phase == "Running":
        container["state"] = {"running": {"startedAt": "2025-01-01T00:00:00Z"}}
    if state.restarted_exit_code is not None:
        container["lastState"] = {
            "terminated": {"exitCode": state.restarted_exit_code, "reason": "Error"}
        }
        container["restartCount"] = 1
    conditions = []
    if state.unschedulable:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": state.unschedulable,
            }
        )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job}-{suffix}",
            "namespace": namespace,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{job}-{suffix}")),
            "labels": {
                "training.kubeflow.org/job-name": job,
                "training.kubeflow.org/replica-type": replica_type,
                "training.kubeflow.org/replica-index": index,
            },
        },
        "status": {
            "phase": state.phase,
            "conditions": conditions,
            "containerStatuses": [] if state.unschedulable else [container],
        },
    }
