"""Progress bars and end-of-step summaries, shared by every long-running step."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

logger = logging.getLogger(__name__)


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    disable: bool = False,
) -> tqdm:
    """A tqdm bar on stderr showing a rate. Off a terminal (pod logs) it refreshes every
    30 s instead of continuously, so logs stay readable."""
    interactive = sys.stderr.isatty()
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        dynamic_ncols=interactive,
        mininterval=0.2 if interactive else 30.0,
        file=sys.stderr,
        disable=disable,
    )


def summary_dict(summary: Any) -> dict[str, Any]:
    """A summary dataclass as a JSON-ready dict, floats rounded for humans."""
    out = dataclasses.asdict(summary) if dataclasses.is_dataclass(summary) else dict(summary)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def log_summary(title: str, summary: Any) -> None:
    logger.info("%s: %s", title, json.dumps(summary_dict(summary), ensure_ascii=False))
