"""`luke-pipeline submit` with the real kfp.Client against a local server speaking the KFP
v2beta1 API subset it calls (testsupport/luke_testing/kfp_fake.py): the run carries the pipeline
spec inline, the parameters, the experiment and the pipeline root; the token comes from
KFP_TOKEN (or a mounted service-account token) as an Authorization header, and never shows
in the command line, the output or the request bodies."""

from __future__ import annotations

import json

import kfp
import pytest
from click.testing import CliRunner

from luke_testing.kfp_fake import API, FakeKfp
from pipelines.cli import luke_pipeline
from pipelines.commands import submit_command

TOKEN = "kfp-test-token-3f9a1c77e2b54d0d"
pytestmark = pytest.mark.filterwarnings("ignore:This client only works with Kubeflow Pipeline")


@pytest.fixture(autouse=True)
def _isolated_client(monkeypatch, tmp_path):
    """No KFP context file of this machine, no token or host from its environment."""
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "no-context.json"))
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "no-token"))
    for name in ("KFP_TOKEN", "KFP_HOST", "KF_PIPELINES_ENDPOINT", "LUKE_S3_SECRET"):
        monkeypatch.delenv(name, raising=False)


def submit(server: FakeKfp, *args: str):
    return CliRunner().invoke(luke_pipeline, ["submit", "--host", server.url, *args])


def last_json(output: str) -> dict:
    """The command's JSON line (kfp.Client prints the experiment's and the run's links)."""
    return json.loads(output.strip().splitlines()[-1])


def run_requests(server: FakeKfp):
    return [r for r in server.requests if r.method == "POST" and r.path == f"{API}/runs"]


def test_submit_sends_the_run_with_its_parameters(monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    with FakeKfp(token=TOKEN) as server:
        result = submit(
            server,
            "--pipeline", "luke",
            "--experiment", "luke-tests",
            "--run-name", "enwiki-2024",
            "--pipeline-root", "s3://mlpipeline/luke/kfp-root",
            "--service-account", "luke-launcher",
            "-p", "num_epochs=3",
            "-p", "hf_repo_id=studio/luke-tiny",
            "-p", 'dump_uris=["s3://b/enwiki-p1.xml.bz2", "s3://b/enwiki-p2.xml.bz2"]',
            "-p", "masked_lm_prob=0.2",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        (request,) = run_requests(server)
        run = request.body
        assert last_json(result.output) == {
            "run_id": next(iter(server.runs)),
            "host": server.url,
            "experiment": "luke-tests",
        }
        (experiment,) = server.experiments.values()
    assert experiment["display_name"] == "luke-tests"
    assert run["experiment_id"] == experiment["experiment_id"]
    assert run["display_name"] == "enwiki-2024"
    assert run["service_account"] == "luke-launcher"
    config = run["runtime_config"]
    assert config["pipeline_root"] == "s3://mlpipeline/luke/kfp-root"
    assert config["parameters"] == {
        "num_epochs": 3,
        "hf_repo_id": "studio/luke-tiny",
        "dump_uris": ["s3://b/enwiki-p1.xml.bz2", "s3://b/enwiki-p2.xml.bz2"],
        "masked_lm_prob": 0.2,
    }
    # the compiled YAML's two documents travel inline: the pipeline and its Secrets
    spec = run["pipeline_spec"]
    assert spec["pipeline_spec"]["pipelineInfo"]["name"] == "luke-pretraining"
    secrets = spec["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert secrets["exec-pretrain"]["secretAsEnv"][0]["secretName"] == "mlpipeline-minio-artifact"


def test_the_token_goes_in_the_header_only(monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    with FakeKfp(token=TOKEN) as server:
        result = submit(server, "--pipeline", "mluke", "-p", "num_epochs=1")
        assert result.exit_code == 0, result.output
    authenticated = [r for r in server.requests if r.path != f"{API}/healthz"]
    assert {r.path for r in authenticated} >= {f"{API}/experiments", f"{API}/runs"}
    assert all(r.authorization == f"Bearer {TOKEN}" for r in authenticated)
    assert TOKEN not in result.output
    assert TOKEN not in json.dumps([r.body for r in server.requests])
    assert TOKEN not in json.dumps([r.query for r in server.requests])
    # no option takes a token: it never is on a command line
    assert not [p for p in submit_command.params if "token" in p.name.lower()]


def test_a_service_account_token_file_is_used_without_kfp_token(monkeypatch, tmp_path):
    """In a Kubeflow pod (a notebook), the projected token kfp knows is the credential."""
    token_file = tmp_path / "sa-token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token_file))
    with FakeKfp(token=TOKEN) as server:
        result = submit(server, "-p", "num_epochs=1")
        assert result.exit_code == 0, result.output
        assert run_requests(server)[0].authorization == f"Bearer {TOKEN}"
    assert TOKEN not in result.output


def test_an_existing_experiment_is_reused():
    with FakeKfp() as server:
        for _ in range(2):
            result = submit(server, "--experiment", "again", "-p", "num_epochs=1")
            assert result.exit_code == 0, result.output
        assert len(server.experiments) == 1
        runs = run_requests(server)
    assert len(runs) == 2
    assert runs[0].body["experiment_id"] == runs[1].body["experiment_id"]
    assert all(r.authorization is None for r in server.requests)  # no token, none sent


def test_the_secret_names_follow_the_options():
    with FakeKfp() as server:
        result = submit(server, "--s3-secret", "team-s3", "--hf-secret", "team-hf")
        assert result.exit_code == 0, result.output
        spec = run_requests(server)[0].body["pipeline_spec"]
    executors = spec["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    names = {e["secretName"] for ex in executors.values() for e in ex["secretAsEnv"]}
    assert names == {"team-s3", "team-hf"}
    # the training job's pods get the same Secrets (the pretrain step's job_defaults)
    tasks = spec["pipeline_spec"]["root"]["dag"]["tasks"]
    defaults = tasks["pretrain"]["inputs"]["parameters"]["job_defaults"]["runtimeValue"]
    assert defaults["constant"]["s3_secret"] == "team-s3"
    assert defaults["constant"]["hf_token_secret"] == "team-hf"


def test_a_refused_run_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", "not-the-token")
    with FakeKfp(token=TOKEN) as server:
        result = submit(server, "-p", "num_epochs=1")
    assert result.exit_code == 1
    assert "error:" in result.output and "401" in result.output
    assert "not-the-token" not in result.output
    assert not run_requests(server)


def test_unknown_parameters_are_refused_before_anything_is_sent():
    with FakeKfp() as server:
        result = submit(server, "-p", "num_epoch=1")
    assert result.exit_code == 1
    assert "pipeline luke has no parameter num_epoch" in result.output
    assert server.requests == []


def test_an_mluke_language_given_twice_is_refused_before_anything_is_sent():
    twice = '[{"language": "en", "dump": "s3://b/a.bz2"}, {"language": "en", "dump": "s3://b/b"}]'
    with FakeKfp() as server:
        result = submit(server, "--pipeline", "mluke", "-p", f"wikipedias={twice}")
        assert result.exit_code == 1 and "language en given more than once" in result.output
        result = submit(server, "--pipeline", "mluke", "-p", 'wikipedias=["en"]')
        assert result.exit_code == 1 and "wikipedias: a list of" in result.output
        assert server.requests == []


def test_an_unreachable_host_is_a_clear_error():
    server = FakeKfp()  # never started: nothing listens on its port
    server._server.server_close()
    result = submit(server, "-p", "num_epochs=1")
    assert result.exit_code == 1
    assert f"error: {server.url}: cannot reach the KFP API" in result.output
