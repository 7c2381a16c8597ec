"""The PyTorchJob of a training stage: built for 1 and 4 nodes and checked field by field,
validated against the training operator's CRD schema (strict: unknown fields rejected) and
its webhook's rules, the pod template validated as a Pod by kubernetes-validate."""

from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest
import yaml

from luke_core.errors import LukeError
from luke_core.launch import TrainingJobSpec
from luke_k8s import pytorchjob as pj
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.manifest import to_yaml
from luke_testing.crd_schema import pytorchjob_errors

K8S_VERSION = "1.32.0"  # the kubectl on these machines; Kubeflow 1.10 supports 1.31-1.33
ARGS = (
    "--dataset-dir",
    "s3://luke/run/dataset",
    "--output-dir",
    "s3://luke/run/stage1",
    "--deepspeed-config-file",
    "luke-base-stage1",
    "--fix-bert-weights",
)
RUN_ID = "8e0c6f55-9d2b-4a8b-b1b5-2f5f0b8a6d10"
OPTIONS = PyTorchJobOptions(image="ghcr.io/example/luke-training:1.2.3")


def spec(num_nodes: int, procs: int, **kwargs) -> TrainingJobSpec:
    values = {
        "name": "stage1",
        "pretrain_args": ARGS,
        "num_nodes": num_nodes,
        "procs_per_node": procs,
        "run_id": RUN_ID,
        **kwargs,
    }
    return TrainingJobSpec(**values)


def the_container(job: dict, kind: str = "Master") -> dict:
    (container,) = job["spec"]["pytorchReplicaSpecs"][kind]["template"]["spec"]["containers"]
    return container


def env_of(container: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container["env"]}


def validate_pod(template: dict) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", **template["metadata"]},
        "spec": template["spec"],
    }
    try:
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"pod template is not a valid Pod: {str(exc)[:300]}")


def test_one_node_job_field_by_field():
    job = pj.build_pytorchjob(spec(1, 1), OPTIONS)

    assert job["apiVersion"] == "kubeflow.org/v1" and job["kind"] == "PyTorchJob"
    meta = job["metadata"]
    assert meta["name"] == pj.job_name(spec(1, 1))
    assert re.fullmatch(r"luke-stage1-[0-9a-f]{10}", meta["name"])
    assert "namespace" not in meta  # `kubectl apply -n` or the launcher decides
    assert meta["labels"]["luke-pipeline/run-id"] == RUN_ID
    assert meta["labels"]["luke-pipeline/stage"] == "stage1"
    assert meta["annotations"] == {"luke-pipeline/run-id": RUN_ID, "luke-pipeline/stage": "stage1"}
    assert job["spec"]["nprocPerNode"] == "1"
    assert list(job["spec"]["pytorchReplicaSpecs"]) == ["Master"]
    master = job["spec"]["pytorchReplicaSpecs"]["Master"]
    assert master["replicas"] == 1 and master["restartPolicy"] == "ExitCode"
    template = master["template"]
    assert template["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
    assert template["metadata"]["labels"]["luke-pipeline/run-id"] == RUN_ID
    pod = template["spec"]
    assert pod["volumes"] == [
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}
    ]
    # the Pod Security "restricted" level's requirements
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert "restartPolicy" not in pod  # the replica's restartPolicy governs
    container = the_container(job)
    assert container["name"] == "pytorch"
    assert container["image"] == "ghcr.io/example/luke-training:1.2.3"
    assert container["command"] == [
        "python",
        "-m",
        "luke_k8s.torchrun_node",
        "--node-rank=$(RANK)",
        "--master-addr=$(MASTER_ADDR)",
        "--master-port=$(MASTER_PORT)",
        "--nnodes=1",
        "--nproc-per-node=1",
        "-m",
        "luke_core",
        "pretrain",
        *ARGS,
    ]
    assert container["ports"] == [
        {"name": "pytorchjob-port", "containerPort": 23456, "protocol": "TCP"}
    ]
    assert container["volumeMounts"] == [{"name": "dshm", "mountPath": "/dev/shm"}]
    assert container["resources"] == {
        "requests": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"},
        "limits": {"memory": "64Gi", "nvidia.com/gpu": "1"},
    }
    assert job["spec"]["runPolicy"] == {
        "backoffLimit": 3,
        "cleanPodPolicy": "Running",
        "ttlSecondsAfterFinished": 86400,
    }
    assert pytorchjob_errors(job) == []
    validate_pod(template)


