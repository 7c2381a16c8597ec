"""Both pipelines compiled and their YAML read back (document 1: the pipeline spec,
document 2: the Kubernetes platform spec): images, no install step, resources, retries,
caching, Secrets by reference and no credential values, the ParallelFor loops, the upload
condition, the parameters' defaults; and `luke-pipeline compile` itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from luke_core.presets import get_preset
from luke_core.training.deepspeed_config import load_config
from pipelines import settings
from pipelines.cli import luke_pipeline
from pipelines.runs import compile_pipeline

REGISTRY, TAG = "registry.example.com/team", "7.1.0"
# credentials in the compiling process's environment must not reach the YAML
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAQWERTYUIOP123456",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY9",
    "HF_TOKEN": "hf_FakeTokenForCompileTestsOnly0123456789",
    "KFP_TOKEN": "kfp-fake-token-for-compile-tests",
}
TRAINING_STEPS = {"pretrain", "export-huggingface", "upload-to-hub"}
NOT_RETRIED = {"pretrain"}
WITH_HF_TOKEN = {"pretrain", "upload-to-hub", "build-dataset"}


@pytest.fixture(scope="module", params=["luke", "mluke"])
def compiled(request, tmp_path_factory) -> tuple[str, str, dict, dict]:
    """(pipeline, YAML text, pipeline spec, platform spec), compiled with another registry
    and tag and with fake credentials in the environment."""
    output = tmp_path_factory.mktemp("compiled") / f"{request.param}.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LUKE_IMAGE_REGISTRY", REGISTRY)
        patch.setenv("LUKE_IMAGE_TAG", TAG)
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        compile_pipeline(request.param, str(output))
    text = output.read_text()
    spec, platform = yaml.safe_load_all(text)
    return request.param, text, spec, platform


def walk_tasks(spec: dict, dag: dict | None = None, groups: tuple[str, ...] = ()):
    """(groups above it, task name, task) of every task, inside loops and conditions too."""
    dag = spec["root"]["dag"] if dag is None else dag
    for name, task in dag["tasks"].items():
        yield groups, name, task
        component = spec["components"][task["componentRef"]["name"]]
        if "dag" in component:
            yield from walk_tasks(spec, component["dag"], (*groups, name))


def step_of(task: dict) -> str:
    """The step a task runs: its component's name without kfp's `-2` suffixes."""
    return re.sub(r"-\d+$", "", task["componentRef"]["name"].removeprefix("comp-"))


def executor_of(spec: dict, task: dict) -> tuple[str, dict]:
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    return label, spec["deploymentSpec"]["executors"][label]


def step_tasks(spec: dict) -> list[tuple[str, dict]]:
    return [(step_of(t), t) for _, _, t in walk_tasks(spec) if "executorLabel" in
            spec["components"][t["componentRef"]["name"]]]  # fmt: skip


def test_every_step_runs_in_the_projects_image(compiled):
    _, _, spec, _ = compiled
    for step, task in step_tasks(spec):
        image = "luke-training" if step in TRAINING_STEPS else "luke-preprocess"
        _, executor = executor_of(spec, task)
        assert executor["container"]["image"] == f"{REGISTRY}/{image}:{TAG}", step


def test_no_step_installs_packages_at_run_time(compiled):
    _, _, spec, _ = compiled
    for label, executor in spec["deploymentSpec"]["executors"].items():
        container = executor["container"]
        script = " ".join(container["command"] + container["args"])
        assert not re.search(r"\bpip3?\b|ensurepip", script), label
        assert "kfp.dsl.executor_main" in script  # a lightweight component, run as is


def test_resources_as_settings_say(compiled):
    _, _, spec, _ = compiled
    steps = step_tasks(spec)
    assert {step for step, _ in steps} <= set(settings.RESOURCES)
    for step, task in steps:
        wanted = settings.RESOURCES[step]
        container = executor_of(spec, task)[1]["container"]
        assert container["resources"]["resourceCpuRequest"] == wanted.cpu, step
        assert container["resources"]["resourceMemoryRequest"] == wanted.memory, step
        assert container["resources"]["resourceMemoryLimit"] == wanted.memory, step
        # the step's worker pools follow its request, not the node's cores
        assert {"name": "LUKE_STEP_CPUS", "value": wanted.cpu} in container["env"], step


def test_retries_on_the_io_bound_steps_only(compiled):
    _, _, spec, _ = compiled
    for step, task in step_tasks(spec):
        if step in NOT_RETRIED:
            assert "retryPolicy" not in task, step
        else:
            policy = task["retryPolicy"]
            assert policy["maxRetryCount"] == settings.PipelineSettings().retries, step
            assert (policy["backoffDuration"], policy["backoffFactor"]) == ("60s", 2.0), step


def test_caching_is_off_everywhere(compiled):
    """Off for training above all; for the others too (settings.configure says why: the
    steps reuse current outputs themselves, KFP's cache cannot see deleted ones)."""
    _, _, spec, _ = compiled
    for _, name, task in walk_tasks(spec):
        assert not task.get("cachingOptions", {}).get("enableCache", False), name


def test_secrets_by_reference_on_every_step(compiled):
    _, _, spec, platform = compiled
    secrets = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for step, task in step_tasks(spec):
        label, _ = executor_of(spec, task)
        by_name = {s["secretName"]: s for s in secrets[label]["secretAsEnv"]}
        s3 = by_name.pop("mlpipeline-minio-artifact")
        assert not s3["optional"]
        assert {(k["secretKey"], k["envVar"]) for k in s3["keyToEnv"]} == {
            ("accesskey", "AWS_ACCESS_KEY_ID"),
            ("secretkey", "AWS_SECRET_ACCESS_KEY"),
        }
        if step in WITH_HF_TOKEN:
            hf = by_name.pop("huggingface-token")
            assert hf["optional"] is True  # a run without a Hub token still starts
            assert hf["keyToEnv"] == [{"envVar": "HF_TOKEN", "secretKey": "token"}]
        assert by_name == {}, step


def test_no_credential_value_in_the_yaml(compiled):
    _, text, _, _ = compiled
    for name, value in FAKE_CREDENTIALS.items():
        assert value not in text, name
    assert not re.search(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])", text)
    assert not re.search(r"hf_[A-Za-z0-9]{30,}", text)
    assignment = re.compile(
        r"(?i)\b(secret|password|passwd|token|api_?key|aws_secret_access_key|aws_access_key_id)"
        r"\s*[=:]\s*['\"]?[A-Za-z0-9/+_-]{16,}"
    )
    assert not assignment.search(text)
    assert "-----BEGIN" not in text


