"""Is this output current? A step with `reuse` keeps an earlier output of its own instead of
building it again, when that output records the same recipe: the same step rules, the same
inputs, unchanged since they were read, and the same options, output-neutral ones aside.

A step builds its `Recipe` before any work, records it with its summary in the output (a
SQLite database's `meta`, a directory's metadata file, or a side file beside a one-file
output: `build_record`), and with `reuse` compares it with what an earlier output at the
same place recorded (`reused_summary`). The decision is the step's alone, from what it
recorded itself, so the CLI (`luke <step> --reuse`), the KFP components and the tests reuse
alike.

Which options do not change what a step writes (worker counts, progress bars, the size of a
unit of work) is said once, where the option is defined: `neutral(...)` in place of
`field(...)`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from luke_core import storage
from luke_core.errors import LukeError

logger = logging.getLogger(__name__)

OUTPUT_NEUTRAL = "output_neutral"
RECORD_KEY = "build"
"""Where an output keeps its build record (a `meta` key, a key of a metadata file)."""
SummaryT = TypeVar("SummaryT")


def neutral(**kwargs: Any) -> Any:
    """A dataclass field whose value does not change the output (`field(...)` otherwise)."""
    return field(metadata={OUTPUT_NEUTRAL: True}, **kwargs)


def is_neutral(options_field: dataclasses.Field) -> bool:
    return bool(options_field.metadata.get(OUTPUT_NEUTRAL))


def recipe_options(options: Any, **resolved: Any) -> dict[str, Any]:
    """The options that shape the output, as JSON values; `resolved` replaces a value by
    what it stood for (a default that depends on the environment, a resolved path)."""
    values = {
        f.name: getattr(options, f.name) for f in dataclasses.fields(options) if not is_neutral(f)
    }
    return json.loads(json.dumps({**values, **resolved}, default=str))


def file_stamp(uri: str, what: str | None = None) -> dict[str, Any]:
    """A file input's identity: where it is, its size and when it was last written. A
    missing file is an error naming `what` it should have been."""
    if what and not storage.is_file(uri):
        raise LukeError(f"{uri}: {what} not found")
    found = storage.stat(uri)
    return {"uri": uri, "size": found.size, "modified": found.modified}


def content_digest(uri: str, what: str | None = None) -> dict[str, Any]:
    """A small input's identity by content (an entity vocabulary, a white list): the same
    bytes rebuilt or copied elsewhere are the same input."""
    if what and not storage.is_file(uri):
        raise LukeError(f"{uri}: {what} not found")
    digest = hashlib.sha256()
    with storage.open_input(uri) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest()}


@dataclass(frozen=True)
class Recipe:
    """What an output is made from."""

    step: str
    version: int
    """The step's rules: raised when a change of the code changes what the step writes."""
    inputs: dict[str, Any]
    """Each input's identity (`file_stamp`, `content_digest` or the step's own), by role."""
    options: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, data: Any) -> Recipe:
        if not isinstance(data, dict) or not {"step", "version", "inputs", "options"} <= set(data):
            raise LukeError("the build record holds no recipe")
        return cls(data["step"], data["version"], data["inputs"], data["options"])

    def differences(self, other: Recipe) -> list[str]:
        """What `other` (an earlier output's recipe) does differently, in words."""
        found = []
        if (other.step, other.version) != (self.step, self.version):
            found.append(f"made by {other.step} rules {other.version}, now {self.version}")
        for kind, mine, theirs in (
            ("input", self.inputs, other.inputs),
            ("option", self.options, other.options),
        ):
            for name in sorted(set(mine) | set(theirs)):
                before, now = theirs.get(name), mine.get(name)
                if before != now:
                    found.append(f"{kind} {name}: {_short(before)} -> {_short(now)}")
        return found


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def build_record(recipe: Recipe, summary: Any) -> dict[str, Any]:
    """What an output records about its build: the recipe and the step's summary."""
    values = dataclasses.asdict(summary) if dataclasses.is_dataclass(summary) else dict(summary)
    values.pop("reused", None)
    return {"recipe": recipe.to_json(), "summary": json.loads(json.dumps(values, default=str))}


def reused_summary(
    out: str,
    recipe: Recipe,
    read_record: Callable[[str], dict[str, Any] | None],
    summary_type: type[SummaryT],
) -> SummaryT | None:
    """The summary of the earlier output at `out` (with `reused=True`) when it was made by
    the same recipe; None when the step must build it. `read_record(out)` returns the
    output's build record (None when it has none: made by an older version) or raises
    LukeError when `out` is no output of this step."""
    if not storage.exists(out):
        return None
    try:
        record = read_record(out)
        if record is None:
            raise LukeError("it records no recipe (made by an older version)")
        differences = recipe.differences(Recipe.from_json(record.get("recipe")))
    except LukeError as exc:
        logger.info("building %s again: %s", out, str(exc).removeprefix(f"{out}: "))
        return None
    if differences:
        logger.info("building %s again: %s", out, "; ".join(differences))
        return None
    logger.info("reusing %s: made from the same inputs with the same options", out)
    names = {f.name for f in dataclasses.fields(summary_type)}
    values = {k: v for k, v in record.get("summary", {}).items() if k in names}
    return summary_type(**{**values, "reused": True})


def sidecar(out: str) -> str:
    """Where a one-file output whose format has no room for it (an `entity_vocab.jsonl`)
    keeps its build record."""
    return f"{out}.build.json"


@contextlib.contextmanager
def published_file(out: str, recipe: Recipe, summary: Any) -> Iterator[str]:
    """`storage.output_file(out)` and, once the file is published, its build record beside
    it (with the summary as the block left it)."""
    with storage.output_file(out) as tmp:
        yield tmp
    write_sidecar(out, recipe, summary)


def write_sidecar(out: str, recipe: Recipe, summary: Any) -> None:
    """Record the build of the file just published at `out`, with the file's size and time
    (cheap to check, even for a database of many GB on S3): a side file that does not match
    the file beside it (the file replaced since, or the record left by an earlier build
    whose successor failed before recording itself) is no record of it."""
    record = {**build_record(recipe, summary), "output": _output_stamp(out)}
    storage.write_json(sidecar(out), record)


def read_sidecar(out: str) -> dict[str, Any] | None:
    if not storage.is_file(sidecar(out)):
        return None
    record = storage.read_json(sidecar(out))
    if not isinstance(record, dict) or record.get("output") != _output_stamp(out):
        raise LukeError(f"{out}: its build record {sidecar(out)} belongs to another file")
    return record


def _output_stamp(out: str) -> dict[str, Any]:
    return {k: v for k, v in file_stamp(out).items() if k != "uri"}
