"""All file I/O of luke_core: a local path and an `s3://bucket/key` URI behind one interface.

Paths are plain strings everywhere. S3 goes through boto3: the endpoint comes from
`AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`), credentials from the usual AWS variables,
so the same code runs against SeaweedFS or MinIO in Kubeflow, AWS S3, or a test server.

Outputs are published atomically. `output_file` and `output_dir` hand the caller a local
temporary location and move it into place only when the block finishes without error:
locally by a rename inside the target's folder, on S3 by uploading (a single or completed
multipart PUT appears whole or not at all) with the directory's completion markers last.
A crash therefore never leaves at the output location something a later step could take
for a finished result.
"""

from __future__ import annotations

import contextlib
import glob as globlib
import io
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from luke_core.errors import LukeError

S3_PREFIX = "s3://"
_DIGIT_RUN = re.compile(r"(\d+)")
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_PREFIX)


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> (`bucket`, `a/b`)."""
    rest = uri[len(S3_PREFIX) :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise LukeError(f"{uri}: an S3 URI needs a bucket, as in s3://bucket/key")
    return bucket, key


def _local(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def join(base: str, *parts: str) -> str:
    """Join path parts; S3 URIs always use `/`."""
    if is_s3(base):
        out = base.rstrip("/")
        for part in parts:
            out += "/" + part.strip("/")
        return out
    return os.path.join(_local(base), *parts)


def basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] if is_s3(uri) else os.path.basename(_local(uri))


def parent(uri: str) -> str:
    if is_s3(uri):
        return uri.rstrip("/").rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(_local(uri)))


def cache_dir() -> Path:
    """Where downloaded S3 objects and fetched samples are kept (`LUKE_CACHE_DIR`)."""
    root = os.environ.get("LUKE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "luke"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


_clients: dict[int, Any] = {}


def s3_client():
    """One boto3 client per process (boto3 clients must not cross a fork)."""
    pid = os.getpid()
    if pid not in _clients:
        import boto3
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 6, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
        )
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        _clients.clear()
        # a fresh session reads the environment now (the default session caches keys)
        session = boto3.session.Session()
        _clients[pid] = session.client("s3", config=config, region_name=region)
    return _clients[pid]


@contextlib.contextmanager
def _s3_errors(uri: str) -> Iterator[None]:
    """Turn boto3's exceptions into errors that name the URI and say what to check."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise LukeError(f"{uri}: no such object") from None
        if code == "NoSuchBucket":
            raise LukeError(f"{uri}: the bucket does not exist") from None
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            raise LukeError(
                f"{uri}: access denied ({code}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        raise LukeError(f"{uri}: S3 error {code}: {exc}") from None
    except (NoCredentialsError, PartialCredentialsError):
        raise LukeError(
            f"{uri}: no S3 credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except EndpointConnectionError as exc:
        raise LukeError(
            f"{uri}: cannot reach the S3 endpoint ({exc}); check AWS_ENDPOINT_URL"
        ) from None


class _S3Reader(io.RawIOBase):
    """A streaming, read-only file over an S3 object body."""

    def __init__(self, uri: str):
        bucket, key = split_s3(uri)
        with _s3_errors(uri):
            self._body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


def exists(uri: str) -> bool:
    """True for an existing file or a non-empty directory (S3: an object or a prefix)."""
    if not is_s3(uri):
        return os.path.exists(_local(uri))
    bucket, key = split_s3(uri)
    with _s3_errors(uri):
        if key and _head(bucket, key) is not None:
            return True
        prefix = key.rstrip("/") + "/" if key else ""
        resp = s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        return resp.get("KeyCount", 0) > 0


def is_file(uri: str) -> bool:
    if not is_s3(uri):
        return os.path.isfile(_local(uri))
    bucket, key = split_s3(uri)
    with _s3_errors(uri):
        return bool(key) and _head(bucket, key) is not None


def _head(bucket: str, key: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return s3_client().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def size(uri: str) -> int:
    return stat(uri).size


@dataclass(frozen=True)
class FileStat:
    """A file's size and when it was last written (ISO 8601, UTC): with the size, how a
    step tells that an input was replaced since it read it (a copy may keep an old time,
    a rewrite may keep the size)."""

    size: int
    modified: str


def stat(uri: str) -> FileStat:
    if not is_s3(uri):
        try:
            found = os.stat(_local(uri))
        except FileNotFoundError:
            raise LukeError(f"{uri}: no such file") from None
        modified = datetime.fromtimestamp(found.st_mtime_ns / 1e9, UTC)
        return FileStat(found.st_size, modified.isoformat())
    bucket, key = split_s3(uri)
    with _s3_errors(uri):
        head = _head(bucket, key)
    if head is None:
        raise LukeError(f"{uri}: no such object")
    return FileStat(int(head["ContentLength"]), head["LastModified"].astimezone(UTC).isoformat())


def list_files(uri: str) -> list[str]:
    """Every file below a directory (recursively), sorted, as full paths or URIs."""
    if not is_s3(uri):
        root = _local(uri)
        found = [
            os.path.join(dirpath, name) for dirpath, _, names in os.walk(root) for name in names
        ]
        return sorted(found)
    bucket, key = split_s3(uri)
    prefix = key.rstrip("/") + "/" if key else ""
    return [f"{S3_PREFIX}{bucket}/{k}" for k in _list_keys(bucket, prefix, uri)]


def _list_keys(bucket: str, prefix: str, uri: str) -> list[str]:
    keys: list[str] = []
    with _s3_errors(uri):
        for page in (
            s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)


def _glob_regex(pattern: str) -> re.Pattern:
    """A shell glob as a regex: `*` and `?` stay within one path segment, `**` crosses
    segments, `[...]` is a character class."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def expand(patterns: str | Sequence[str], *, what: str = "input") -> list[str]:
    """Expand globs (local or S3) in order; each pattern's matches in natural order (the
    parts of a dump: `articles2` before `articles10`); an error if one matches nothing.
    Files and directories (S3 prefixes) both match."""
    if isinstance(patterns, str):
        patterns = [patterns]
    out: list[str] = []
    for pattern in patterns:
        if not _GLOB_CHARS.search(pattern):
            if not exists(pattern):
                raise LukeError(f"{pattern}: {what} not found")
            out.append(pattern)
            continue
        matches = _expand_s3(pattern) if is_s3(pattern) else globlib.glob(_local(pattern))
        matches = sorted(matches, key=natural_key)
        if not matches:
            raise LukeError(f"{pattern}: no {what} matches this pattern")
        out.extend(matches)
    return out


def natural_key(name: str) -> list[str | int]:
    """Digit runs compare as numbers (`re.split` alternates text and digits, so like
    compares with like)."""
    return [int(part) if i % 2 else part for i, part in enumerate(_DIGIT_RUN.split(name))]


def _expand_s3(pattern: str) -> list[str]:
    bucket, key_pattern = split_s3(pattern)
    literal = _GLOB_CHARS.split(key_pattern, 1)[0]
    list_prefix = literal[: literal.rfind("/") + 1]
    regex = _glob_regex(key_pattern.rstrip("/"))
    candidates: set[str] = set()
    for key in _list_keys(bucket, list_prefix, pattern):
        parts = key.split("/")
        candidates.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return [f"{S3_PREFIX}{bucket}/{c}" for c in sorted(candidates) if regex.fullmatch(c)]


def open_input(uri: str, mode: str = "rb", encoding: str = "utf-8") -> BinaryIO | io.TextIOBase:
    """Open a file for streaming reads. An S3 object is streamed, not downloaded first."""
    if mode not in ("rb", "r"):
        raise ValueError(f"open_input mode must be 'rb' or 'r', not {mode!r}")
    if is_s3(uri):
        raw: BinaryIO = io.BufferedReader(_S3Reader(uri), buffer_size=1 << 20)
    else:
        path = _local(uri)
        if os.path.isdir(path):
            raise LukeError(f"{uri}: is a directory, expected a file")
        try:
            raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            raise LukeError(f"{uri}: no such file") from None
        except PermissionError:
            raise LukeError(f"{uri}: permission denied") from None
    return raw if mode == "rb" else io.TextIOWrapper(raw, encoding=encoding)


def read_bytes(uri: str) -> bytes:
    with open_input(uri, "rb") as f:
        return f.read()


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def read_json(uri: str) -> Any:
    try:
        return json.loads(read_text(uri))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LukeError(f"{uri}: not valid JSON ({exc})") from None


def local_copy(uri: str) -> str:
    """A local path holding the file: the path itself, or for S3 a copy in the cache that
    is downloaded again only when the object changed (by its ETag)."""
    if not is_s3(uri):
        path = _local(uri)
        if not os.path.exists(path):
            raise LukeError(f"{uri}: no such file")
        return path
    bucket, key = split_s3(uri)
    with _s3_errors(uri):
        head = _head(bucket, key)
        if head is None:
            raise LukeError(f"{uri}: no such object")
        target = cache_dir() / "s3" / bucket / key
        etag_file = target.with_name(target.name + ".etag")
        etag = head.get("ETag", "")
        if target.exists() and etag_file.exists() and etag_file.read_text() == etag:
            return str(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
        try:
            s3_client().download_file(bucket, key, str(tmp))
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        etag_file.write_text(etag)
    return str(target)


def download_dir(uri: str, local_dir: str) -> list[str]:
    """Copy every file below `uri` into `local_dir`, keeping relative paths."""
    copied = []
    root = uri.rstrip("/")
    for src in list_files(uri):
        rel = src[len(root) + 1 :] if is_s3(uri) else os.path.relpath(src, _local(uri))
        dst = os.path.join(local_dir, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        copy_to_local(src, dst)
        copied.append(dst)
    return copied


def copy_to_local(uri: str, path: str) -> None:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        with _s3_errors(uri):
            s3_client().download_file(bucket, key, path)
    else:
        shutil.copyfile(_local(uri), path)


def upload_file(path: str, uri: str) -> None:
    """Copy a local file to `uri` (S3 or local), atomically at the destination."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        with _s3_errors(uri):
            s3_client().upload_file(path, bucket, key)
        return
    dst = _local(uri)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = _sibling_temp(dst, "tmp")
    try:
        shutil.copyfile(path, tmp)
        os.replace(tmp, dst)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def upload_dir(local_dir: str, uri: str, *, last: Sequence[str] = ()) -> None:
    """Copy a local directory tree below `uri`; files named in `last` (relative paths)
    go after all others, so a reader that waits for them sees a complete directory."""
    files = sorted(
        os.path.relpath(os.path.join(dirpath, name), local_dir)
        for dirpath, _, names in os.walk(local_dir)
        for name in names
    )
    ordered = [f for f in files if f not in last] + [f for f in files if f in last]
    for rel in ordered:
        upload_file(os.path.join(local_dir, rel), join(uri, *rel.split(os.sep)))


def write_bytes(uri: str, data: bytes) -> None:
    with output_file(uri) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(uri: str, text: str) -> None:
    write_bytes(uri, text.encode("utf-8"))


def write_json(uri: str, obj: Any) -> None:
    write_text(uri, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def remove(uri: str) -> None:
    """Delete a file or a whole directory (S3: every object under the prefix)."""
    if not is_s3(uri):
        path = _local(uri)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        return
    bucket, key = split_s3(uri)
    keys = [key] if key and is_file(uri) else []
    keys += _list_keys(bucket, key.rstrip("/") + "/" if key else "", uri)
    with _s3_errors(uri):
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            s3_client().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def _sibling_temp(path: str, tag: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{tag}-{uuid.uuid4().hex[:12]}")


def _scratch_dir() -> str:
    return tempfile.mkdtemp(prefix="luke-", dir=os.environ.get("LUKE_TMPDIR"))


@contextlib.contextmanager
def output_file(uri: str) -> Iterator[str]:
    """Yield a local path to write; publish it at `uri` only if the block succeeds."""
    if is_s3(uri):
        split_s3(uri)
        scratch = _scratch_dir()
        try:
            tmp = os.path.join(scratch, basename(uri) or "out")
            yield tmp
            if not os.path.exists(tmp):
                raise LukeError(f"{uri}: the step produced no output file")
            upload_file(tmp, uri)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    dst = _local(uri)
    if os.path.isdir(dst):
        raise LukeError(f"{uri}: is a directory, expected a file path")
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = _sibling_temp(dst, "tmp")
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise LukeError(f"{uri}: the step produced no output file")
        os.replace(tmp, dst)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


@dataclass(frozen=True)
class EarlierOutput:
    """How to recognise an earlier output of the same step, the only non-empty directory a
    new output may replace: `file` (JSON) holds `key: value`."""

    file: str
    key: str
    value: str
    description: str
    """What the output is, with its article: "a dataset"."""

    def found_at(self, uri: str) -> bool:
        marker = join(uri, self.file)
        if not is_file(marker):
            return False
        try:
            found = json.loads(read_bytes(marker))
        except ValueError:
            return False
        return isinstance(found, dict) and found.get(self.key) == self.value


def _check_replaceable(uri: str, replaces: EarlierOutput) -> None:
    """Refuse, before any work, to replace a directory that holds something else (the
    inputs, a training run, a bucket prefix of many outputs): publishing deletes it."""
    if is_s3(uri):
        empty = not exists(uri)
    else:
        path = _local(uri)
        empty = not os.path.isdir(path) or not os.listdir(path)
    if not empty and not replaces.found_at(uri):
        raise LukeError(
            f"{uri}: exists and is not {replaces.description} (no {replaces.file} of one); "
            "not replacing it: choose another output path or remove it yourself"
        )


@contextlib.contextmanager
def output_dir(uri: str, *, replaces: EarlierOutput, markers: Sequence[str] = ()) -> Iterator[str]:
    """Yield a local empty directory to fill; publish it at `uri` only if the block
    succeeds, replacing an earlier output of the same kind (anything else there is
    refused up front). `markers` are the files whose presence tells readers the directory
    is complete: on S3 the old ones are deleted first and the new ones uploaded last."""
    _check_replaceable(uri, replaces)
    if is_s3(uri):
        scratch = _scratch_dir()
        try:
            yield scratch
            if exists(uri):
                for marker in markers:
                    remove(join(uri, marker))
                remove(uri)
            upload_dir(scratch, uri, last=markers)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    dst = _local(uri)
    if os.path.isfile(dst):
        raise LukeError(f"{uri}: is a file, expected a directory path")
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = _sibling_temp(dst, "tmp")
    os.makedirs(tmp)
    try:
        yield tmp
        old = _sibling_temp(dst, "old")
        if os.path.exists(dst):
            os.rename(dst, old)
        os.rename(tmp, dst)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
