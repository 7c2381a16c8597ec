"""Where the launcher runs: the Kubernetes API client, and the launcher's own pod.

The job a pipeline step creates is tied to the step's pod by an owner reference: when the run
is deleted, Kubernetes' garbage collector deletes the pod and with it the job and its pods,
even if the step never got to clean up (a killed node, a SIGKILL). KFP v2 gives each step's
container its pod's name, uid and namespace as KFP_POD_NAME, KFP_POD_UID and KFP_NAMESPACE;
POD_NAME / POD_UID / POD_NAMESPACE (a downward API convention) and HOSTNAME work elsewhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

logger = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class OwnerPod:
    namespace: str
    name: str
    uid: str

    def owner_reference(self) -> dict[str, object]:
        # Not a controller reference, and no blockOwnerDeletion (that would need update
        # rights on pods/finalizers): the job only goes when the pod goes.
        return {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}


def load_api_client() -> tuple[client.ApiClient, str | None]:
    """An API client from the in-cluster service account, else from the kubeconfig; with the
    kubeconfig context's namespace (None in a cluster or without one)."""
    try:
        config.load_incluster_config()
        return client.ApiClient(), None
    except config.ConfigException:
        config.load_kube_config()
        _, context = config.list_kube_config_contexts()
        return client.ApiClient(), (context or {}).get("context", {}).get("namespace")


def in_cluster(env: Mapping[str, str] = os.environ) -> bool:
    return "KUBERNETES_SERVICE_HOST" in env


def own_namespace(env: Mapping[str, str] = os.environ) -> str | None:
    for name in ("KFP_NAMESPACE", "POD_NAMESPACE"):
        if env.get(name):
            return env[name]
    if in_cluster(env) and SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return None


def find_own_pod(core: client.CoreV1Api, env: Mapping[str, str] = os.environ) -> OwnerPod | None:
    """The pod this process runs in, or None outside a pod (or when it cannot be told)."""
    name = env.get("KFP_POD_NAME") or env.get("POD_NAME")
    if not name and in_cluster(env):
        name = env.get("HOSTNAME")
    namespace = own_namespace(env)
    if not name or not namespace:
        return None
    uid = env.get("KFP_POD_UID") or env.get("POD_UID")
    if not uid:
        try:
            uid = core.read_namespaced_pod(name, namespace).metadata.uid
        except (ApiException, HTTPError, OSError) as exc:
            logger.warning(
                "cannot look up my pod %s/%s: no owner reference (%s)", namespace, name, exc
            )
            return None
    return OwnerPod(namespace=namespace, name=name, uid=uid)
