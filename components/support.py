"""What every component does around its step: point storage at the S3 endpoint, turn the
step's summary into KFP metrics, leave a small pointer artifact for the UI's lineage.

Large data never moves through KFP's artifact store: it lives under the run's work
directory in object storage, and components hand each other its URI as a string. The
pointer artifact (a JSON file naming the URI, with the same facts in its metadata) is what
the Kubeflow UI shows and links between steps.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any


def setup(s3_endpoint: str = "") -> None:
    """Logging for the step, and the S3 endpoint (credentials come from the environment,
    set from a Kubernetes Secret by the pipeline)."""
    logging.basicConfig(
        level=os.environ.get("LUKE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if s3_endpoint:
        os.environ["AWS_ENDPOINT_URL"] = s3_endpoint


def summary_values(summary: Any) -> dict[str, Any]:
    return dataclasses.asdict(summary) if dataclasses.is_dataclass(summary) else dict(summary)


def log_metrics(metrics, summary: Any, prefix: str = "") -> None:
    """Every number of a step's summary as a KFP metric (booleans and text are left out)."""
    for name, value in summary_values(summary).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics.log_metric(f"{prefix}{name}", round(float(value), 6))


def write_pointer(artifact, uri: str, kind: str, **facts: Any) -> None:
    """A pointer artifact: a small JSON file naming where the data is."""
    record = {"uri": uri, "kind": kind, **facts}
    with open(artifact.path, "w") as f:
        json.dump(record, f, indent=2, ensure_ascii=False, default=str)
    artifact.metadata.update(
        {k: v for k, v in record.items() if isinstance(v, str | int | float | bool)}
    )


def write_markdown(artifact, text: str) -> None:
    with open(artifact.path, "w") as f:
        f.write(text)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def natural_key(text: str) -> list:
    """Sort key putting `part2` before `part10`, as a dump's parts are numbered."""
    import re

    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", text)]


def output_uri(work_dir: str, *parts: str) -> str:
    from luke_core import storage

    return storage.join(work_dir, *parts)


def top_entities_markdown(vocab_uri: str, title: str, top: int = 30) -> str:
    """A Markdown table of a vocabulary's most linked entities, for the Kubeflow UI."""
    from luke_core.entity_vocab.vocab import EntityVocab

    vocab = EntityVocab.load(vocab_uri)
    rows = [
        [entry.id, ", ".join(f"{t} ({lang})" if lang else t for t, lang in entry.entities[:4]),
         entry.count]
        for entry in vocab.entries[3 : 3 + top]
    ]  # fmt: skip
    header = f"## {title}\n\n{len(vocab):,} entries, languages: "
    header += ", ".join(str(lang) for lang in vocab.languages) + f"\n\n`{vocab_uri}`\n\n"
    return header + markdown_table(["id", "entity", "links"], rows)


def reusable_dataset(out: str, inputs: dict[str, str], options: Any):
    """The summary of the dataset at `out` when it was built from the same inputs (the
    same dump database build, tokenizer and vocabulary content) with the same options;
    None when it must be (re)built."""
    import dataclasses

    from luke_core import storage
    from luke_core.dataset.format import ENTITY_VOCAB_FILE, load_metadata
    from luke_core.dump_db import DumpDB
    from luke_core.errors import LukeError

    try:
        meta = load_metadata(out)
        with DumpDB(inputs["dump_db"]) as db:
            build_id = db.meta.get("build_id")
        same_vocab = storage.read_bytes(storage.join(out, ENTITY_VOCAB_FILE)) == (
            storage.read_bytes(inputs["entity_vocab"])
        )
    except LukeError:
        return None
    built = meta.build_options
    wanted = dataclasses.asdict(options)
    ignored = {"processes", "progress", "pages_per_task", "sentence_splitter", "opennlp_model"}
    same_options = all(built.get(k) == v for k, v in wanted.items() if k not in ignored)
    if not (same_vocab and same_options and built.get("dump_db_build_id") == build_id
            and built.get("tokenizer") == inputs["tokenizer"]):  # fmt: skip
        return None
    logging.getLogger(__name__).info("reusing %s: built from the same inputs", out)
    return meta.summary


def dataset_markdown(out: str, name: str) -> str:
    from luke_core.dataset.format import load_metadata

    meta = load_metadata(out)
    rows = [[k, v] for k, v in meta.summary.items() if isinstance(v, int | float)]
    head = (
        f"## Dataset {name}\n\n`{out}`: {meta.number_of_items:,} sequences in "
        f"{len(meta.shards)} shards, language {meta.language}, tokenizer "
        f"{meta.tokenizer_class} ({meta.tokenizer_name}), {meta.entity_vocab_size:,} entities\n\n"
    )
    return head + markdown_table(["measure", "value"], rows)
