"""Compile, submit and run-local: the three ways a pipeline leaves this repository.

- `compile_pipeline` writes the YAML to upload in the Kubeflow UI (document 1: the pipeline
  spec; document 2: the Kubernetes platform spec with the Secrets by name).
- `submit` sends a run to a KFP endpoint with `kfp.Client`; its token comes from the
  environment (`KFP_TOKEN`) or kfp's own service-account token file, never an argument.
- `run_local` runs the same pipeline with kfp.local's SubprocessRunner in this Python
  environment, training through the local launcher (torchrun on this machine).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

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


def compile_pipeline(name: str, output: str) -> str:
    from kfp import compiler

    compiler.Compiler().compile(pipeline_function(name), output)
    logger.info("wrote %s", output)
    return output


def submit(
    name: str,
    *,
    host: str,
    params: dict[str, Any],
    experiment: str,
    run_name: str | None,
    pipeline_root: str | None,
    namespace: str | None,
) -> str:
    """Compile and submit a run; returns its id."""
    import tempfile

    import kfp

    check_parameters(name, params)
    with tempfile.TemporaryDirectory() as scratch:
        package = compile_pipeline(name, os.path.join(scratch, f"{name}.yaml"))
        client = kfp.Client(host=host, existing_token=os.environ.get("KFP_TOKEN") or None,
                            namespace=namespace)  # fmt: skip
        result = client.create_run_from_pipeline_package(
            package,
            arguments=params,
            run_name=run_name,
            experiment_name=experiment,
            pipeline_root=pipeline_root,
            namespace=namespace,
        )
    logger.info("submitted run %s to %s (experiment %s)", result.run_id, host, experiment)
    return result.run_id


LOCAL_DEFAULTS = {"training_launcher": "local", "s3_endpoint": ""}


def run_local(name: str, params: dict[str, Any], pipeline_root: str) -> Any:
    """Run the pipeline here; returns its output (the Hugging Face folder's URI)."""
    from kfp import local

    params = {**LOCAL_DEFAULTS, **params}
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
