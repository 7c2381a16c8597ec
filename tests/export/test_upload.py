"""`upload_to_hub` / `luke upload` through the real huggingface_hub client against a local
server speaking the Hub's endpoints (`luke_testing.hub_server`): what arrives, byte
for byte; the token's handling; refusals before anything is sent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from luke_core.errors import LukeError
from luke_core.export.upload import UploadOptions, upload_to_hub
from luke_testing.hub_server import HubServer

TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
REPO = "org/luke-tiny"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub(monkeypatch):
    """The fake Hub with the client's environment: HF_TOKEN, and LFS instead of Xet storage
    (the server speaks LFS; huggingface_hub reads this switch at call time)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with HubServer(TOKEN, lfs_threshold=20_000) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def folder(tmp_path, exported) -> str:
    return shutil.copytree(exported, str(tmp_path / "model"))


def local_files(folder: str) -> dict[str, bytes]:
    return {name: Path(folder, name).read_bytes() for name in os.listdir(folder)}


def test_upload_creates_the_repo_and_commits_every_file(hub, folder):
    summary = upload_to_hub(folder, REPO, UploadOptions(commit_message="First export"))
    assert hub.files(REPO) == local_files(folder)
    repo = hub.repos[REPO]
    assert not repo.private
    assert [c["summary"] for c in repo.commits] == ["First export"]
    assert summary.commit_oid == repo.commits[0]["oid"]
    assert summary.commit_url.endswith(summary.commit_oid)
    assert summary.files == [
        {"path": name, "bytes": os.path.getsize(os.path.join(folder, name))}
        for name in sorted(os.listdir(folder))
    ]
    assert all(r["authorized"] for r in hub.requests if r["method"] == "POST")
    # model.safetensors (> lfs_threshold) went through the LFS transfer, the rest inline
    puts = [r for r in hub.requests if r["method"] == "PUT"]
    assert len(puts) == 1 and len(hub.lfs_objects) == 1
    assert next(iter(hub.lfs_objects.values())) == local_files(folder)["model.safetensors"]


def test_the_uploaded_model_loads(hub, folder, tmp_path):
    from transformers import LukeForMaskedLM, LukeTokenizer

    upload_to_hub(folder, REPO)
    copy = tmp_path / "from-hub"
    copy.mkdir()
    for name, data in hub.files(REPO).items():
        (copy / name).write_bytes(data)
    LukeTokenizer.from_pretrained(str(copy))
    LukeForMaskedLM.from_pretrained(str(copy))


def test_private_repo_on_a_branch(hub, folder):
    upload_to_hub(folder, REPO, UploadOptions(private=True, revision="stage1"))
    assert hub.repos[REPO].private
    assert hub.files(REPO, "stage1") == local_files(folder)
    assert hub.files(REPO, "main") == {}
    # a second upload to an existing repo and branch is one more commit there
    Path(folder, "README.md").write_text("# changed\n")
    upload_to_hub(folder, REPO, UploadOptions(revision="stage1"))
    assert hub.files(REPO, "stage1")["README.md"] == b"# changed\n"
    assert [c["revision"] for c in hub.repos[REPO].commits] == ["stage1", "stage1"]


def test_dry_run_sends_nothing_and_needs_no_token(hub, folder, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    summary = upload_to_hub(folder, REPO, UploadOptions(dry_run=True))
    assert hub.requests == []
    assert summary.dry_run and summary.commit_url is None
    assert [f["path"] for f in summary.files] == sorted(os.listdir(folder))
    assert summary.bytes == sum(
        os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)
    )


