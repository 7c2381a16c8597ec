"""Task settings shared by the LUKE and mLUKE pipelines: images, resources, retries, caching
and the Kubernetes Secrets that give steps their credentials (by reference: no credential
value ever appears in the compiled YAML).

The pipelines' graphs are built when `pipelines.runs.compile_pipeline` compiles them, under
the settings in force then (`using(...)`, else the defaults and the environment read at that
moment), so that `luke-pipeline compile --s3-secret ...` and LUKE_IMAGE_REGISTRY /
LUKE_IMAGE_TAG apply even in a process that imported the pipelines earlier.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kfp import kubernetes

from luke_core.parallel import STEP_CPUS_ENV
from luke_k8s import images

S3_SECRET_KEYS = {"accesskey": "AWS_ACCESS_KEY_ID", "secretkey": "AWS_SECRET_ACCESS_KEY"}
HF_SECRET_KEYS = {"token": "HF_TOKEN"}


@dataclass(frozen=True)
class Resources:
    cpu: str
    memory: str


# Requests sized for a full English Wikipedia; limits leave room for peaks.
RESOURCES = {
    "build-dump-db": Resources("4", "8Gi"),
    "merge-dump-db": Resources("1", "8Gi"),
    "build-entity-vocab": Resources("4", "16Gi"),
    "build-interwiki-db": Resources("4", "8Gi"),
    "build-multilingual-entity-vocab": Resources("2", "32Gi"),
    "build-dataset": Resources("8", "32Gi"),
    "compute-total-training-steps": Resources("500m", "1Gi"),
    "pretrain": Resources("1", "4Gi"),
    "export-huggingface": Resources("2", "16Gi"),
    "upload-to-hub": Resources("1", "4Gi"),
}


@dataclass(frozen=True)
class PipelineSettings:
    """Compile-time choices (the CLI's `compile --s3-secret ...` sets them)."""

    s3_secret: str = field(
        default_factory=lambda: os.environ.get("LUKE_S3_SECRET", "mlpipeline-minio-artifact")
    )
    hf_secret: str = field(
        default_factory=lambda: os.environ.get("LUKE_HF_SECRET", "huggingface-token")
    )
    retries: int = 3


_override: PipelineSettings | None = None


def current() -> PipelineSettings:
    """The settings of the innermost `using(...)`, else the defaults as the environment
    (LUKE_S3_SECRET, LUKE_HF_SECRET) says now."""
    return _override if _override is not None else PipelineSettings()


@contextlib.contextmanager
def using(settings: PipelineSettings) -> Iterator[PipelineSettings]:
    """Build pipelines under `settings` inside the block; the previous ones after it."""
    global _override
    previous, _override = _override, settings
    try:
        yield settings
    finally:
        _override = previous


def job_defaults() -> dict[str, Any]:
    """What a training stage's PyTorchJob takes from the compile-time settings unless the
    run's `job_options` say otherwise: the training image the pipeline names and the same
    Secrets as the pipeline's steps."""
    settings = current()
    return {
        "image": images.training_image(),
        "s3_secret": settings.s3_secret,
        "hf_token_secret": settings.hf_secret,
    }


def configure(task, step: str, *, retries: bool = True, cache: bool = False, hf: bool = False):
    """Image, resources, retries, caching, display name and credentials of a task.

    `retries`: for steps that move data through object storage or the Hub, whose failures
    are often passing (a dropped connection, a throttled request). Not for training: its
    restarts belong to the training job (the PyTorchJob's restart policy and the
    launcher's `max_restarts`), and a retried step would start a whole new job."""
    settings = current()
    resources = RESOURCES[step]
    _current_image(task)
    task.set_display_name(step)
    task.set_cpu_request(resources.cpu)
    task.set_memory_request(resources.memory)
    task.set_memory_limit(resources.memory)
    # the step sizes its worker pools to its request, not to the node's cores
    task.set_env_variable(STEP_CPUS_ENV, resources.cpu)
    # KFP's cache cannot see whether the work dir still holds a step's output; the steps
    # themselves skip work that is complete and current, so the cache stays off.
    task.set_caching_options(cache)
    if retries:
        task.set_retry(num_retries=settings.retries, backoff_duration="60s", backoff_factor=2.0)
    kubernetes.use_secret_as_env(
        task, secret_name=settings.s3_secret, secret_key_to_env=S3_SECRET_KEYS
    )
    if hf:
        kubernetes.use_secret_as_env(
            task, secret_name=settings.hf_secret, secret_key_to_env=HF_SECRET_KEYS, optional=True
        )
    return task


def _current_image(task) -> None:
    """A component's base_image was fixed when its module was imported; the task gets the
    same image under the registry and tag in force now."""
    repository = task.container_spec.image.rsplit("/", 1)[-1].split(":", 1)[0]
    for key, spec in images.IMAGES.items():
        if spec.repository == repository:
            task.container_spec.image = images.image(key)
