"""Shared fixtures: real test data from ../shared (via LUKE_TEST_DATA), a real SeaweedFS
S3 server, and clean-up of DeepSpeed's shared-memory buffers."""

from __future__ import annotations

import contextlib
import glob
import os
import uuid
from pathlib import Path

import pytest

from luke_core import storage
from luke_testing.seaweedfs import start_seaweedfs
from luke_testing.shared_data import shared_data_path

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(scope="session")
def enwiki_fragment() -> Path:
    return shared_data_path(
        "wikipedia", "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    )


@pytest.fixture(scope="session")
def seaweedfs():
    """One SeaweedFS server for the whole session, stopped at the end."""
    server = start_seaweedfs()
    yield server
    server.stop()


@pytest.fixture
def s3(seaweedfs, monkeypatch):
    """An empty bucket on the SeaweedFS server, with the client environment set:
    yields its `s3://bucket` URI."""
    for key, value in seaweedfs.env.items():
        monkeypatch.setenv(key, value)
    storage._clients.clear()
    bucket = seaweedfs.create_bucket(f"test-{uuid.uuid4().hex[:12]}")
    yield f"s3://{bucket}"
    storage._clients.clear()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LUKE_CACHE_DIR", str(tmp_path_factory.mktemp("luke-cache")))


@pytest.fixture
def clean_deepspeed_shm():
    """DeepSpeed leaves /dev/shm/deepspeed_* buffers behind; remove what a test made."""
    before = set(glob.glob("/dev/shm/deepspeed_*"))
    yield
    for path in set(glob.glob("/dev/shm/deepspeed_*")) - before:
        with contextlib.suppress(OSError):
            os.remove(path)