def test_the_training_job_follows_the_compile_time_settings(compiled):
    """The pods of a PyTorchJob get the image and Secrets the steps have (job_defaults)."""
    _, _, spec, _ = compiled
    pretrain = [t for step, t in step_tasks(spec) if step == "pretrain"]
    assert len(pretrain) == 2
    for task in pretrain:
        defaults = task["inputs"]["parameters"]["job_defaults"]["runtimeValue"]["constant"]
        assert defaults == {
            "image": f"{REGISTRY}/luke-training:{TAG}",
            "s3_secret": "mlpipeline-minio-artifact",
            "hf_token_secret": "huggingface-token",
        }


def test_the_stages_follow_the_data_steps(compiled):
    _, _, spec, _ = compiled
    tasks = spec["root"]["dag"]["tasks"]
    stage1, stage2 = tasks["pretrain"], tasks["pretrain-2"]
    assert (stage1["taskInfo"]["name"], stage2["taskInfo"]["name"]) == (
        "pretrain-stage1",
        "pretrain-stage2",
    )
    assert "compute-total-training-steps" in stage1["dependentTasks"]
    resume = stage2["inputs"]["parameters"]["resume_checkpoint_id"]["taskOutputParameter"]
    assert resume["producerTask"] == "pretrain"
    export = tasks["export-huggingface"]["inputs"]["parameters"]["checkpoint"]
    assert export["taskOutputParameter"]["producerTask"] == "pretrain-2"


