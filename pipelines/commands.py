"""`luke-pipeline compile | submit | run-local | demo`."""

from __future__ import annotations

import dataclasses
import json

import click

PIPELINE_CHOICE = click.Choice(["luke", "mluke"])


def _settings(s3_secret: str | None, hf_secret: str | None):
    from pipelines import settings

    changes = {k: v for k, v in (("s3_secret", s3_secret), ("hf_secret", hf_secret)) if v}
    return dataclasses.replace(settings.current(), **changes)


@click.command("compile")
@click.option("--pipeline", "name", type=PIPELINE_CHOICE, default="luke", show_default=True)
@click.option("--output", "-o", required=True, help="The YAML file to upload in the Kubeflow UI.")
@click.option("--s3-secret", help="Kubernetes Secret with accesskey/secretkey for S3 "
              "[mlpipeline-minio-artifact].")  # fmt: skip
@click.option(
    "--hf-secret", help="Kubernetes Secret with the Hugging Face `token` [huggingface-token]."
)
def compile_command(name, output, s3_secret, hf_secret) -> None:
    """Compile a pipeline to YAML (images from LUKE_IMAGE_REGISTRY / LUKE_IMAGE_TAG)."""
    from pipelines.runs import compile_pipeline

    click.echo(compile_pipeline(name, output, _settings(s3_secret, hf_secret)))


_parameter_options = [
    click.option("--pipeline", "name", type=PIPELINE_CHOICE, default="luke", show_default=True),
    click.option("--param", "-p", "pairs", multiple=True, help="key=value (JSON values too)."),
    click.option("--params-file", "files", multiple=True, help="YAML or JSON parameters."),
]


def _with_parameters(func):
    for option in reversed(_parameter_options):
        func = option(func)
    return func


@click.command("submit")
@_with_parameters
@click.option("--host", required=True, envvar="KFP_HOST", help="KFP API endpoint [KFP_HOST].")
@click.option("--experiment", default="luke", show_default=True)
@click.option("--run-name")
@click.option("--pipeline-root", help="Where KFP keeps this run's small artifacts.")
@click.option("--namespace", help="Kubeflow profile namespace (multi-user installs).")
@click.option("--service-account", help="Service account of the run's pods (see manifests/).")
@click.option("--s3-secret", help="As for compile [mlpipeline-minio-artifact].")
@click.option("--hf-secret", help="As for compile [huggingface-token].")
def submit_command(
    name, pairs, files, host, experiment, run_name, pipeline_root, namespace, service_account,
    s3_secret, hf_secret,
) -> None:  # fmt: skip
    """Send a run to a KFP endpoint (token: KFP_TOKEN or the service-account token file)."""
    from pipelines.runs import parse_parameters, submit

    run_id = submit(
        name,
        host=host,
        params=parse_parameters(list(pairs), list(files)),
        experiment=experiment,
        run_name=run_name,
        pipeline_root=pipeline_root,
        namespace=namespace,
        service_account=service_account,
        settings=_settings(s3_secret, hf_secret),
    )
    click.echo(json.dumps({"run_id": run_id, "host": host, "experiment": experiment}))


@click.command("run-local")
@_with_parameters
@click.option("--pipeline-root", default="runs/kfp", show_default=True,
              help="Where kfp.local keeps task outputs and logs.")  # fmt: skip
def run_local_command(name, pairs, files, pipeline_root) -> None:
    """Run a pipeline on this machine with kfp.local (training with local torchrun)."""
    from pipelines.runs import parse_parameters, run_local

    output = run_local(name, parse_parameters(list(pairs), list(files)), pipeline_root)
    click.echo(json.dumps({"output": output}))


@click.command("demo")
@click.option("--out", default="runs/demo", show_default=True, help="Local output folder.")
@click.option("--s3", is_flag=True, help="Keep every artifact in a SeaweedFS started for the run.")
@click.option("--fresh", is_flag=True, help="Start over: remove what an earlier demo left in OUT.")
def demo_command(out, s3, fresh) -> None:
    """The LUKE pipeline on a real Wikipedia sample with a tiny model made here. Run again,
    it reuses what is complete (finished steps, the latest checkpoints)."""
    import shutil

    from pipelines.demo import run_demo

    if fresh:
        shutil.rmtree(out, ignore_errors=True)
    result = run_demo(out, s3=s3)
    click.echo(json.dumps(dataclasses.asdict(result), indent=2))
    click.echo(
        f"\nHugging Face model: {result.huggingface_model}\nreport: {result.report}\n"
        f"final masked-word accuracy {result.masked_word_accuracy:.3f}, masked-entity "
        f"accuracy {result.masked_entity_accuracy:.3f} ({result.seconds:.0f} s)"
    )


commands = [compile_command, submit_command, run_local_command, demo_command]
