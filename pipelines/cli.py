"""The `luke-pipeline` command: the Kubernetes side of the project.

Subcommands live in their own modules, each exposing `commands` (a list of click commands),
listed in COMMAND_MODULES; this module sets up logging and turns `LukeError` into a message
and exit status 1, as `luke` does. Heavy imports (kfp, kubernetes) stay inside the commands
so that `luke-pipeline --help` is fast."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from luke_core.errors import LukeError

COMMAND_MODULES = [
    "pipelines.commands",
    "pipelines.manifest",
]


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LukeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    default=lambda: os.environ.get("LUKE_LOG_LEVEL", "INFO"),
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Logging verbosity (env LUKE_LOG_LEVEL).",
)
@click.version_option(package_name="luke-pipeline")
def luke_pipeline(log_level: str) -> None:
    """Run LUKE pretraining on Kubeflow: pipelines, training jobs, manifests."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


for _module_name in COMMAND_MODULES:
    for _command in importlib.import_module(_module_name).commands:
        luke_pipeline.add_command(_command)


def main() -> None:
    luke_pipeline(prog_name="luke-pipeline")