def test_upload_only_when_a_repo_id_is_given(compiled):
    """A string condition: kfp.local cannot evaluate a float one and silently skips both
    branches (see pipelines/README.md)."""
    _, _, spec, _ = compiled
    conditions = [(g, n, t) for g, n, t in walk_tasks(spec) if "triggerPolicy" in t]
    assert len(conditions) == 1
    _, name, task = conditions[0]
    assert task["triggerPolicy"]["condition"] == (
        "inputs.parameter_values['pipelinechannel--hf_repo_id'] != ''"
    )
    inside = [step_of(t) for groups, _, t in walk_tasks(spec) if name in groups]
    assert inside == ["upload-to-hub"]
    assert "double(" not in yaml.safe_dump(spec)


def loops(spec: dict) -> dict[str, tuple[str, list[str]]]:
    """Loop task name -> (the pipeline parameter it iterates, the steps inside)."""
    found = {}
    for _, name, task in walk_tasks(spec):
        if "parameterIterator" in task:
            steps = [step_of(t) for groups, _, t in walk_tasks(spec) if name in groups]
            found[task["taskInfo"]["name"]] = (
                task["parameterIterator"]["items"]["inputParameter"],
                steps,
            )
    return found


def test_parallel_loops(compiled):
    pipeline, _, spec, _ = compiled
    tasks = spec["root"]["dag"]["tasks"]
    if pipeline == "luke":
        assert loops(spec) == {"dump-parts": ("pipelinechannel--dump_uris", ["build-dump-db"])}
        parts = tasks["merge-dump-db"]["inputs"]["parameters"]["part_uris"]
        assert parts["taskOutputParameter"]["producerTask"] == "for-loop-1"
    else:
        assert loops(spec) == {
            "languages": ("pipelinechannel--wikipedias", ["build-dump-db", "build-entity-vocab"]),
            "datasets": ("pipelinechannel--wikipedias", ["build-dataset"]),
        }
        vocabs = tasks["build-multilingual-entity-vocab"]["inputs"]["parameters"]["vocab_uris"]
        assert vocabs["taskOutputParameter"]["producerTask"].startswith("for-loop")


def test_no_loop_takes_an_upstream_output(compiled):
    """kfp.local 2.17 hands a ParallelFor the loop item in place of every upstream task
    output the loop consumes (pipelines/README.md): loops take parameters only."""
    _, _, spec, _ = compiled
    for _, name, task in walk_tasks(spec):
        if "parameterIterator" in task:
            inputs = task["inputs"]["parameters"].values()
            assert not [i for i in inputs if "taskOutputParameter" in i], name


LUKE_DEFAULTS = {
    "preset": "luke-base",
    "bert_model_name": "",  # the preset's
    "entity_vocab_size": 500_000,
    "entity_min_count": 0,
    "sentence_splitter": "opennlp",
    "include_unk_entities": True,
    "max_seq_length": 512,
    "max_entity_length": 128,
    "max_mention_length": 30,
    "min_sentence_length": 5,
    "abstract_only": False,
    "num_epochs": 20,
    "entity_emb_size": 0,
    "masked_lm_prob": 0.15,
    "masked_entity_prob": 0.15,
    "masking": "",
    "stage1_deepspeed_config": "",
    "stage2_deepspeed_config": "",
    "hf_repo_id": "",
    "training_launcher": "pytorchjob",
}
MLUKE_LANGUAGES = "ar bn de nl el en es fi fr hi id it ja ko pl pt ru sv sw te th tr vi zh"
MLUKE_DEFAULTS = {
    "preset": "mluke-base",
    "bert_model_name": "",
    "language_vocab_size": 1_000_000,
    "entity_vocab_size": 1_200_000,
    "min_num_languages": 3,
    "include_unk_entities": False,
    "max_seq_length": 512,
    "max_entity_length": 128,
    "max_mention_length": 30,
    "min_sentence_length": 5,
    "num_epochs": 20,
    "entity_emb_size": 0,
    "masked_lm_prob": 0.15,
    "masked_entity_prob": 0.15,
    "masking": "",
    "sampling_smoothing": 0.7,
    "stage1_deepspeed_config": "",
    "stage2_deepspeed_config": "",
    "interwiki_languages": [],  # the languages of `wikipedias`
    "hf_repo_id": "",
    "training_launcher": "pytorchjob",
}