def test_four_node_job_field_by_field():
    options = OPTIONS.replace(
        namespace="luke",
        node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
        active_deadline_seconds=7 * 24 * 3600,
        gang_scheduling=True,
        scheduling_queue="training",
        priority_class="high-priority",
        service_account="luke-training",
        image_pull_secrets=("regcred",),
    )
    job = pj.build_pytorchjob(spec(4, 8), options)

    assert job["metadata"]["namespace"] == "luke"
    assert job["spec"]["nprocPerNode"] == "8"
    replicas = job["spec"]["pytorchReplicaSpecs"]
    assert (replicas["Master"]["replicas"], replicas["Worker"]["replicas"]) == (1, 3)
    assert replicas["Master"]["template"] == replicas["Worker"]["template"]
    assert replicas["Master"]["template"] is not replicas["Worker"]["template"]
    pod = replicas["Worker"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["priorityClassName"] == "high-priority"
    assert pod["serviceAccountName"] == "luke-training"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    container = the_container(job, "Worker")
    assert "--nnodes=4" in container["command"] and "--nproc-per-node=8" in container["command"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "8"
    assert job["spec"]["runPolicy"]["activeDeadlineSeconds"] == 604800
    assert job["spec"]["runPolicy"]["schedulingPolicy"] == {
        "minAvailable": 4,
        "queue": "training",
        "priorityClass": "high-priority",
    }
    # the longest name the operator derives from the job's stays a valid DNS label
    assert len(f"{job['metadata']['name']}-worker-2") <= 63
    assert pytorchjob_errors(job) == []
    validate_pod(replicas["Worker"]["template"])


def test_credentials_come_from_secrets_by_reference_only(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    monkeypatch.setenv("HF_TOKEN", "hf_also_secret")
    job = pj.build_pytorchjob(spec(2, 2), OPTIONS)
    env = env_of(the_container(job))

    assert env["AWS_ACCESS_KEY_ID"] == {
        "name": "AWS_ACCESS_KEY_ID",
        "valueFrom": {"secretKeyRef": {"name": "mlpipeline-minio-artifact", "key": "accesskey"}},
    }
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlpipeline-minio-artifact",
        "key": "secretkey",
    }
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "huggingface-token",
        "key": "token",
        "optional": True,
    }
    assert env["AWS_ENDPOINT_URL"]["valueFrom"]["configMapKeyRef"] == {
        "name": "luke-s3",
        "key": "AWS_ENDPOINT_URL",
    }
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN"):
        assert "value" not in env[name]
    text = to_yaml(job)
    assert "very-secret-value" not in text and "hf_also_secret" not in text


def test_endpoint_as_a_value_and_without_hugging_face_token():
    options = OPTIONS.replace(
        s3_endpoint="http://seaweedfs.kubeflow:8333", hf_token_secret="", s3_region="us-east-1"
    )
    env = env_of(the_container(pj.build_pytorchjob(spec(1, 1), options)))
    assert env["AWS_ENDPOINT_URL"] == {
        "name": "AWS_ENDPOINT_URL",
        "value": "http://seaweedfs.kubeflow:8333",
    }
    assert env["AWS_DEFAULT_REGION"]["value"] == "us-east-1"
    assert "HF_TOKEN" not in env


def test_cpu_jobs_use_deepspeed_cpu_accelerator_and_no_gpus():
    options = OPTIONS.replace(
        use_gpus=False, cpu_request="2", memory_request="4Gi", memory_limit="8Gi", shm_size="1Gi"
    )
    job = pj.build_pytorchjob(spec(2, 2, env={"NCCL_DEBUG": "WARN"}), options)
    container = the_container(job)
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"memory": "8Gi"},
    }
    env = env_of(container)
    assert env["DS_ACCELERATOR"]["value"] == "cpu"
    assert env["NCCL_DEBUG"]["value"] == "WARN"
    assert pytorchjob_errors(job) == []


def test_the_schema_check_rejects_unknown_fields_bad_types_and_bad_enums():
    """The validator itself must fail on what a cluster would reject."""
    good = pj.build_pytorchjob(spec(2, 1), OPTIONS)
    assert pytorchjob_errors(good) == []

    def broken(change) -> list[str]:
        job = json.loads(json.dumps(good))
        change(job)
        return pytorchjob_errors(job)

    master = lambda j: j["spec"]["pytorchReplicaSpecs"]["Master"]  # noqa: E731
    assert broken(lambda j: the_container(j).update(gpus=1))  # unknown container field
    assert broken(lambda j: j["spec"]["runPolicy"].update(cleanupPolicy="All"))  # misspelt
    assert broken(lambda j: master(j).update(replicas="1"))  # wrong type
    assert broken(lambda j: master(j).update(restartPolicy="Sometimes"))  # bad enum
    assert broken(lambda j: j["spec"]["runPolicy"].update(cleanPodPolicy="Some"))
    assert broken(lambda j: master(j).update(replicas=2))  # one master only
    assert broken(lambda j: the_container(j).update(name="trainer"))  # the operator's name
    assert broken(lambda j: j["metadata"].update(name="Luke_stage1"))  # not DNS-1035
    # int-or-string quantities accept both forms, as the API does
    assert not broken(lambda j: the_container(j)["resources"]["requests"].update(cpu=4))


