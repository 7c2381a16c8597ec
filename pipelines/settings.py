"""Task settings shared by the LUKE and mLUKE pipelines: resources, retries, caching and
the Kubernetes Secrets that give steps their credentials (by reference: no credential value
ever appears in the compiled YAML)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from kfp import kubernetes

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
    hf_secret: str = field(default_factory=lambda: os.environ.get("LUKE_HF_SECRET", "hf-token"))
    retries: int = 3


_current = PipelineSettings()


def current() -> PipelineSettings:
    return _current


def use(settings: PipelineSettings) -> None:
    global _current
    _current = settings


def configure(task, step: str, *, retries: bool = True, cache: bool = False, hf: bool = False):
    """Resources, retries (I/O-bound steps), caching, display name and credentials."""
    settings = current()
    resources = RESOURCES[step]
    task.set_display_name(step)
    task.set_cpu_request(resources.cpu)
    task.set_memory_request(resources.memory)
    task.set_memory_limit(resources.memory)
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
