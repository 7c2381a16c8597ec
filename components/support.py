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
import math
import os
from datetime import UTC, datetime
from typing import Any

STEP_CPUS_ENV = "LUKE_STEP_CPUS"
"""The CPUs a step's pod requests; the pipeline sets it from its resource settings."""


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


def worker_processes() -> int:
    """Processes for a step's parallel work: the CPUs its pod requests, at most the cores
    this process may use. `os.cpu_count()` sees the whole node, not the pod's share: a
    step on a 96-core node would start 96 workers inside a memory limit sized for its
    request."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    requested = os.environ.get(STEP_CPUS_ENV, "").strip()
    if not requested:
        return max(1, cores or 1)
    cpus = float(requested[:-1]) / 1000 if requested.endswith("m") else float(requested)
    return max(1, min(cores or 1, math.floor(cpus)))


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


def dump_db_uri(work_dir: str, name: str, dump_uri: str) -> str:
    """`{work_dir}/dump_db/{name}.db`; without a name (one part of a dump fanned out)
    `{work_dir}/dump_db/parts/{dump file name}-{hash of its URI}.db`: two parts of the same
    file name in other folders do not collide, and glob characters are replaced so that the
    merge reads the part's URI as a name, not as a pattern matching other parts."""
    import hashlib
    import re

    from luke_core import storage

    if name:
        return storage.join(work_dir, "dump_db", f"{name}.db")
    part = re.sub(r"[*?\[\]]", "_", storage.basename(dump_uri))
    digest = hashlib.sha256(dump_uri.encode()).hexdigest()[:8]
    return storage.join(work_dir, "dump_db", "parts", f"{part}-{digest}.db")


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


def last_modified(uri: str) -> datetime | None:
    """When the file was last written (None when that cannot be told)."""
    from luke_core import storage

    try:
        if not storage.is_s3(uri):
            return datetime.fromtimestamp(os.path.getmtime(uri), UTC)
        bucket, key = storage.split_s3(uri)
        return storage.s3_client().head_object(Bucket=bucket, Key=key)["LastModified"]
    except Exception:  # missing, unreadable: not known to be older than the output
        return None


def built_after(meta: dict, inputs: list[str]) -> bool:
    """Whether an output whose metadata says it was created at `meta["created"]` is newer
    than every input: an input written since (a new dump at the same URI, a part built
    again) makes the output stale."""
    try:
        created = datetime.fromisoformat(meta["created"])
    except (KeyError, TypeError, ValueError):
        return False
    if created.tzinfo is None:  # written as UTC
        created = created.replace(tzinfo=UTC)
    times = [last_modified(uri) for uri in inputs]
    return all(t is not None and t <= created for t in times)


def reusable_database(
    out: str, kind: str, *, expected: dict[str, Any], inputs: list[str]
) -> dict | None:
    """The metadata of the SQLite output at `out` (kind `dump_db` or `interwiki_db`) when
    it is current: its metadata holds the `expected` values (what it was built from, in
    order) and it is newer than each of its `inputs`; None when it must be (re)built."""
    from luke_core import storage
    from luke_core.errors import LukeError

    if not storage.exists(out):
        return None
    try:
        meta = _database_meta(out, kind)
    except LukeError as exc:
        logging.getLogger(__name__).info("building %s again: %s", out, exc)
        return None
    if any(meta.get(key) != value for key, value in expected.items()):
        return None
    sizes = meta.get("input_sizes") or {}
    if not built_after(meta, inputs) or any(
        uri in sizes and sizes[uri] != storage.size(uri) for uri in inputs
    ):
        logging.getLogger(__name__).info("building %s again: an input changed since", out)
        return None
    logging.getLogger(__name__).info("reusing %s: built from the same inputs", out)
    return meta


def _database_meta(uri: str, kind: str) -> dict:
    if kind == "interwiki_db":
        from luke_core.entity_vocab.interwiki_db import InterwikiDB

        with InterwikiDB(uri) as db:
            return dict(db.meta)
    from luke_core.dump_db import DumpDB

    with DumpDB(uri) as db:
        return dict(db.meta)


def reusable_dataset(out: str, inputs: dict[str, str], options: Any):
    """The summary of the dataset at `out` when it was built from the same inputs (the
    same dump database build, tokenizer and vocabulary content) with the same options;
    None when it must be (re)built."""
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
    # the splitter and its model are recorded resolved: none asked for means ICU for the
    # language; the OpenNLP model may come from the environment
    wanted["sentence_splitter"] = options.sentence_splitter or meta.language or "en"
    wanted["opennlp_model"] = (
        (options.opennlp_model or os.environ.get("LUKE_OPENNLP_MODEL"))
        if wanted["sentence_splitter"] == "opennlp"
        else None
    )
    ignored = {"processes", "progress", "pages_per_task"}
    same_options = all(built.get(k) == v for k, v in wanted.items() if k not in ignored)
    if not (same_vocab and same_options and built.get("dump_db_build_id") == build_id
            and _same_tokenizer(meta, inputs["tokenizer"])):  # fmt: skip
        return None
    logging.getLogger(__name__).info("reusing %s: built from the same inputs", out)
    return meta.summary


def _same_tokenizer(meta, tokenizer: str) -> bool:
    """The same vocabulary (a base model rebuilt or updated under the same name is not the
    same tokenizer); datasets without the hash compare by name."""
    from luke_core.dataset.format import tokenizer_sha256
    from luke_core.dataset.tokenizers import load_tokenizer

    if not meta.tokenizer_sha256:
        return meta.build_options.get("tokenizer") == tokenizer
    return meta.tokenizer_sha256 == tokenizer_sha256(load_tokenizer(tokenizer))


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
