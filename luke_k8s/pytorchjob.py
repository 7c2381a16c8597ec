"""A training stage as a Kubeflow PyTorchJob (`kubeflow.org/v1`, training-operator 1.9).

`build_pytorchjob(spec, options)` returns the job as a plain dict, ready for the API or for
YAML: a Master and `num_nodes - 1` Workers, each pod running `luke_k8s.torchrun_node` (torchrun
with restart-aware exit statuses) over `luke pretrain`, one process per GPU.

How the pods find each other: the operator injects MASTER_ADDR (`<job>-master-0`), MASTER_PORT,
RANK (the node's index: 0 for the master, i + 1 for worker i) and WORLD_SIZE. torchrun reads
only `PET_*` variables as defaults for its options, and which of those an operator version sets
varies, so the command passes the node's rank and the master's address explicitly as
`$(RANK)`, `$(MASTER_ADDR)`, `$(MASTER_PORT)`: the kubelet expands these from the container's
environment, which includes what the operator added. Static rendezvous then needs nothing else.
"""

from __future__ import annotations

import copy
from typing import Any

from luke_core.errors import LukeError
from luke_core.launch import TrainingJobSpec, torchrun_command
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.torchrun_node import WRAPPER_MODULE
from luke_k8s.values import ENV_NAME, MAX_NAME, dns_label_part, label_value, short_hash

API_VERSION = "kubeflow.org/v1"
KIND = "PyTorchJob"
GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "pytorchjobs"
CONTAINER_NAME = "pytorch"
"""The operator finds the training container by this name."""
PORT_NAME = "pytorchjob-port"

LABEL_RUN_ID = "luke-pipeline/run-id"
LABEL_STAGE = "luke-pipeline/stage"
ANNOTATION_RUN_ID = "luke-pipeline/run-id"
ANNOTATION_STAGE = "luke-pipeline/stage"
# Set by the training operator on the pods it creates.
OPERATOR_JOB_NAME_LABEL = "training.kubeflow.org/job-name"

SHM_VOLUME = "dshm"
RENDEZVOUS_ARGS = (
    "--node-rank=$(RANK)",
    "--master-addr=$(MASTER_ADDR)",
    "--master-port=$(MASTER_PORT)",
)
# Names the operator sets or the options control; a stage's own env must not shadow them.
RESERVED_ENV = {
    "MASTER_ADDR",
    "MASTER_PORT",
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "HF_TOKEN",
    "PYTHONUNBUFFERED",
}


def build_pytorchjob(spec: TrainingJobSpec, options: PyTorchJobOptions) -> dict[str, Any]:
    """The PyTorchJob for `spec`, as a plain dict (apply it with the API or as YAML)."""
    if not spec.run_id:
        raise LukeError(f"training stage {spec.name}: a PyTorchJob needs a run id (name, labels)")
    template = pod_template(spec, options)
    replica_specs = {"Master": replica_spec(1, template, options)}
    if spec.num_nodes > 1:
        replica_specs["Worker"] = replica_spec(spec.num_nodes - 1, template, options)
    metadata: dict[str, Any] = {
        "name": job_name(spec),
        "labels": job_labels(spec, options),
        "annotations": {
            ANNOTATION_RUN_ID: spec.run_id,
            ANNOTATION_STAGE: spec.name,
            **options.annotations,
        },
    }
    if options.namespace:
        metadata["namespace"] = options.namespace
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {
            "nprocPerNode": str(spec.procs_per_node),
            "pytorchReplicaSpecs": replica_specs,
            "runPolicy": run_policy(spec, options),
        },
    }


def job_name(spec: TrainingJobSpec) -> str:
    """`luke-<stage>-<hash of run id and stage>`: unique per run and stage, a DNS-1035 label,
    short enough that the pod and service names the operator derives (`<job>-worker-<i>`)
    stay within 63 characters."""
    suffix = max(len("-master-0"), len(f"-worker-{max(spec.num_nodes - 2, 0)}"))
    digest = short_hash(f"{spec.run_id}/{spec.name}", 10)
    budget = MAX_NAME - suffix - len("luke--") - len(digest)
    stage = dns_label_part(spec.name, budget)
    return f"luke-{stage}-{digest}" if stage else f"luke-{digest}"


def job_labels(spec: TrainingJobSpec, options: PyTorchJobOptions) -> dict[str, str]:
    """Labels on the job and its pods: `kubectl get pytorchjobs,pods -l
    luke-pipeline/run-id=<run id>` finds a run's jobs and pods."""
    return {
        "app.kubernetes.io/name": "luke-pretraining",
        "app.kubernetes.io/part-of": "luke-pipeline",
        LABEL_RUN_ID: label_value(spec.run_id),
        LABEL_STAGE: label_value(spec.name),
        **options.labels,
    }


def node_command(spec: TrainingJobSpec) -> list[str]:
    """The container command of every node: torchrun (through `luke_k8s.torchrun_node`) with
    the rendezvous taken from the operator's variables, then `luke pretrain ARGS`."""
    command = torchrun_command(spec, python="python")
    if command[1:3] != ["-m", "torch.distributed.run"]:
        raise LukeError(f"unexpected torchrun command {command[:3]}: update node_command")
    # `$` in the stage's own arguments is escaped: the kubelet reads `$(X)` as a variable.
    own = [arg.replace("$", "$$") for arg in command[3:]]
    return [command[0], "-m", WRAPPER_MODULE, *RENDEZVOUS_ARGS, *own]