def test_without_a_token(hub, folder, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(LukeError, match="HF_TOKEN is not set"):
        upload_to_hub(folder, REPO)
    assert hub.requests == []


def test_a_refused_token_is_a_clear_error_without_the_token(hub, folder, monkeypatch):
    wrong = "hf_" + "Z" * 34
    monkeypatch.setenv("HF_TOKEN", wrong)
    with pytest.raises(LukeError, match="the Hub refused the upload") as caught:
        upload_to_hub(folder, REPO)
    assert wrong not in str(caught.value) and "401" in str(caught.value)
    assert REPO not in hub.repos


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (".env", "SOME_SETTING=1\n", "name is that of a credentials file"),
        ("deploy.pem", "certificate\n", "name is that of a credentials file"),
        ("id_ed25519", "key\n", "name is that of a private key"),
        (".aws/config", "[default]\n", "credentials folder"),
        ("notes.txt", "token: hf_" + "q" * 34 + "\n", "looks like a token"),
        ("run.sh", "export AWS_ACCESS_KEY_ID=AKIA" + "ABCDEFGHIJKLMNOP\n", "looks like a token"),
        ("key.txt", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "looks like a token"),
        ("params.json", json.dumps({"auth": TOKEN}), "looks like a token"),
    ],
)
def test_credentials_in_the_folder_are_refused(hub, folder, name, content, reason):
    path = Path(folder, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    with pytest.raises(LukeError, match=f"refusing to upload {name}: .*{reason}"):
        upload_to_hub(folder, REPO)
    with pytest.raises(LukeError, match="refusing"):
        upload_to_hub(folder, REPO, UploadOptions(dry_run=True))
    assert hub.requests == []


def test_a_token_across_a_chunk_border_is_found(hub, folder):
    from luke_core.export import upload

    data = b"." * ((1 << 22) - 10) + TOKEN.encode() + b"\n"  # the token spans 4 MiB
    Path(folder, "big.txt").write_bytes(data)
    with pytest.raises(LukeError, match="refusing to upload big.txt"):
        upload.refuse_credentials(folder, ["big.txt"], folder, None)


def test_git_and_cache_folders_are_skipped(hub, folder):
    Path(folder, ".git").mkdir()
    Path(folder, ".git", "config").write_text("[core]\n")
    Path(folder, ".cache", "huggingface").mkdir(parents=True)
    Path(folder, ".cache", "huggingface", "x.lock").write_text("")
    summary = upload_to_hub(folder, REPO, UploadOptions(dry_run=True))
    assert not any(f["path"].startswith((".git", ".cache")) for f in summary.files)


@pytest.mark.parametrize("repo_id", ["no-namespace", "a/b/c", "org/", "org/../x", "org/name.git"])
def test_bad_repo_id(hub, folder, repo_id):
    with pytest.raises(LukeError, match="not a Hub repository id"):
        upload_to_hub(folder, repo_id)


def test_missing_or_empty_folder(hub, tmp_path):
    with pytest.raises(LukeError, match="no such folder"):
        upload_to_hub(str(tmp_path / "missing"), REPO)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LukeError, match="no files to upload"):
        upload_to_hub(str(tmp_path / "empty"), REPO)


@pytest.mark.slow
def test_upload_from_s3(hub, folder, s3):
    from luke_core import storage

    storage.upload_dir(folder, f"{s3}/models/luke-tiny")
    upload_to_hub(f"{s3}/models/luke-tiny", REPO)
    assert hub.files(REPO) == local_files(folder)


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "luke_core", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_luke_upload_command(folder):
    """The command in its own process: the token only in the environment, never printed."""
    with HubServer(TOKEN, lfs_threshold=20_000) as hub:
        env = {"HF_TOKEN": TOKEN, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1"}
        done = run_cli(["upload", folder, REPO, "--private", "--commit-message", "cli"], env)
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout)
        assert summary["repo_id"] == REPO and not summary["dry_run"]
        assert hub.files(REPO) == local_files(folder)
        assert hub.repos[REPO].private
        assert TOKEN not in done.stdout + done.stderr
        dry = run_cli(["upload", folder, REPO, "--dry-run"], {"HF_TOKEN": ""})
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert json.loads(dry.stdout)["files"] == summary["files"]
        missing = run_cli(["upload", folder, REPO], {"HF_TOKEN": "", "HF_ENDPOINT": hub.url})
        assert missing.returncode == 1
        assert "error: HF_TOKEN is not set" in missing.stderr
