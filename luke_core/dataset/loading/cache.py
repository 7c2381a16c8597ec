"""Local, checksum-verified files for a dataset's shards.

A shard on S3 is downloaded once per machine into a content-addressed cache
(`<root>/<sha256>.arrow`): the name is the checksum the dataset's metadata promises, the file
is verified before it is published with a rename, and a per-shard lock (`flock`) makes
parallel workers and ranks on one machine wait for one download instead of racing. So no
process ever opens a half-written or unverified shard, and the same dataset reached through
another URI, or a resumed run, reuses the files.

A local shard is read in place; it is verified once and the result remembered in the cache
(`<root>/verified/<sha256>`, keyed by path, size and mtime) so later epochs skip the hashing.

With `max_bytes`, downloaded shards not used for a minute are deleted, least recently used
first, once the cache grows beyond it (open memory maps of a deleted file stay valid).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from luke_core import storage
from luke_core.dataset.format import ShardInfo, file_sha256
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

SHARD_SUFFIX = ".arrow"
EVICTION_GRACE_S = 60.0


class ShardCache:
    """Where a worker gets the local path of a shard; picklable (holds only paths)."""

    def __init__(self, root: str | None = None, *, max_bytes: int | None = None):
        if max_bytes is not None and max_bytes <= 0:
            raise LukeError(f"the shard cache limit must be positive, got {max_bytes}")
        self.root = Path(root) if root else storage.cache_dir() / "dataset-shards"
        self.max_bytes = max_bytes
        self._verified: set[tuple[str, int, int]] = set()

    def local_path(self, dataset_dir: str, shard: ShardInfo) -> str:
        """A verified local file holding `shard` of `dataset_dir` (local or s3://)."""
        uri = storage.join(dataset_dir, shard.name)
        if storage.is_s3(uri):
            return self._fetch(uri, shard)
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        self._verify_local(path, shard)
        return path

    def _fetch(self, uri: str, shard: ShardInfo) -> str:
        target = self.root / f"{shard.sha256}{SHARD_SUFFIX}"
        if _touch(target):
            return str(target)
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / f"{shard.sha256}.lock"):
            if _touch(target):  # another process fetched it while we waited
                return str(target)
            tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
            try:
                started = time.monotonic()
                storage.copy_to_local(uri, str(tmp))
                _check(str(tmp), uri, shard)
                os.replace(tmp, target)
                logger.debug(
                    "fetched %s (%.1f MB, %.1fs)",
                    uri,
                    shard.bytes / 1e6,
                    time.monotonic() - started,
                )
            finally:
                tmp.unlink(missing_ok=True)
        self._evict()
        return str(target)

    def _verify_local(self, path: str, shard: ShardInfo) -> None:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise LukeError(f"{path}: shard missing (listed in the dataset's metadata)") from None
        key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
        if key in self._verified:
            return
        marker = self.root / "verified" / shard.sha256
        if _read_marker(marker) != list(key):
            _check(path, path, shard)
            marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = marker.with_name(f".{marker.name}.tmp-{uuid.uuid4().hex}")
            tmp.write_text(json.dumps(list(key)))
            os.replace(tmp, marker)
        self._verified.add(key)

    def _evict(self) -> None:
        if self.max_bytes is None:
            return
        files = []
        for path in self.root.glob(f"*{SHARD_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        now = time.time()
        for mtime, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            if now - mtime < EVICTION_GRACE_S:
                continue  # just fetched or in use: another process may be about to open it
            path.unlink(missing_ok=True)
            total -= size


def _check(path: str, source: str, shard: ShardInfo) -> None:
    size = os.path.getsize(path)
    if size != shard.bytes:
        raise LukeError(
            f"{source}: {size} bytes where the dataset's metadata says {shard.bytes}: the "
            "shard is truncated or was replaced after the dataset was built"
        )
    digest = file_sha256(path)
    if digest != shard.sha256:
        raise LukeError(
            f"{source}: checksum mismatch (sha256 {digest[:16]}..., the dataset's metadata "
            f"says {shard.sha256[:16]}...): the shard is corrupt or was replaced after the "
            "dataset was built"
        )


def _touch(path: Path) -> bool:
    """Mark a cached file as used now; False when it is not there."""
    try:
        os.utime(path)
        return True
    except FileNotFoundError:
        return False


def _read_marker(path: Path) -> list | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes and threads (each call opens its own file
    description, so `flock` also serialises threads of one process)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
