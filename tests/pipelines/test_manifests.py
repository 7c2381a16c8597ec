"""The Kustomize manifests: every overlay renders offline with `kubectl kustomize`, every object
is a valid Kubernetes object (kubernetes-validate, strict), the launcher's Role grants exactly
what the launcher calls, no Secret carries a value, and the example PyTorchJobs are what
`luke-pipeline manifest` makes today (so they never drift from the builder)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from luke_k8s.job_options import PyTorchJobOptions
from luke_testing.crd_schema import pytorchjob_errors
from pipelines.cli import luke_pipeline

ROOT = Path(__file__).parents[2]
MANIFESTS = ROOT / "manifests"
OVERLAYS = sorted(p.parent for p in (MANIFESTS / "overlays").glob("*/kustomization.yaml"))
K8S_VERSION = "1.32.0"
KUBECTL = shutil.which("kubectl")


def render(directory: Path) -> list[dict]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` cannot render the manifests")
    done = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_there_are_a_dev_and_a_gpu_overlay():
    assert [p.name for p in OVERLAYS] == ["dev", "gpu"]


@pytest.mark.parametrize("directory", [MANIFESTS / "base", *OVERLAYS], ids=lambda p: p.name)
def test_every_rendered_object_is_valid(directory):
    objects = render(directory)
    kinds = sorted(obj["kind"] for obj in objects)
    expected = ["ConfigMap", "Namespace", "Role", "RoleBinding", "ServiceAccount", "ServiceAccount"]
    assert kinds == sorted(
        expected + (["ConfigMap"] if directory.parent.name == "overlays" else [])
    )
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(
                f"{directory.name}: {obj['kind']} {obj['metadata']['name']}: {str(exc)[:300]}"
            )
    (namespace,) = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        namespace
    }


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_the_launcher_role_is_least_privilege_and_bound_to_the_launcher(directory):
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render(directory)}
    role = objects[("Role", "luke-launcher")]
    grants = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    job_verbs = {"create", "get", "list", "watch", "delete"}
    assert grants == {("kubeflow.org", "pytorchjobs", v) for v in job_verbs} | {
        ("", "pods", "get"),
        ("", "pods", "list"),
        ("", "pods/log", "get"),
    }
    binding = objects[("RoleBinding", "luke-launcher")]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "luke-launcher",
    }
    for subject in binding["subjects"]:
        assert subject["kind"] == "ServiceAccount"
        assert ("ServiceAccount", subject["name"]) in objects
        # without a namespace RBAC takes the binding's own
        assert (
            subject.get("namespace", binding["metadata"]["namespace"])
            == binding["metadata"]["namespace"]
        )
    assert objects[("ServiceAccount", "luke-training")]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_the_overlay_carries_the_s3_endpoint_and_valid_job_options(directory):
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render(directory)}
    endpoint = objects[("ConfigMap", "luke-s3")]["data"]["AWS_ENDPOINT_URL"]
    assert endpoint.startswith(("http://", "https://"))
    defaults = PyTorchJobOptions()
    assert (defaults.s3_endpoint_config_map, defaults.s3_endpoint_config_map_key) == (
        "luke-s3",
        "AWS_ENDPOINT_URL",
    )
    text = objects[("ConfigMap", "luke-job-options")]["data"]["job-options.yaml"]
    assert text == (directory / "job-options.yaml").read_text()
    options = PyTorchJobOptions.from_dict(yaml.safe_load(text))
    assert options.use_gpus == (directory.name == "gpu")
    assert options.service_account == "luke-training"


def test_no_secret_with_a_value_anywhere():
    for directory in [MANIFESTS / "base", *OVERLAYS]:
        assert not [o for o in render(directory) if o["kind"] == "Secret"]
    templates = sorted((MANIFESTS / "secrets").glob("*.yaml"))
    assert [t.name for t in templates] == [
        "huggingface-token.template.yaml",
        "s3-credentials.template.yaml",
    ]
    for template in templates:
        secret = yaml.safe_load(template.read_text())
        kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
        assert set(secret) <= {"apiVersion", "kind", "metadata", "type", "stringData"}
        assert all(value == "" for value in secret["stringData"].values()), template
        assert "kubectl" in template.read_text() and "create secret" in template.read_text()
    # the templates are not applied by any kustomization
    for kustomization in MANIFESTS.rglob("kustomization.yaml"):
        assert "secrets" not in kustomization.read_text()
    # names and keys the builder references
    s3 = yaml.safe_load((MANIFESTS / "secrets" / "s3-credentials.template.yaml").read_text())
    defaults = PyTorchJobOptions()
    assert s3["metadata"]["name"] == defaults.s3_secret
    assert set(s3["stringData"]) == {defaults.s3_access_key_key, defaults.s3_secret_key_key}


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda p: p.name)
def test_the_example_job_is_what_the_builder_makes_today(directory, monkeypatch):
    monkeypatch.delenv("LUKE_IMAGE_REGISTRY", raising=False)
    monkeypatch.delenv("LUKE_IMAGE_TAG", raising=False)
    monkeypatch.chdir(ROOT)
    example = directory / "example-pytorchjob.yaml"
    text = example.read_text()
    (made_by,) = [line for line in text.splitlines() if line.startswith("# Made by: ")]
    words = shlex.split(made_by.removeprefix("# Made by: "))
    assert words[:2] == ["luke-pipeline", "manifest"]

    result = CliRunner().invoke(luke_pipeline, words[1:])

    assert result.exit_code == 0, result.output
    assert result.output == text, (
        f"{example} is out of date: regenerate it with `{shlex.join(words)} -o {example}`"
    )
    job = yaml.safe_load(text)
    assert pytorchjob_errors(job) == []
    assert (
        job["metadata"]["namespace"]
        == yaml.safe_load((directory / "kustomization.yaml").read_text())["namespace"]
    )
    pod = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod},
        K8S_VERSION,
        strict=True,
    )
    assert pod["serviceAccountName"] == "luke-training"
