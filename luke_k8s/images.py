"""The project's container images: names, tags and Dockerfiles, in this one place.

Components (their `base_image`), the PyTorchJob builder (the training image) and
`images/build.sh` (which builds and pushes) all read it. Standard library only, so the build
script runs it with any Python: `python3 -m luke_k8s.images` prints one line per image,
`KEY DOCKERFILE IMAGE`.

The registry and tag can be overridden with `LUKE_IMAGE_REGISTRY` and `LUKE_IMAGE_TAG` when
building and when compiling a pipeline (the compiled YAML records the full image names).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

DEFAULT_REGISTRY = "localhost:5000/luke"
"""A local registry, as in a kind or minikube cluster; set LUKE_IMAGE_REGISTRY for others."""
IMAGE_TAG = "0.1.0"
"""Bumped with every release of the images; never `latest`, so a pipeline names what it ran."""

# A registry host with an optional port, then path components (Docker's reference grammar).
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class ImageSpec:
    key: str
    """How the code refers to it."""
    repository: str
    """The image name under the registry."""
    dockerfile: str
    """Relative to the repository root; the build context is the repository root."""
    description: str


IMAGES: dict[str, ImageSpec] = {
    spec.key: spec
    for spec in (
        ImageSpec(
            key="preprocess",
            repository="luke-preprocess",
            dockerfile="images/preprocess/Dockerfile",
            description="Python 3.11, the project with its opennlp, icu and pipeline extras, "
            "a JRE, OpenNLP and its English sentence model, ICU, CPU PyTorch",
        ),
        ImageSpec(
            key="training",
            repository="luke-training",
            dockerfile="images/training/Dockerfile",
            description="CUDA, PyTorch, DeepSpeed with its CUDA ops built, the project with "
            "its train and pipeline extras",
        ),
    )
}


def registry() -> str:
    value = os.environ.get("LUKE_IMAGE_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    if not _REGISTRY.match(value):
        raise ValueError(f"LUKE_IMAGE_REGISTRY={value!r} is not a registry, as in ghcr.io/org")
    return value


def tag() -> str:
    value = os.environ.get("LUKE_IMAGE_TAG", IMAGE_TAG)
    if not _TAG.match(value) or value == "latest":
        raise ValueError(f"LUKE_IMAGE_TAG={value!r}: use a version tag (not 'latest')")
    return value


def image(key: str) -> str:
    """The full reference of one of the project's images, e.g. `image("training")`."""
    if key not in IMAGES:
        raise KeyError(f"no image {key!r}; known: {', '.join(IMAGES)}")
    return f"{registry()}/{IMAGES[key].repository}:{tag()}"


def preprocess_image() -> str:
    """Base image of the data-preparation components (dump, vocabulary, dataset)."""
    return image("preprocess")


def training_image() -> str:
    """Image of the training pods, the launcher step and the export step."""
    return image("training")


def main() -> None:
    for spec in IMAGES.values():
        print(spec.key, spec.dockerfile, image(spec.key))


if __name__ == "__main__":
    try:
        main()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
