"""`luke-pipeline manifest`: a training stage's PyTorchJob as YAML, for `kubectl apply -f`.

It takes what the pipeline's training step takes: the stage (name, nodes, processes per node,
run id, `luke pretrain` arguments after `--`) and the PyTorchJob options, as a file holding
the same dict the pipeline receives as its job-options parameter, refined with `--set`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from luke_core import storage
from luke_core.errors import LukeError
from luke_core.launch import TrainingJobSpec
from luke_k8s.job_options import PyTorchJobOptions
from luke_k8s.pytorchjob import build_pytorchjob, job_name


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False)


def load_options(
    path: str | None, settings: tuple[str, ...] = (), **fixed: Any
) -> PyTorchJobOptions:
    """Options from a YAML/JSON file (a mapping of PyTorchJobOptions fields), then each
    `KEY=VALUE` of `settings` (VALUE read as YAML: `use_gpus=false`, `node_selector={a: b}`),
    then `fixed` (values that are not None)."""
    values: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise LukeError(f"{path}: cannot read the options: {exc}") from exc
        if not isinstance(loaded, dict):
            raise LukeError(f"{path}: the options must be a mapping of option names to values")
        values.update(loaded)
    for setting in settings:
        key, sep, text = setting.partition("=")
        if not sep:
            raise LukeError(f"--set {setting!r}: expected KEY=VALUE")
        values[key.strip()] = yaml.safe_load(text) if text else ""
    values.update({key: value for key, value in fixed.items() if value is not None})
    return PyTorchJobOptions.from_dict(values)


def manifest_yaml(spec: TrainingJobSpec, options: PyTorchJobOptions, command: str = "") -> str:
    """The job as YAML, after comments saying how it was made and how to use it."""
    job = build_pytorchjob(spec, options)
    name = job_name(spec)
    header = f"# PyTorchJob for training stage {spec.name} of run {spec.run_id}.\n"
    if command:
        header += f"# Made by: {command}\n"
    header += (
        f"# Apply: kubectl apply -f FILE    Follow: kubectl logs -f {name}-master-0\n"
        f"# Delete when done: kubectl delete pytorchjob {name}\n"
    )
    return header + to_yaml(job)


def command_line(params: dict[str, Any]) -> str:
    """The `luke-pipeline manifest` command that makes this output again (without -o)."""
    words = ["luke-pipeline", "manifest", "--stage", params["stage"], "--run-id", params["run_id"]]
    words += ["--num-nodes", str(params["num_nodes"])]
    words += ["--procs-per-node", str(params["procs_per_node"])]
    for flag, key in (
        ("--options", "options_file"),
        ("--image", "image"),
        ("--namespace", "namespace"),
    ):
        if params[key]:
            words += [flag, params[key]]
    for flag, key in (("--set", "settings"), ("--env", "env_pairs")):
        for value in params[key]:
            words += [flag, value]
    return shlex.join([*words, "--", *params["pretrain_args"]])


def _env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise LukeError(f"--env {pair!r}: expected NAME=VALUE")
        env[name] = value
    return env


REQUIRED_PRETRAIN_OPTIONS = ("--dataset-dir", "--output-dir")


def _check_pretrain_args(args: tuple[str, ...]) -> None:
    """A job without these would start its pods only to fail there: say so here."""
    given = {arg.partition("=")[0] for arg in args}
    missing = [option for option in REQUIRED_PRETRAIN_OPTIONS if option not in given]
    if missing:
        raise click.UsageError(
            f"the `luke pretrain` arguments after `--` need {' and '.join(missing)}"
        )


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--stage", required=True, help="Stage name, e.g. stage1 or stage2.")
@click.option("--run-id", default="manual", show_default=True, help="Labels and job name.")
@click.option("--num-nodes", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--procs-per-node", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--options",
    "options_file",
    type=click.Path(dir_okay=False),
    help="YAML/JSON mapping of PyTorchJob options (the pipeline's job-options parameter).",
)
@click.option("--set", "settings", multiple=True, help="Override one option: KEY=VALUE.")
@click.option("--image", help="Training image (default: luke_k8s.images.training_image()).")
@click.option("--namespace", help="metadata.namespace (default: none, kubectl -n decides).")
@click.option("--env", "env_pairs", multiple=True, help="Extra NAME=VALUE for the pods.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.argument("pretrain_args", nargs=-1, type=click.UNPROCESSED)
def manifest(
    stage,
    run_id,
    num_nodes,
    procs_per_node,
    options_file,
    settings,
    image,
    namespace,
    env_pairs,
    output,
    pretrain_args,
) -> None:
    """Print the PyTorchJob of one training stage for `kubectl apply -f -`.

    The arguments after `--` are those of `luke pretrain`, e.g.

      luke-pipeline manifest --stage stage1 --num-nodes 2 --procs-per-node 8 --
      --dataset-dir s3://bucket/run/dataset --output-dir s3://bucket/run/stage1
      --deepspeed-config-file luke-base-stage1 --fix-bert-weights
    """
    _check_pretrain_args(pretrain_args)
    options = load_options(options_file, settings, image=image, namespace=namespace)
    spec = TrainingJobSpec(
        name=stage,
        pretrain_args=tuple(pretrain_args),
        num_nodes=num_nodes,
        procs_per_node=procs_per_node,
        env=_env(env_pairs),
        run_id=run_id,
    )
    text = manifest_yaml(spec, options, command_line(click.get_current_context().params))
    if output:
        storage.write_text(output, text)
    else:
        click.echo(text, nl=False)


commands = [manifest]
