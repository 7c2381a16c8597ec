"""The main job on one machine: the LUKE pipeline, run with kfp.local, on a real Wikipedia
sample (../shared when present, else the enwiki fragment of the gensim wheel on PyPI) with a
tiny base model made here, through both stages and the export.

Storage is a local folder; with `s3=True` a SeaweedFS server is started for the run (its
data in OUT/seaweedfs, so a rerun finds it) and the run's work dir, everything large, goes
there; kfp's small artifacts stay in OUT/kfp. Prints where the Hugging Face model and the
report are, and the final masked-word and masked-entity accuracies.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from luke_core import storage
from luke_core.base_model import LocalBaseModelOptions, make_local_base_model
from luke_core.errors import LukeError
from luke_core.presets import TINY_BASE
from luke_core.samples import sample_dump
from luke_core.workdir import STAGES, WorkDir

logger = logging.getLogger(__name__)

# A run that learns something visible in a few minutes on 2 CPU cores.
DEMO_PARAMETERS: dict[str, Any] = {
    "entity_vocab_size": 20_000,
    "sentence_splitter": "en",
    "include_unk_entities": False,
    "max_seq_length": TINY_BASE.max_seq_length,
    "max_entity_length": 32,
    "preset": "tiny",
    "num_epochs": 20,
    "save_interval_steps": 200,
    "dataloader_workers": 0,
    "training_launcher": "local",
    "num_nodes": 1,
    "procs_per_node": 2,
    "hf_repo_id": "",
}
DEMO_BASE_MODEL = LocalBaseModelOptions()  # the tiny preset's sizes


@dataclass
class DemoResult:
    huggingface_model: str
    report: str
    masked_word_accuracy: float
    masked_entity_accuracy: float
    seconds: float


def run_demo(out_dir: str = "runs/demo", *, s3: bool = False) -> DemoResult:
    started = time.perf_counter()
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    dump = str(sample_dump())
    base_model = os.path.join(out_dir, "base-model")
    if not os.path.exists(os.path.join(base_model, "config.json")):
        make_local_base_model(dump, base_model, DEMO_BASE_MODEL)
    server, saved_env = None, dict(os.environ)
    try:
        if s3:
            server = _start_storage(out_dir)
            work_dir, dump = _stage_dump(server, dump)
        else:
            work_dir = os.path.join(out_dir, "work")
        from pipelines.runs import run_local

        params = {**DEMO_PARAMETERS, "dump_uris": [dump], "work_dir": work_dir,
                  "bert_model_name": base_model}  # fmt: skip
        model_uri = run_local("luke", params, os.path.join(out_dir, "kfp"))
        report, accuracies = _write_report(out_dir, work_dir, model_uri)
        if s3:
            model_uri = _download_model(model_uri, out_dir)
    finally:
        if server is not None:
            server.stop()
            _restore_environment(saved_env, server.env)
    return DemoResult(model_uri, report, *accuracies, time.perf_counter() - started)


def _start_storage(out_dir: str):
    """A SeaweedFS server for this run, keeping its data in OUT/seaweedfs (a rerun finds
    it); credentials go to the environment only (the pipeline's processes inherit it),
    until the run ends. The server comes from the test support of a checkout
    (`testsupport/`, installed by scripts/setup.sh), not from the wheel."""
    try:
        from luke_testing.seaweedfs import start_seaweedfs
    except ImportError:
        raise LukeError(
            "--s3 starts the SeaweedFS server of the project's test support: run the demo "
            "from a checkout set up by scripts/setup.sh (bash scripts/demo.sh --s3)"
        ) from None

    server = start_seaweedfs(os.path.join(out_dir, "seaweedfs"))
    os.environ.update(server.env)
    storage._clients.clear()
    return server


def _stage_dump(server, dump: str) -> tuple[str, str]:
    """The bucket (kept from an earlier run) and the dump in it: uploaded only when it is
    not there yet, so that a rerun finds its outputs newer than the dump and reuses them.
    Returns the work dir and the dump's URI."""
    from botocore.exceptions import ClientError

    bucket = "luke-demo"
    try:
        server.create_bucket(bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
    remote_dump = f"s3://{bucket}/dumps/{os.path.basename(dump)}"
    if not storage.exists(remote_dump) or storage.size(remote_dump) != os.path.getsize(dump):
        storage.upload_file(dump, remote_dump)
    logger.info("SeaweedFS at %s; the run's work dir is s3://%s/run", server.endpoint, bucket)
    return f"s3://{bucket}/run", remote_dump


def _restore_environment(saved: dict[str, str], keys) -> None:
    """The variables the server set (credentials, endpoint) as they were before it."""
    for key in keys:
        if key in saved:
            os.environ[key] = saved[key]
        else:
            os.environ.pop(key, None)
    storage._clients.clear()


def _download_model(model_uri: str, out_dir: str) -> str:
    local = os.path.join(out_dir, "huggingface")
    storage.remove(local)
    storage.download_dir(model_uri, local)
    return local


def _write_report(out_dir: str, work_dir: str, model_uri: str) -> tuple[str, tuple[float, float]]:
    """report.html: the curves of both stages, the final figures and the model card."""
    import html

    from components.report import curves_html
    from luke_core.training.metrics import read_metrics

    sections, last = [], {}
    for stage in STAGES:
        rows = read_metrics(WorkDir(work_dir).training(stage))
        last = rows[-1] if rows else {}
        body = curves_html(rows, f"LUKE demo, {stage}")
        sections.append(body.split("<body>", 1)[1].rsplit("</body>", 1)[0])
    card = storage.read_text(storage.join(model_uri, "README.md"))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>LUKE demo</title></head><body>"
        f"<h1>LUKE demo</h1><p>Hugging Face model: <code>{html.escape(model_uri)}</code></p>"
        f"<pre>{html.escape(json.dumps(last, indent=2))}</pre>{''.join(sections)}"
        f"<h2>Model card</h2><pre>{html.escape(card)}</pre></body></html>"
    )
    report = os.path.join(out_dir, "report.html")
    with open(report, "w") as f:
        f.write(page)
    accuracies = (last.get("masked_lm_accuracy", 0.0), last.get("masked_entity_accuracy", 0.0))
    return report, accuracies