@pytest.mark.parametrize(
    "run_id",
    ["run-1", "Run_ID.With.Dots", "pipelines/run:2024-01-01T00:00:00Z", "x" * 100, "--weird--"],
)
def test_label_values_are_sanitised_and_names_stay_short(run_id):
    job = pj.build_pytorchjob(spec(16, 8, run_id=run_id, name="stage2-" + "long" * 20), OPTIONS)
    assert pytorchjob_errors(job) == []
    label = job["metadata"]["labels"]["luke-pipeline/run-id"]
    assert len(label) <= 63 and re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", label)
    assert job["metadata"]["annotations"]["luke-pipeline/run-id"] == run_id  # the exact id
    assert len(job["metadata"]["name"] + "-worker-14") <= 63
    if re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]", run_id):
        assert label == run_id  # valid ids are kept as they are


def test_names_are_unique_per_run_and_stage():
    names = {
        pj.job_name(spec(2, 1, run_id=f"run-{i}", name=stage))
        for i in range(500)
        for stage in ("stage1", "stage2")
    }
    assert len(names) == 1000
    assert pj.job_name(spec(2, 1)) == pj.job_name(spec(4, 8))  # a retried step: same name


def test_dollar_signs_in_arguments_are_escaped_for_the_kubelet():
    job = pj.build_pytorchjob(
        spec(1, 1, pretrain_args=("--log-dir", "s3://b/$(HOME)/x$y")), OPTIONS
    )
    assert the_container(job)["command"][-2:] == ["--log-dir", "s3://b/$$(HOME)/x$$y"]


def test_no_yaml_anchors_in_the_manifest():
    text = to_yaml(pj.build_pytorchjob(spec(4, 8), OPTIONS))
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == pj.build_pytorchjob(spec(4, 8), OPTIONS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"memory_request": "8Gi", "memory_limit": "8Gi", "shm_size": "16Gi"},
            "shm_size 16Gi is above memory_limit 8Gi",
        ),
        ({"memory_request": "100Gi"}, "memory_request 100Gi is above memory_limit"),
        ({"cpu_request": "eight"}, "not a Kubernetes quantity"),
        ({"restart_policy": "Sometimes"}, "restart_policy"),
        ({"clean_pod_policy": "Some"}, "clean_pod_policy"),
        ({"namespace": "Luke_NS"}, "namespace"),
        ({"s3_secret": "bad secret"}, "s3_secret"),
        ({"tolerations": ({"key": "a", "effect": "Sometimes"},)}, "effect"),
        ({"tolerations": ({"key": "a", "operator": "Exists", "value": "v"},)}, "takes no value"),
        ({"tolerations": ({"kye": "a"},)}, "a toleration has keys"),
        ({"node_selector": {"bad key!": "x"}}, "not a valid label key"),
        ({"backoff_limit": -1}, "backoff_limit"),
        ({"backoff_limit": True}, "backoff_limit"),
        ({"master_port": 70000}, "master_port"),
        ({"image": "has space:1"}, "image"),
    ],
)
def test_bad_options_are_refused_with_a_message_naming_them(change, message):
    with pytest.raises(LukeError, match=re.escape(message)):
        OPTIONS.replace(**change)


def test_stage_env_may_not_shadow_operator_or_secret_variables():
    for name in ("RANK", "MASTER_ADDR", "PET_NNODES", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN"):
        with pytest.raises(LukeError, match=name):
            pj.build_pytorchjob(spec(1, 1, env={name: "x"}), OPTIONS)
    with pytest.raises(LukeError, match="run id"):
        pj.build_pytorchjob(spec(1, 1, run_id=""), OPTIONS)


def test_options_round_trip_through_a_pipeline_parameter():
    options = OPTIONS.replace(
        tolerations=({"key": "k", "operator": "Exists"},),
        node_selector={"pool": "gpu"},
        image_pull_secrets=("r",),
    )
    # a KFP dict parameter goes through a protobuf Struct: JSON with integers as floats
    as_struct = json.loads(json.dumps(options.to_dict()))
    as_struct["backoff_limit"] = 3.0
    as_struct["ttl_seconds_after_finished"] = 86400.0
    assert PyTorchJobOptions.from_dict(as_struct) == options
    with pytest.raises(LukeError, match="unknown gpus"):
        PyTorchJobOptions.from_dict({"gpus": 8})
    with pytest.raises(LukeError, match="backoff_limit"):
        PyTorchJobOptions.from_dict({"backoff_limit": 2.5})
