"""Where and how a training stage runs as a PyTorchJob: image, resources, secrets, scheduling,
restart and clean-up policy. The pipeline passes these as one dict parameter
(`PyTorchJobOptions.from_dict`), `luke-pipeline manifest` reads the same dict from a file, so
a job applied by hand is the job the pipeline would have created."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from luke_core.errors import LukeError
from luke_k8s import images
from luke_k8s.values import (
    DNS_1123_LABEL,
    SECRET_KEY,
    check_label_key,
    check_label_value,
    check_name,
    quantity,
)

# The values the PyTorchJob CRD (training-operator 1.9) accepts.
RESTART_POLICIES = ("ExitCode", "OnFailure", "Always", "Never")
CLEAN_POD_POLICIES = ("Running", "All", "None")
PULL_POLICIES = ("IfNotPresent", "Always", "Never")
TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
# Field annotation -> the types a value may have (checked: options often come from JSON).
_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "bool": bool,
    "int": int,
    "int | None": (int, type(None)),
    "tuple[str, ...]": tuple,
    "tuple[Mapping[str, Any], ...]": tuple,
    "Mapping[str, str]": Mapping,
}


@dataclass(frozen=True, kw_only=True)
class PyTorchJobOptions:
    """Everything about a training stage's PyTorchJob except what the stage itself runs
    (`luke_core.launch.TrainingJobSpec`: arguments, nodes, processes per node, run id)."""

    image: str = field(default_factory=images.training_image)
    namespace: str = ""
    """Empty: the launcher's own namespace (in a pod), else the kubeconfig's; omitted from
    `luke-pipeline manifest` output so that `kubectl apply -n` decides."""
    service_account: str = ""
    """The training pods' service account (they need no API access: empty = the default)."""
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()

    use_gpus: bool = True
    """Request one GPU per process; without GPUs the processes use DeepSpeed's CPU
    accelerator and gloo (`DS_ACCELERATOR=cpu`)."""
    gpu_resource: str = "nvidia.com/gpu"
    cpu_request: str = "8"
    cpu_limit: str = ""
    """Empty: no CPU limit (a limit throttles the data loader; requests still schedule)."""
    memory_request: str = "64Gi"
    memory_limit: str = "64Gi"
    shm_size: str = "16Gi"
    """Size limit of the memory-backed /dev/shm; it counts against the memory limit."""

    s3_secret: str = "mlpipeline-minio-artifact"
    """Secret holding the object-store credentials (Kubeflow's own by default)."""
    s3_access_key_key: str = "accesskey"
    s3_secret_key_key: str = "secretkey"
    s3_endpoint: str = ""
    """AWS_ENDPOINT_URL as a value; when empty it comes from `s3_endpoint_config_map`."""
    s3_endpoint_config_map: str = "luke-s3"
    s3_endpoint_config_map_key: str = "AWS_ENDPOINT_URL"
    s3_region: str = ""
    hf_token_secret: str = "huggingface-token"
    """Secret with the Hugging Face token as HF_TOKEN (optional: the pods start without it);
    empty: no HF_TOKEN at all."""
    hf_token_key: str = "token"

    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    priority_class: str = ""
    gang_scheduling: bool = False
    """Add a schedulingPolicy (minAvailable = all nodes): needs the operator configured with
    a gang scheduler (Volcano or scheduler-plugins); without one it is ignored."""
    scheduling_queue: str = ""

    restart_policy: str = "ExitCode"
    """ExitCode: the operator recreates a pod that exits with 128-255 (a crash: see
    `luke_k8s.torchrun_node`) and fails the job on 1-127 (a bad config fails fast)."""
    backoff_limit: int = 3
    """Container restarts before the job fails; counted by the operator for OnFailure and
    Always only (ExitCode restarts are bounded by the launcher's `max_restarts`)."""
    clean_pod_policy: str = "Running"
    """When the job ends, delete pods still running (free the GPUs), keep failed ones' logs."""
    ttl_seconds_after_finished: int | None = 86400
    active_deadline_seconds: int | None = None
    """The operator ends the job after this long; the launcher too (it bounds a job whose
    ExitCode restarts never end when applied by hand)."""
    start_timeout_s: int = 1800
    """Launcher only: how long the pods may take to all run (a queue for GPUs, autoscaling,
    image pulls) at the start and after each restart before the step fails."""
    max_restarts: int = 10
    """Launcher only: job restarts (the operator's Restarting condition) it lets pass."""
    master_port: int = 23456
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_types()
        self._check_names()
        self._check_resources()
        self._check_policies()
        self._check_scheduling()

    def _check_types(self) -> None:
        for f in dataclasses.fields(self):
            value, expected = getattr(self, f.name), _TYPES.get(str(f.type))
            if expected and not (
                isinstance(value, expected)
                and not (expected is not bool and isinstance(value, bool))
            ):
                raise LukeError(f"{f.name}: {value!r} is not {f.type}")

    def _check_names(self) -> None:
        if not self.image or any(c.isspace() for c in self.image):
            raise LukeError(f"image: {self.image!r} is not an image reference")
        if self.namespace:
            check_name(self.namespace, "namespace", DNS_1123_LABEL)
        for what in ("service_account", "s3_secret", "s3_endpoint_config_map", "hf_token_secret"):
            if getattr(self, what):
                check_name(getattr(self, what), what)
        for secret in self.image_pull_secrets:
            check_name(secret, "image_pull_secrets")
        for what in ("s3_access_key_key", "s3_secret_key_key", "hf_token_key"):
            if not SECRET_KEY.match(getattr(self, what)):
                raise LukeError(f"{what}: {getattr(self, what)!r} is not a valid Secret key")
        for key, value in {**self.labels, **self.node_selector}.items():
            check_label_key(key, "labels/node_selector")
            check_label_value(value, f"labels/node_selector {key}")
        for key in self.annotations:
            check_label_key(key, "annotations")

    def _check_resources(self) -> None:
        for what in ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "shm_size"):
            if getattr(self, what):
                quantity(getattr(self, what), what)
        for low, high in (
            ("cpu_request", "cpu_limit"),
            ("memory_request", "memory_limit"),
            ("shm_size", "memory_limit"),
        ):
            if self._amount(low) > self._amount(high):
                why = ": /dev/shm in memory counts against it" if low == "shm_size" else ""
                raise LukeError(
                    f"{low} {getattr(self, low)} is above {high} {getattr(self, high)}{why}"
                )
        check_label_key(self.gpu_resource, "gpu_resource")

    def _amount(self, what: str) -> Decimal:
        """The option's quantity; 0 when unset for a lower bound, infinite for an upper."""
        value = getattr(self, what)
        if value:
            return quantity(value, what)
        return Decimal("Infinity") if what.endswith("limit") else Decimal(0)

    def _check_policies(self) -> None:
        for what, allowed in (
            ("restart_policy", RESTART_POLICIES),
            ("clean_pod_policy", CLEAN_POD_POLICIES),
            ("image_pull_policy", PULL_POLICIES),
        ):
            if getattr(self, what) not in allowed:
                raise LukeError(f"{what}: {getattr(self, what)!r} is not one of {allowed}")
        if self.backoff_limit < 0 or self.max_restarts < 0:
            raise LukeError("backoff_limit and max_restarts must be >= 0")
        if self.start_timeout_s < 1:
            raise LukeError("start_timeout_s must be at least 1")
        for what in ("ttl_seconds_after_finished", "active_deadline_seconds"):
            value = getattr(self, what)
            if value is not None and value < (0 if what.startswith("ttl") else 1):
                raise LukeError(f"{what}: {value} is out of range")
        if not 1 <= self.master_port <= 65535:
            raise LukeError(f"master_port: {self.master_port} is not a port")

    def _check_scheduling(self) -> None:
        if self.priority_class:
            check_name(self.priority_class, "priority_class")
        for toleration in self.tolerations:
            if not isinstance(toleration, Mapping) or set(toleration) - TOLERATION_KEYS:
                raise LukeError(
                    f"tolerations: {toleration!r}: a toleration has keys {sorted(TOLERATION_KEYS)}"
                )
            if toleration.get("operator", "Equal") not in TOLERATION_OPERATORS:
                raise LukeError(f"tolerations: operator must be one of {TOLERATION_OPERATORS}")
            if toleration.get("effect", "") not in TOLERATION_EFFECTS:
                raise LukeError(f"tolerations: effect must be one of {TOLERATION_EFFECTS[1:]}")
            if toleration.get("operator") == "Exists" and toleration.get("value"):
                raise LukeError("tolerations: operator Exists takes no value")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples as lists, mappings as dicts."""
        out = dataclasses.asdict(self)
        out["tolerations"] = [dict(t) for t in self.tolerations]
        out["image_pull_secrets"] = list(self.image_pull_secrets)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PyTorchJobOptions:
        """From a pipeline parameter or an options file; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LukeError(
                f"PyTorchJob options: unknown {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        kwargs = dict(values)
        for key in ("image_pull_secrets", "tolerations"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        for f in dataclasses.fields(cls):
            # KFP passes dict parameters through a protobuf Struct: integers arrive as floats.
            value = kwargs.get(f.name)
            if str(f.type).startswith("int") and isinstance(value, float) and value.is_integer():
                kwargs[f.name] = int(value)
        return cls(**kwargs)

    def replace(self, **changes: Any) -> PyTorchJobOptions:
        return dataclasses.replace(self, **changes)
