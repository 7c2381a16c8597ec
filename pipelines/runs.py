"""Compile, submit and run-local: the three ways a pipeline leaves this repository.

- `compile_pipeline` writes the YAML to upload in the Kubeflow UI (document 1: the pipeline
  spec; document 2: the Kubernetes platform spec with the Secrets by name).
- `submit` sends a run to a KFP endpoint with `kfp.Client`; its token comes from the
  environment (`KFP_TOKEN`) or the service-account token a Kubeflow pod mounts for the KFP
  API (kfp's KF_PIPELINES_SA_TOKEN_PATH), never an argument.
- `run_local` runs the same pipeline with kfp.local's SubprocessRunner in this Python
  environment, training through the local launcher (torchrun on this machine).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from luke_core import storage
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

PIPELINES = {
    "luke": "pipelines.luke_pipeline:luke_pipeline",
    "mluke": "pipelines.mluke_pipeline:mluke_pipeline",
}


def pipeline_function(name: str):
    import importlib

    if name not in PIPELINES:
        raise LukeError(f"no pipeline {name!r}; choose one of {', '.join(PIPELINES)}")
    module, function = PIPELINES[name].split(":")
    return getattr(importlib.import_module(module), function)


def parse_parameters(pairs: list[str], files: list[str] = ()) -> dict[str, Any]:
    """`key=value` pairs (a value that parses as JSON is taken as JSON: numbers, booleans,
    lists, objects) after the parameters of YAML/JSON files, later ones winning."""
    import yaml

    params: dict[str, Any] = {}
    for path in files:
        try:
            with open(path) as f:
                loaded = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise LukeError(f"{path}: cannot read pipeline parameters ({exc})") from None
        if not isinstance(loaded, dict):
            raise LukeError(f"{path}: pipeline parameters must be a mapping")
        params.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LukeError(f"parameter {pair!r}: expected key=value")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def check_parameters(name: str, params: dict[str, Any]) -> None:
    import inspect

    accepted = inspect.signature(pipeline_function(name).pipeline_func).parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise LukeError(
            f"pipeline {name} has no parameter {', '.join(unknown)}; it takes {', '.join(accepted)}"
        )
    if "wikipedias" in params:
        from components.support import check_wikipedias

        check_wikipedias(params["wikipedias"])


def build_pipeline(name: str):
    """The pipeline's graph, built now: kfp builds a graph when its module is imported,
    and the settings (Secrets' names) and images in force now must apply."""
    from kfp import dsl

    built = pipeline_function(name)
    spec = built.component_spec
    return dsl.pipeline(name=spec.name, description=spec.description)(built.pipeline_func)


def compile_pipeline(name: str, output: str, settings=None) -> str:
    """Write the pipeline's YAML under `settings` (a `pipelines.settings.PipelineSettings`;
    default: the current ones) and the images LUKE_IMAGE_REGISTRY / LUKE_IMAGE_TAG name."""
    from kfp import compiler

    from pipelines import settings as task_settings

    with task_settings.using(settings or task_settings.current()):
        compiler.Compiler().compile(build_pipeline(name), output)
    logger.info("wrote %s", output)
    return output


def _client_credentials() -> dict[str, Any]:
    """KFP_TOKEN, else the projected service-account token of a Kubeflow pod, else none
    (a port-forwarded or unauthenticated endpoint)."""
    from kfp import client

    token = os.environ.get("KFP_TOKEN", "").strip()
    if token:
        return {"existing_token": token}
    path = os.environ.get(client.KF_PIPELINES_SA_TOKEN_ENV) or client.KF_PIPELINES_SA_TOKEN_PATH
    if os.path.isfile(path):
        return {"credentials": client.ServiceAccountTokenVolumeCredentials(path)}
    return {}


@contextlib.contextmanager
def _api_errors(host: str) -> Iterator[None]:
    """The KFP API's refusals and an unreachable host as a LukeError: the status and the
    server's message (never the request, which carries the token)."""
    from kfp_server_api import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        try:
            message = json.loads(exc.body or "{}").get("message") or exc.body
        except (TypeError, ValueError):
            message = exc.body
        raise LukeError(
            f"{host}: the KFP API answered {exc.status} {exc.reason}: {message}"
        ) from None
    except HTTPError as exc:
        raise LukeError(f"{host}: cannot reach the KFP API ({type(exc).__name__})") from None


def submit(
    name: str,
    *,
    host: str,
    params: dict[str, Any],
    experiment: str,
    run_name: str | None,
    pipeline_root: str | None,
    namespace: str | None,
    service_account: str | None = None,
    settings=None,
) -> str:
    """Compile (under `settings`) and submit a run; returns its id."""
    import tempfile

    import kfp

    check_parameters(name, params)
    with tempfile.TemporaryDirectory() as scratch:
        package = compile_pipeline(name, os.path.join(scratch, f"{name}.yaml"), settings)
        # kfp's own default namespace ("kubeflow") lets its context file's namespace apply
        scope = {"namespace": namespace} if namespace else {}
        with _api_errors(host):
            client = kfp.Client(host=host, **_client_credentials(), **scope)
            result = client.create_run_from_pipeline_package(
                package,
                arguments=params,
                run_name=run_name,
                experiment_name=experiment,
                pipeline_root=pipeline_root,
                namespace=namespace,
                service_account=service_account,
            )
    logger.info("submitted run %s to %s (experiment %s)", result.run_id, host, experiment)
    return result.run_id


# what differs from a cluster's defaults on one machine: torchrun here, one process (a
# laptop has no 8 GPUs), the artifacts in a local folder unless the run names a work_dir
LOCAL_DEFAULTS = {
    "training_launcher": "local",
    "s3_endpoint": "",
    "procs_per_node": 1,
    "work_dir": "runs/local",
}


def run_local(name: str, params: dict[str, Any], pipeline_root: str) -> Any:
    """Run the pipeline here; returns its output (the Hugging Face folder's URI)."""
    from kfp import local

    params = {**LOCAL_DEFAULTS, **params}
    if not storage.is_s3(params["work_dir"]):  # the steps run in other working directories
        params["work_dir"] = os.path.abspath(params["work_dir"])
    if not params["s3_endpoint"]:
        params["s3_endpoint"] = os.environ.get("AWS_ENDPOINT_URL", "")
    check_parameters(name, params)
    os.makedirs(pipeline_root, exist_ok=True)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=os.path.abspath(pipeline_root),
        raise_on_error=True,
    )
    try:
        task = pipeline_function(name)(**params)
    except RuntimeError as exc:
        raise LukeError(f"the local run of pipeline {name} failed: {exc}") from None
    return task.output
