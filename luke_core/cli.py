"""The `luke` command: one subcommand per pipeline step, each a thin wrapper over the
step's entry function. Step modules define their click commands in their own `cli.py`;
this module collects them, sets up logging and turns `LukeError` into a message and
exit status 1 (usage errors exit with 2, as click does)."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys

import click

from luke_core.errors import LukeError

# Each module exposes `commands`: a list of click commands.
COMMAND_MODULES = [
    "luke_core.dump_db.cli",
    "luke_core.dataset.cli",
    "luke_core.entity_vocab.cli",
    "luke_core.export.cli",
    "luke_core.inspect",
    "luke_core.training.cli",
]


class CommandGroup(click.Group):
    """A command group whose `LukeError`s become `error: ...` and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LukeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    def add_command_modules(self, module_names: list[str]) -> None:
        """Add the `commands` (a list of click commands) of each module, and its `aliases`
        (other names of them: the reference's, for users who know those)."""
        for module_name in module_names:
            module = importlib.import_module(module_name)
            for command in module.commands:
                self.add_command(command)
            for name, command in getattr(module, "aliases", {}).items():
                self.add_command(command, name)


log_level_option = click.option(
    "--log-level",
    default=lambda: os.environ.get("LUKE_LOG_LEVEL", "INFO"),
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Logging verbosity (env LUKE_LOG_LEVEL).",
)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@log_level_option
@click.option(
    "--local_rank",
    "--local-rank",
    "local_rank",
    type=int,
    hidden=True,
    help="Set by the `deepspeed` launcher; LOCAL_RANK in the environment says the same.",
)
@click.version_option(package_name="luke-pipeline")
def luke(log_level: str, local_rank: int | None) -> None:
    """Pretrain LUKE and mLUKE from Wikipedia, step by step."""
    configure_logging(log_level)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def echo_json(obj) -> None:
    """Print a result for humans and machines alike."""
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


luke.add_command_modules(COMMAND_MODULES)


def main() -> None:
    luke(prog_name="luke")