def replica_spec(replicas: int, template: dict, options: PyTorchJobOptions) -> dict[str, Any]:
    template = copy.deepcopy(template)  # no shared objects: YAML output has no anchors
    return {"replicas": replicas, "restartPolicy": options.restart_policy, "template": template}


def pod_template(spec: TrainingJobSpec, options: PyTorchJobOptions) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containers": [container(spec, options)],
        "volumes": [{"name": SHM_VOLUME, "emptyDir": _shm_volume(options)}],
        # what the Pod Security "restricted" level asks, so the pods start in such namespaces
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if options.service_account:
        pod["serviceAccountName"] = options.service_account
    if options.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in options.image_pull_secrets]
    if options.node_selector:
        pod["nodeSelector"] = dict(options.node_selector)
    if options.tolerations:
        pod["tolerations"] = [dict(t) for t in options.tolerations]
    if options.priority_class:
        pod["priorityClassName"] = options.priority_class
    return {
        "metadata": {
            "labels": job_labels(spec, options),
            # An Istio sidecar keeps the pod alive after training ends, and the job never
            # finishes; it also intercepts the rendezvous port.
            "annotations": {"sidecar.istio.io/inject": "false"},
        },
        "spec": pod,
    }


def container(spec: TrainingJobSpec, options: PyTorchJobOptions) -> dict[str, Any]:
    return {
        "name": CONTAINER_NAME,
        "image": options.image,
        "imagePullPolicy": options.image_pull_policy,
        "command": node_command(spec),
        "env": container_env(spec, options),
        "ports": [{"name": PORT_NAME, "containerPort": options.master_port, "protocol": "TCP"}],
        "resources": resources(spec, options),
        "volumeMounts": [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def container_env(spec: TrainingJobSpec, options: PyTorchJobOptions) -> list[dict[str, Any]]:
    """The stage's own variables, then credentials by reference (never a value)."""
    reserved = sorted(name for name in spec.env if name in RESERVED_ENV or name.startswith("PET_"))
    if reserved:
        raise LukeError(f"training stage {spec.name}: env may not set {', '.join(reserved)}")
    invalid = sorted(name for name in spec.env if not ENV_NAME.match(name))
    if invalid:
        raise LukeError(f"training stage {spec.name}: invalid env names {', '.join(invalid)}")
    env: list[dict[str, Any]] = [{"name": "PYTHONUNBUFFERED", "value": "1"}]
    if not options.use_gpus:
        env.append({"name": "DS_ACCELERATOR", "value": "cpu"})
    env += [{"name": k, "value": v.replace("$", "$$")} for k, v in spec.env.items()]
    env += [
        _secret_env("AWS_ACCESS_KEY_ID", options.s3_secret, options.s3_access_key_key),
        _secret_env("AWS_SECRET_ACCESS_KEY", options.s3_secret, options.s3_secret_key_key),
    ]
    if options.s3_endpoint:
        env.append({"name": "AWS_ENDPOINT_URL", "value": options.s3_endpoint})
    elif options.s3_endpoint_config_map:
        ref = {"name": options.s3_endpoint_config_map, "key": options.s3_endpoint_config_map_key}
        env.append({"name": "AWS_ENDPOINT_URL", "valueFrom": {"configMapKeyRef": ref}})
    if options.s3_region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": options.s3_region})
    if options.hf_token_secret:
        env.append(
            _secret_env("HF_TOKEN", options.hf_token_secret, options.hf_token_key, optional=True)
        )
    return env


def resources(spec: TrainingJobSpec, options: PyTorchJobOptions) -> dict[str, dict[str, str]]:
    requests = {"cpu": options.cpu_request, "memory": options.memory_request}
    limits = {"cpu": options.cpu_limit, "memory": options.memory_limit}
    if options.use_gpus:
        # Extended resources are not overcommitted: request and limit must be equal.
        requests[options.gpu_resource] = limits[options.gpu_resource] = str(spec.procs_per_node)
    drop_empty = lambda d: {k: v for k, v in d.items() if v}  # noqa: E731
    return {"requests": drop_empty(requests), "limits": drop_empty(limits)}


def run_policy(spec: TrainingJobSpec, options: PyTorchJobOptions) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "backoffLimit": options.backoff_limit,
        "cleanPodPolicy": options.clean_pod_policy,
    }
    if options.ttl_seconds_after_finished is not None:
        policy["ttlSecondsAfterFinished"] = options.ttl_seconds_after_finished
    if options.active_deadline_seconds is not None:
        policy["activeDeadlineSeconds"] = options.active_deadline_seconds
    if options.gang_scheduling:
        scheduling: dict[str, Any] = {"minAvailable": spec.num_nodes}
        if options.scheduling_queue:
            scheduling["queue"] = options.scheduling_queue
        if options.priority_class:
            scheduling["priorityClass"] = options.priority_class
        policy["schedulingPolicy"] = scheduling
    return policy


def _secret_env(name: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def _shm_volume(options: PyTorchJobOptions) -> dict[str, str]:
    volume = {"medium": "Memory"}
    if options.shm_size:
        volume["sizeLimit"] = options.shm_size
    return volume
