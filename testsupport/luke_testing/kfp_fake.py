"""A local HTTP server speaking the part of the Kubeflow Pipelines v2beta1 REST API that
`kfp.Client.create_run_from_pipeline_package` calls (kfp 2.17), so tests submit runs with
the real client:

  GET  /apis/v2beta1/healthz                 multi_user (the client asks at construction)
  GET  /apis/v2beta1/experiments?filter=...  find an experiment by display_name
  POST /apis/v2beta1/experiments             create one
  GET  /apis/v2beta1/experiments/ID
  POST /apis/v2beta1/runs                    a run with the pipeline spec inline (the
                                             compiled YAML's documents as one JSON object)
  GET  /apis/v2beta1/runs/ID

Like the API server behind Kubeflow's authentication, every endpoint but healthz needs
`Authorization: Bearer TOKEN` when the server has a token (else 401). A run is checked as
the API server checks it: its experiment exists, and every runtime parameter is one the
pipeline spec declares. Requests (with their Authorization header) are recorded.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/apis/v2beta1"


class _ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


@dataclass
class FakeKfp:
    """`with FakeKfp(token="...") as kfp:` serves on a free loopback port (`kfp.url`)."""

    token: str | None = None
    multi_user: bool = False
    experiments: dict[str, dict] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKfp:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, path: str, query: dict, body: Any) -> dict:
        routes = [
            ("GET", rf"^{API}/healthz$", self.healthz),
            ("GET", rf"^{API}/experiments$", self.list_experiments),
            ("POST", rf"^{API}/experiments$", self.create_experiment),
            ("GET", rf"^{API}/experiments/(?P<ident>[^/:]+)$", self.get_experiment),
            ("POST", rf"^{API}/runs$", self.create_run),
            ("GET", rf"^{API}/runs/(?P<ident>[^/:]+)$", self.get_run),
        ]
        for route_method, pattern, handler in routes:
            match = re.match(pattern, path)
            if match and method == route_method:
                return handler(query=query, body=body, **match.groupdict())
        raise _ApiError(404, f"no route for {method} {path}")

    def healthz(self, **_) -> dict:
        return {"commit_sha": "fake", "tag_name": "2.17.3", "multi_user": self.multi_user}

    def list_experiments(self, query: dict, **_) -> dict:
        wanted = _filter_equals(query.get("filter", [""])[0])
        namespace = query.get("namespace", [None])[0]
        found = [
            e
            for e in self.experiments.values()
            if all(e.get(key) == value for key, value in wanted.items())
            and (namespace is None or e.get("namespace", "") == namespace)
        ]
        return {"experiments": found, "total_size": len(found)} if found else {}

    def create_experiment(self, body: dict, **_) -> dict:
        if not body or not body.get("display_name"):
            raise _ApiError(400, "an experiment needs a display_name")
        experiment = {
            "experiment_id": str(uuid.uuid4()),
            "display_name": body["display_name"],
            "description": body.get("description") or "",
            "namespace": body.get("namespace") or "",
            "created_at": _now(),
            "storage_state": "AVAILABLE",
        }
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def get_experiment(self, ident: str, **_) -> dict:
        if ident not in self.experiments:
            raise _ApiError(404, f"experiment {ident} not found")
        return self.experiments[ident]

    def create_run(self, body: dict, **_) -> dict:
        if body.get("experiment_id") not in self.experiments:
            raise _ApiError(404, f"experiment {body.get('experiment_id')} not found")
        spec = body.get("pipeline_spec") or {}
        pipeline_spec = spec.get("pipeline_spec", spec)  # with a platform spec: both documents
        if "root" not in pipeline_spec or "pipelineInfo" not in pipeline_spec:
            raise _ApiError(400, "the run carries no pipeline spec")
        declared = pipeline_spec["root"].get("inputDefinitions", {}).get("parameters", {})
        parameters = (body.get("runtime_config") or {}).get("parameters") or {}
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise _ApiError(400, f"parameters {unknown} are not in the pipeline spec")
        run = {
            **body,
            "run_id": str(uuid.uuid4()),
            "state": "PENDING",
            "created_at": _now(),
            "storage_state": "AVAILABLE",
        }
        self.runs[run["run_id"]] = run
        return run

    def get_run(self, ident: str, **_) -> dict:
        if ident not in self.runs:
            raise _ApiError(404, f"run {ident} not found")
        return self.runs[ident]


def _filter_equals(text: str) -> dict[str, Any]:
    """The EQUALS predicates of a v2beta1 filter (`{"predicates": [...]}`, JSON; the
    operation as its enum name or number, as protobuf's JSON mapping allows)."""
    if not text:
        return {}
    wanted = {}
    for predicate in json.loads(text).get("predicates", []):
        if predicate.get("operation") not in ("EQUALS", 1):
            raise _ApiError(400, f"unsupported filter operation {predicate.get('operation')}")
        value = next(v for k, v in predicate.items() if k.endswith("Value") or k == "value")
        wanted[predicate["key"]] = value
    return wanted


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _handler_for(kfp: FakeKfp):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server's naming
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorization = self.headers.get("Authorization")
            with kfp._lock:
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw.decode(errors="replace")
                query = parse_qs(url.query)
                kfp.requests.append(RecordedRequest(method, url.path, query, authorization, body))
                try:
                    open_path = url.path == f"{API}/healthz"
                    if kfp.token and not open_path and authorization != f"Bearer {kfp.token}":
                        raise _ApiError(401, "Unauthorized: no valid bearer token")
                    result = kfp.route(method, url.path, query, body)
                except _ApiError as exc:
                    return self._send(exc.status, {"error": exc.message, "message": exc.message,
                                                   "code": exc.status})  # fmt: skip
            self._send(200, result)

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
