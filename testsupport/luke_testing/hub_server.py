"""A local HTTP server that speaks the Hugging Face Hub endpoints `luke upload` calls
through huggingface_hub, so tests run the real client against it (HF_ENDPOINT=server.url):

  POST /api/repos/create                          create_repo (409 when it exists)
  POST /api/validate-yaml                         the README's metadata (YAML front matter)
  POST /api/models/NS/NAME/branch/BRANCH          create_branch (from main)
  POST /api/models/NS/NAME/preupload/REVISION     upload mode per file: regular or lfs
  POST /NS/NAME.git/info/lfs/objects/batch        LFS batch API: where to PUT each object
  PUT  /lfs/OID        POST /lfs/verify           the LFS transfer ("basic") and its check
  POST /api/models/NS/NAME/commit/REVISION        the NDJSON commit

Every request must carry `Authorization: Bearer TOKEN` (else 401), except the LFS PUT,
which, as the Hub's presigned storage URLs, is authorised by a signature in its URL. The
server keeps each branch's files (bytes), the commits and a log of requests for the tests.
Large files go through LFS (files of `lfs_threshold` bytes or more); a client with Xet
storage enabled would ask for Xet instead, so tests set HF_HUB_DISABLE_XET=1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_ROUTES = [
    ("POST", re.compile(r"^/api/repos/create$"), "create_repo"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/branch/(?P<rev>.+)$"), "create_branch"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/preupload/(?P<rev>.+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/commit/(?P<rev>.+)$"), "commit"),
    ("POST", re.compile(rf"^/{_REPO}\.git/info/lfs/objects/batch$"), "lfs_batch"),
    ("PUT", re.compile(r"^/lfs/(?P<oid>[0-9a-f]{64})$"), "lfs_put"),
    ("POST", re.compile(r"^/lfs/verify$"), "lfs_verify"),
]


@dataclass
class HubRepo:
    repo_id: str
    private: bool
    branches: dict[str, dict[str, bytes]] = field(default_factory=lambda: {"main": {}})
    commits: list[dict] = field(default_factory=list)


class _HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra


class HubServer:
    """The fake Hub; `with HubServer(token) as hub:` starts and stops it."""

    def __init__(self, token: str, *, lfs_threshold: int = 4096, user: str = "user"):
        self.token = token
        self.lfs_threshold = lfs_threshold
        self.user = user
        self.repos: dict[str, HubRepo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        return self.repos[repo_id].branches[revision]

    def create_repo(self, body: bytes, **_) -> dict:
        payload = json.loads(body)
        repo_id = f"{payload.get('organization') or self.user}/{payload['name']}"
        if repo_id in self.repos:  # the Hub answers with the existing repo's url
            raise _HubError(409, "You already created this model repo", url=self._url(repo_id))
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        self.repos[repo_id] = HubRepo(repo_id, private)
        return {"url": self._url(repo_id), "name": repo_id}

    def _url(self, repo_id: str) -> str:
        return f"{self.url}/{repo_id}"

    def validate_yaml(self, body: bytes, **_) -> dict:
        """The checks the Hub makes on a model card's metadata that matter here: YAML that
        parses to a mapping, with a list of language codes and string tags."""
        import yaml

        content = json.loads(body)["content"]
        match = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
        if not match:
            return {"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]}
        try:
            metadata = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise _HubError(400, f"invalid YAML: {exc}") from None
        problems = []
        if not isinstance(metadata, dict):
            problems.append("metadata must be a mapping")
        else:
            for key in ("language", "tags", "datasets"):
                value = metadata.get(key, [])
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    problems.append(f"{key} must be a list of strings")
        if problems:
            raise _HubError(400, "; ".join(problems))
        return {"errors": [], "warnings": []}

    def create_branch(self, repo: str, rev: str, **_) -> dict:
        branches = self._repo(repo).branches
        if rev in branches:
            raise _HubError(409, f"Branch {rev} already exists")
        branches[rev] = dict(branches["main"])
        return {}

    def preupload(self, repo: str, rev: str, body: bytes, **_) -> dict:
        self._branch(repo, rev)
        files = json.loads(body)["files"]
        return {
            "files": [
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if f["size"] >= self.lfs_threshold else "regular",
                    "shouldIgnore": False,
                    "oid": None,
                }
                for f in files
            ]
        }

    def lfs_batch(self, repo: str, body: bytes, **_) -> dict:
        self._repo(repo)
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.lfs_objects:
                signature = self._signature(obj["oid"])
                entry["actions"] = {
                    "upload": {
                        "href": f"{self.url}/lfs/{obj['oid']}?sig={signature}",
                        "header": {},
                    },
                    "verify": {"href": f"{self.url}/lfs/verify", "header": {}},
                }
            objects.append(entry)
        return {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}

    def _signature(self, oid: str) -> str:
        return hmac.new(self.token.encode(), oid.encode(), hashlib.sha256).hexdigest()

    def lfs_put(self, oid: str, body: bytes, query: dict, **_) -> dict:
        if query.get("sig", [""])[0] != self._signature(oid):
            raise _HubError(403, "invalid signature")
        if hashlib.sha256(body).hexdigest() != oid:
            raise _HubError(400, "the content does not match its sha256")
        self.lfs_objects[oid] = body
        return {}

    def lfs_verify(self, body: bytes, **_) -> dict:
        payload = json.loads(body)
        stored = self.lfs_objects.get(payload["oid"])
        if stored is None or len(stored) != payload["size"]:
            raise _HubError(404, "object not uploaded")
        return {}

    def commit(self, repo: str, rev: str, body: bytes, **_) -> dict:
        files = self._branch(repo, rev)
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(item["value"] for item in lines if item["key"] == "header")
        changed = {}
        for item in lines:
            value = item["value"]
            if item["key"] == "file":
                changed[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "lfsFile":
                if value["oid"] not in self.lfs_objects:
                    raise _HubError(422, f"LFS object of {value['path']} was never uploaded")
                changed[value["path"]] = self.lfs_objects[value["oid"]]
        files.update(changed)
        oid = hashlib.sha1(json.dumps(sorted(changed)).encode() + body).hexdigest()
        self.repos[repo].commits.append(
            {"revision": rev, "summary": header["summary"], "files": sorted(changed), "oid": oid}
        )
        return {"commitUrl": f"{self.url}/{repo}/commit/{oid}", "commitOid": oid}

    def _repo(self, repo: str) -> HubRepo:
        if repo not in self.repos:
            raise _HubError(404, "Repository not found", "RepoNotFound")
        return self.repos[repo]

    def _branch(self, repo: str, rev: str) -> dict[str, bytes]:
        branches = self._repo(repo).branches
        if rev not in branches:
            raise _HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return branches[rev]


def _handler_for(hub: HubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # http.server's naming
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            body = self._body()
            authorized = self.headers.get("Authorization") == f"Bearer {hub.token}"
            presigned = method == "PUT"  # the LFS storage checks its URL's signature
            with hub._lock:
                hub.requests.append({"method": method, "path": url.path, "authorized": authorized})
                try:
                    if not (authorized or presigned):
                        raise _HubError(401, "Invalid username or password.")
                    result = self._route(method, url.path, body, parse_qs(url.query))
                except _HubError as exc:
                    return self._send(exc.status, {"error": exc.message, **exc.extra}, exc.code)
            self._send(200, result)

        def _route(self, method: str, path: str, body: bytes, query: dict) -> dict:
            for route_method, pattern, name in _ROUTES:
                match = pattern.match(path)
                if match and route_method == method:
                    params = {k: unquote(v) for k, v in match.groupdict().items()}
                    return getattr(hub, name)(body=body, query=query, **params)
            raise _HubError(404, f"no route for {method} {path}")

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, payload: dict, code: str | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if code:
                self.send_header("X-Error-Code", code)
            if status >= 400:
                self.send_header("X-Error-Message", payload.get("error", ""))
            self.end_headers()
            self.wfile.write(data)

    return Handler
