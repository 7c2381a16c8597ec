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
    """Every number of a step's summary as a KFP metric (text is left out; `reused`, the
    one flag a dashboard wants, as 0 or 1)."""
    for name, value in summary_values(summary).items():
        if name == "reused":
            metrics.log_metric(f"{prefix}reused", int(bool(value)))
        elif isinstance(value, int | float) and not isinstance(value, bool):
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


MASKING = {"": None, "whole-word": True, "subword": False}
"""The pipelines' `masking` parameter -> `PretrainOptions.whole_word_masking` (None: the
preset's)."""


def whole_word_masking(masking: str) -> bool | None:
    from luke_core.errors import LukeError

    if masking not in MASKING:
        raise LukeError(f"masking {masking!r}: whole-word, subword, or empty for the preset's")
    return MASKING[masking]


def launch_stage(spec, launcher: str, job_options: dict[str, Any]) -> None:
    """Run a training stage to its end: torchrun here (`local`: the processes inherit this
    step's environment, S3 endpoint included) or a PyTorchJob (`pytorchjob`, built from
    `job_options`). A stage that does not succeed fails the step."""
    from luke_core.errors import LukeError
    from luke_core.launch import LocalLauncher

    if launcher == "pytorchjob":
        from luke_k8s.job_options import PyTorchJobOptions
        from luke_k8s.launcher import PyTorchJobLauncher

        result = PyTorchJobLauncher(PyTorchJobOptions.from_dict(job_options)).run(spec)
    elif launcher == "local":
        result = LocalLauncher().run(spec)
    else:
        raise LukeError(f"training launcher must be 'local' or 'pytorchjob', not {launcher!r}")
    if not result.succeeded:
        raise LukeError(f"training stage {spec.name} failed: {result.detail}")


def report_stage(out: str, stage: str, metrics, curves, checkpoint) -> None:
    """A finished stage's last logged figures as metrics, its curves as an HTML page and a
    pointer to the run folder and its latest complete checkpoint."""
    from components.report import curves_html
    from luke_core.training.checkpoints import latest_complete
    from luke_core.training.metrics import read_metrics

    rows = read_metrics(out)
    final = {k: v for k, v in (rows[-1] if rows else {}).items() if isinstance(v, int | float)}
    log_metrics(metrics, final, prefix="final_")
    with open(curves.path, "w") as f:
        f.write(curves_html(rows, f"pretraining {stage}: {out}"))
    latest = latest_complete(out)
    write_pointer(
        checkpoint, out, "pretraining_run", stage=stage, latest=latest.uri if latest else ""
    )


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


def check_wikipedias(wikipedias: Any) -> None:
    """mLUKE's `wikipedias`: {language, dump} objects, each language once (two entries of
    one language would write the same files at the same time)."""
    from luke_core.errors import LukeError

    if not isinstance(wikipedias, list) or not all(
        isinstance(w, dict) and w.get("language") and w.get("dump") for w in wikipedias
    ):
        raise LukeError('wikipedias: a list of {"language": ..., "dump": ...} objects')
    languages = [w["language"] for w in wikipedias]
    repeated = sorted({lang for lang in languages if languages.count(lang) > 1})
    if repeated:
        raise LukeError(f"wikipedias: language {', '.join(repeated)} given more than once")