def test_defaults_are_the_references(compiled):
    pipeline, _, spec, _ = compiled
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    defaults = {name: p.get("defaultValue") for name, p in parameters.items()}
    for name, wanted in (LUKE_DEFAULTS if pipeline == "luke" else MLUKE_DEFAULTS).items():
        assert defaults[name] == wanted, name
    # the preset holds the published recipe
    preset = get_preset(defaults["preset"])
    for stage in (1, 2):
        config = load_config(preset.stage_config(stage)).config  # a config the project ships
        assert config["train_batch_size"] == 2048  # the published runs' batch
    assert preset.entity_emb_size == 256
    if pipeline == "luke":
        assert (preset.bert_model_name, preset.whole_word_masking) == ("roberta-base", True)
    else:
        assert [w["language"] for w in defaults["wikipedias"]] == MLUKE_LANGUAGES.split()
        # mLUKE masks subwords (XLM-R)
        assert (preset.bert_model_name, preset.whole_word_masking) == ("xlm-roberta-base", False)
        assert preset.tokenizer_class == "MLukeTokenizer"


def test_every_parameter_reaches_a_step(compiled):
    _, _, spec, _ = compiled
    used = set(re.findall(r"componentInputParameter: (\w+)", yaml.safe_dump(spec)))
    used |= {
        name.removeprefix("pipelinechannel--")
        for name in re.findall(r"pipelinechannel--\w+", yaml.safe_dump(spec))
    }
    assert set(spec["root"]["inputDefinitions"]["parameters"]) <= used


def test_compile_command(tmp_path):
    output = tmp_path / "mluke.yaml"
    result = CliRunner().invoke(luke_pipeline, ["compile", "--pipeline", "mluke", "-o", output])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(output)
    spec, platform = yaml.safe_load_all(output.read_text())
    assert spec["pipelineInfo"]["name"] == "mluke-pretraining"
    assert "kubernetes" in platform["platforms"]


def secret_names(path: Path) -> set[str]:
    _, platform = yaml.safe_load_all(path.read_text())
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    return {s["secretName"] for e in executors.values() for s in e["secretAsEnv"]}


def test_compile_command_names_the_secrets(tmp_path):
    named, default = tmp_path / "named.yaml", tmp_path / "default.yaml"
    args = ["compile", "-o", named, "--s3-secret", "team-s3", "--hf-secret", "team-hf"]
    result = CliRunner().invoke(luke_pipeline, args)
    assert result.exit_code == 0, result.output
    assert secret_names(named) == {"team-s3", "team-hf"}
    assert "mlpipeline-minio-artifact" not in named.read_text()
    # the names applied to that compile only
    assert CliRunner().invoke(luke_pipeline, ["compile", "-o", default]).exit_code == 0
    assert secret_names(default) == {"mlpipeline-minio-artifact", "huggingface-token"}


def test_the_environment_names_the_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("LUKE_S3_SECRET", "env-s3")
    compile_pipeline("luke", str(tmp_path / "luke.yaml"))
    assert secret_names(tmp_path / "luke.yaml") == {"env-s3", "huggingface-token"}


def test_a_bad_registry_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LUKE_IMAGE_TAG", "latest")
    result = CliRunner().invoke(luke_pipeline, ["compile", "-o", tmp_path / "x.yaml"])
    assert result.exit_code != 0
    assert "LUKE_IMAGE_TAG='latest'" in str(result.exception) + result.output
    assert not (tmp_path / "x.yaml").exists()


def test_the_readme_states_the_resources():
    readme = (Path(__file__).parents[2] / "pipelines" / "README.md").read_text()
    rows = re.findall(r"^\| ([a-z-]+)[^|]* \| ([\dm]+) \| (\d+Gi) \|$", readme, re.MULTILINE)
    assert {step: settings.Resources(cpu, memory) for step, cpu, memory in rows} == (
        settings.RESOURCES
    )
