"""What the steps' commands share: options spelt the same in every step, and defaults taken
from each step's options dataclass (the one place a default is written)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import click

OptionsT = TypeVar("OptionsT")


def default(options_class: type, name: str) -> Any:
    """The default of an options dataclass field, for a click option's `default=`."""
    for found in dataclasses.fields(options_class):
        if found.name == name:
            if found.default is dataclasses.MISSING:
                raise TypeError(f"{options_class.__name__}.{name} has no plain default")
            return found.default
    raise TypeError(f"{options_class.__name__} has no field {name}")


def options_of(options_class: type[OptionsT], **values: Any) -> OptionsT:
    """The options, from the command's values; None (an option left out whose default the
    dataclass computes, such as the number of processes) takes the dataclass default."""
    return options_class(**{key: value for key, value in values.items() if value is not None})


def processes_option(*aliases: str):
    """`--processes` / `-j` in every step (an older spelling of a step stays as an alias)."""
    return click.option(
        "--processes",
        "-j",
        *aliases,
        "processes",
        type=click.IntRange(min=1),
        default=None,
        help="Worker processes [default: the CPUs this process may use: its affinity, cgroup "
        "quota and $LUKE_STEP_CPUS].",
    )


reuse_option = click.option(
    "--reuse",
    is_flag=True,
    help="Keep OUT when it is current: made by this step from the same inputs, unchanged "
    "since, with the same options; otherwise build it again (the log says why).",
)
progress_option = click.option("--progress/--no-progress", default=True, show_default=True)
