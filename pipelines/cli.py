"""The `luke-pipeline` command: the Kubernetes side of the project.

Subcommands live in their own modules, each exposing `commands` (a list of click commands),
listed in COMMAND_MODULES; errors and logging work as in `luke`. Heavy imports (kfp,
kubernetes) stay inside the commands so that `luke-pipeline --help` is fast."""

from __future__ import annotations

import click

from luke_core.cli import CommandGroup, configure_logging, log_level_option

COMMAND_MODULES = [
    "pipelines.commands",
    "luke_k8s.manifest",
]


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@log_level_option
@click.version_option(package_name="luke-pipeline")
def luke_pipeline(log_level: str) -> None:
    """Run LUKE pretraining on Kubeflow: pipelines, training jobs, manifests."""
    configure_logging(log_level)


luke_pipeline.add_command_modules(COMMAND_MODULES)


def main() -> None:
    luke_pipeline(prog_name="luke-pipeline")
