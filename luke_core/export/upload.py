"""`upload_to_hub`: an exported model folder -> a Hugging Face Hub repository (`luke upload`).

The token comes from the environment variable HF_TOKEN only: never an argument, never a
file; it is handed to huggingface_hub and appears in no log or error message. A folder
holding something that looks like a credential (a token file, keys, a token in a text
file) is refused before anything is sent. The upload is one commit (`create_repo`, then
`create_commit` with every file of the folder; huggingface_hub sends the large ones through
LFS or Xet storage as the Hub asks). `dry_run` lists what would go, without a token.

The folder may be local or s3:// (copied to a local scratch folder first). The endpoint is
HF_ENDPOINT (default https://huggingface.co), as in huggingface_hub.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from luke_core import storage
from luke_core.errors import LukeError
from luke_core.progress import log_summary

logger = logging.getLogger(__name__)

TOKEN_ENV = "HF_TOKEN"
DEFAULT_ENDPOINT = "https://huggingface.co"
# what git-based uploads skip too (huggingface_hub's DEFAULT_IGNORE_PATTERNS)
SKIPPED_DIRS = (".git", ".cache")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")

CREDENTIAL_NAMES = {
    ".env",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    "credentials",
    "credentials.json",
    "token",
    "hf_token",
    ".hf_token",
    "stored_tokens",
    "secrets.json",
    "secrets.yaml",
    "secrets.yml",
    "service-account.json",
    "client_secret.json",
}
CREDENTIAL_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".env")
CREDENTIAL_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
CREDENTIAL_DIRS = (".aws", ".ssh", ".gnupg", ".huggingface", ".docker", ".kube")
CREDENTIAL_TEXT = re.compile(
    rb"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9])"  # Hugging Face token
    rb"|(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"  # AWS access key id
    rb"|aws_secret_access_key"
    rb"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
# model weights are not text; they are the one thing such a folder must carry
UNSCANNED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".model")


@dataclass(frozen=True, kw_only=True)
class UploadOptions:
    private: bool = False
    """Create the repository private (an existing repository keeps its visibility)."""
    revision: str | None = None
    """The branch to commit to (created from main when missing; default main)."""
    commit_message: str | None = None
    dry_run: bool = False
    """List the files that would go; needs no token and sends nothing."""
    endpoint: str | None = None
    """The Hub (default: HF_ENDPOINT, else https://huggingface.co)."""

    def __post_init__(self) -> None:
        if self.revision is not None and not self.revision.strip():
            raise LukeError("--revision must not be empty")
        if self.commit_message is not None and not self.commit_message.strip():
            raise LukeError("--commit-message must not be empty")


@dataclass(kw_only=True)
class UploadSummary:
    repo_id: str
    revision: str
    dry_run: bool
    files: list[dict] = field(default_factory=list)
    """[{"path", "bytes"}], in upload order."""
    bytes: int = 0
    repo_url: str | None = None
    commit_url: str | None = None
    commit_oid: str | None = None
    seconds: float = 0.0


def upload_to_hub(
    folder: str, repo_id: str, options: UploadOptions | None = None, *, api=None
) -> UploadSummary:
    """Upload every file of `folder` to the model repository `repo_id` in one commit.
    `api`: an `HfApi` to use (tests); by default one for the endpoint with HF_TOKEN."""
    options = options or UploadOptions()
    started = time.perf_counter()
    check_repo_id(repo_id)
    token = None if options.dry_run else _token()
    with _local_folder(folder) as local:
        files = list_upload_files(local, folder)
        refuse_credentials(local, files, folder, os.environ.get(TOKEN_ENV, "").strip() or None)
        summary = UploadSummary(
            repo_id=repo_id,
            revision=options.revision or "main",
            dry_run=options.dry_run,
            files=[{"path": p, "bytes": os.path.getsize(os.path.join(local, p))} for p in files],
        )
        summary.bytes = sum(f["bytes"] for f in summary.files)
        if not options.dry_run:
            _commit(api or _api(options, token), token, local, files, summary, options)
    summary.seconds = time.perf_counter() - started
    log_summary("upload", summary)
    return summary


def check_repo_id(repo_id: str) -> None:
    if not _REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise LukeError(f"{repo_id!r}: not a Hub repository id (expected NAMESPACE/NAME)")


def _token() -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise LukeError(
            f"{TOKEN_ENV} is not set: the Hub token is read from the environment only "
            "(--dry-run lists the files without one)"
        )
    return token


def _api(options: UploadOptions, token: str):
    from huggingface_hub import HfApi

    endpoint = options.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    return HfApi(endpoint=endpoint.rstrip("/"), token=token)


def list_upload_files(local: str, folder: str) -> list[str]:
    """Relative paths of the files to upload (`/`-separated, sorted); `.git` and `.cache`
    folders are skipped, as huggingface_hub's own folder uploads do."""
    found = []
    for dirpath, dirnames, names in os.walk(local):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in names:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                raise LukeError(f"{folder}: {os.path.relpath(path, local)} is a symbolic link")
            found.append(os.path.relpath(path, local).replace(os.sep, "/"))
    if not found:
        raise LukeError(f"{folder}: no files to upload")
    return sorted(found)


def refuse_credentials(local: str, files: list[str], folder: str, token: str | None) -> None:
    """A LukeError naming the first file that looks like a credential (never its content)."""
    for path in files:
        reason = _credential_reason(os.path.join(local, path), path, token)
        if reason:
            raise LukeError(
                f"{folder}: refusing to upload {path}: {reason}; remove it from the folder"
            )


def _credential_reason(full_path: str, path: str, token: str | None) -> str | None:
    parts = path.split("/")
    name = parts[-1].lower()
    if any(part.lower() in CREDENTIAL_DIRS for part in parts[:-1]):
        return "it lies in a credentials folder"
    if name in CREDENTIAL_NAMES or name.endswith(CREDENTIAL_SUFFIXES):
        return "its name is that of a credentials file"
    if name.startswith(CREDENTIAL_PREFIXES):
        return "its name is that of a private key"
    if name.endswith(UNSCANNED_SUFFIXES):
        return None
    needle = token.encode() if token and len(token) >= 8 else None
    for chunk in _chunks(full_path):
        if (needle and needle in chunk) or CREDENTIAL_TEXT.search(chunk):
            return "it contains what looks like a token or a private key"
    return None


def _chunks(path: str, size: int = 1 << 22, overlap: int = 256) -> Iterator[bytes]:
    """The file in overlapping chunks, so a secret across a chunk border is still seen."""
    with open(path, "rb") as f:
        tail = b""
        while block := f.read(size):
            yield tail + block
            tail = block[-overlap:]


def _commit(api, token, local: str, files: list[str], summary: UploadSummary, options) -> None:
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    operations = [
        CommitOperationAdd(path_in_repo=p, path_or_fileobj=os.path.join(local, p)) for p in files
    ]
    message = options.commit_message or f"Upload {summary.repo_id} with luke upload"
    try:
        url = api.create_repo(
            summary.repo_id, private=options.private or None, exist_ok=True, token=token
        )
        summary.repo_url = str(url)
        if summary.revision != "main" and not summary.revision.startswith("refs/"):
            api.create_branch(summary.repo_id, branch=summary.revision, exist_ok=True, token=token)
        info = api.create_commit(
            summary.repo_id,
            operations=operations,
            commit_message=message,
            revision=summary.revision,
            token=token,
        )
    except HfHubHTTPError as exc:
        raise LukeError(
            f"{summary.repo_id}: the Hub refused the upload: {_reason(exc, token)}"
        ) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise LukeError(f"{summary.repo_id}: upload failed: {_reason(exc, token)}") from None
    summary.commit_url = info.commit_url
    summary.commit_oid = info.oid
    logger.info("uploaded %d files (%d bytes) to %s", len(files), summary.bytes, info.commit_url)


def _reason(exc: BaseException, token: str | None) -> str:
    """The first line of the error and of its causes, without the token."""
    lines = []
    while exc is not None and len(lines) < 3:
        text = str(exc).strip()
        if text:
            lines.append(text.splitlines()[0])
        exc = exc.__cause__
    reason = " <- ".join(lines) or "unknown error"
    return reason.replace(token, "***") if token else reason


@contextlib.contextmanager
def _local_folder(folder: str) -> Iterator[str]:
    """The folder itself, or a scratch copy of an s3:// folder removed at the end."""
    if not storage.is_s3(folder):
        if not os.path.isdir(folder):
            raise LukeError(f"{folder}: no such folder")
        yield folder
        return
    if not storage.exists(folder):
        raise LukeError(f"{folder}: no such folder")
    scratch = tempfile.mkdtemp(prefix="luke-upload-", dir=os.environ.get("LUKE_TMPDIR"))
    try:
        storage.download_dir(folder, scratch)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
