"""Validating a PyTorchJob offline, as strictly as a cluster with the training operator would.

1. The CRD's openAPIV3Schema (tests/assets/crds, copied from training-operator), made strict:
   the API server prunes or (with strict field validation) rejects fields a structural schema
   does not list, so every object schema that lists properties and does not say
   `x-kubernetes-preserve-unknown-fields` gets `additionalProperties: false`;
   `x-kubernetes-int-or-string` becomes "integer or string".
2. What the CRD leaves to the operator (no enums there): the values it knows for
   restartPolicy and cleanPodPolicy, and its validating webhook's rules (a DNS-1035 name,
   replica types Master/Worker, one Master, a container named `pytorch` with an image).
3. Object metadata, which a CRD schema does not describe: name and label syntax.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD = Path(__file__).parents[2] / "tests" / "assets" / "crds" / "kubeflow.org_pytorchjobs.yaml"
"""The CRD as the training operator ships it (test data of this repository)."""
RESTART_POLICIES = {"Always", "OnFailure", "Never", "ExitCode"}  # training-operator constants
CLEAN_POD_POLICIES = {"All", "Running", "None"}
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def strict(schema: Any) -> Any:
    """A copy of a structural schema in which unknown fields are errors."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = out.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_validator(crd_path: Path = CRD) -> jsonschema.Draft7Validator:
    if not crd_path.is_file():
        raise FileNotFoundError(f"{crd_path}: the PyTorchJob CRD (test data) is missing")
    crd = next(doc for doc in yaml.safe_load_all(crd_path.read_text()) if doc)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(job: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in crd_validator().iter_errors(job)
    ]


def operator_errors(job: dict[str, Any]) -> list[str]:
    errors = []
    name = job.get("metadata", {}).get("name", "")
    if not DNS_1035.match(name) or len(name) > 63:
        errors.append(f"metadata.name {name!r} is not a DNS-1035 label")
    for key, value in job.get("metadata", {}).get("labels", {}).items():
        if len(value) > 63 or not LABEL_VALUE.match(value):
            errors.append(f"label {key}={value!r} is not a valid label value")
    replicas = job["spec"].get("pytorchReplicaSpecs") or {}
    if set(replicas) - {"Master", "Worker"} or "Master" not in replicas:
        errors.append(f"replica types {sorted(replicas)}: need Master, optionally Worker")
    if replicas.get("Master", {}).get("replicas") != 1:
        errors.append("Master replicas must be 1")
    workers = replicas.get("Worker", {}).get("replicas", 1)
    if isinstance(workers, int) and workers < 1:
        errors.append("Worker replicas must be at least 1")
    for kind, replica in replicas.items():
        if replica.get("restartPolicy", "Never") not in RESTART_POLICIES:
            errors.append(f"{kind}: restartPolicy {replica.get('restartPolicy')!r}")
        containers = replica["template"]["spec"].get("containers") or []
        if not any(c.get("name") == "pytorch" and c.get("image") for c in containers):
            errors.append(f"{kind}: no container named pytorch with an image")
    policy = job["spec"].get("runPolicy", {}).get("cleanPodPolicy", "None")
    if policy not in CLEAN_POD_POLICIES:
        errors.append(f"runPolicy.cleanPodPolicy {policy!r}")
    return errors


def pytorchjob_errors(job: dict[str, Any]) -> list[str]:
    return schema_errors(job) + operator_errors(job)
