"""Training logs, written by the first process: `metrics.jsonl` in the output dir (one JSON
object per logged step: what the pipeline turns into Kubeflow metrics and plots) and
TensorBoard event files in the log dir.

Either may be an s3:// location: the files are written to a local mirror and uploaded
whole every `UPLOAD_INTERVAL_S`, at each checkpoint and at the end. A resumed run first
takes over the existing files and drops the lines after the step it resumes from (they will
be computed again), and TensorBoard hides the events after that step (`purge_step`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from luke_core import storage

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
UPLOAD_INTERVAL_S = 300.0
METRIC_FIELDS = (
    "step",
    "epoch",
    "loss",
    "masked_lm_loss",
    "masked_lm_accuracy",
    "masked_entity_loss",
    "masked_entity_accuracy",
    "lr",
    "samples_per_second",
    "samples",
)
"""The fields of every metrics.jsonl line (plus `time`, seconds since the epoch)."""


@dataclass
class _Mirror:
    """A local folder standing for a local or s3:// folder."""

    uri: str
    local: str

    @classmethod
    def of(cls, uri: str, staging: str) -> _Mirror:
        if not storage.is_s3(uri):
            os.makedirs(uri, exist_ok=True)
            return cls(uri, uri)
        os.makedirs(staging, exist_ok=True)
        return cls(uri, staging)

    @property
    def remote(self) -> bool:
        return self.uri != self.local

    def fetch(self, name: str) -> None:
        source = storage.join(self.uri, name)
        if self.remote and storage.is_file(source):
            storage.copy_to_local(source, os.path.join(self.local, name))

    def upload(self) -> None:
        if self.remote:
            storage.upload_dir(self.local, self.uri)


class MetricsLog:
    """Rank 0's logs. `resume_step`: the step the run continues from (0 for a fresh run)."""

    def __init__(self, output_dir: str, log_dir: str, staging: str, *, resume_step: int):
        self._metrics = _Mirror.of(output_dir, os.path.join(staging, "metrics"))
        self._events = _Mirror.of(log_dir, os.path.join(staging, "tensorboard"))
        self._metrics.fetch(METRICS_FILE)
        self.path = os.path.join(self._metrics.local, METRICS_FILE)
        _truncate_after(self.path, resume_step)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(self._events.local, purge_step=resume_step + 1)
        self._last_upload = time.monotonic()

    def log(self, record: dict[str, Any]) -> None:
        record = {**record, "time": round(time.time(), 3)}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        step = record["step"]
        for name, value in record.items():
            if name not in ("step", "epoch", "time") and isinstance(value, int | float):
                self._writer.add_scalar(f"train/{name}", value, step)
        if time.monotonic() - self._last_upload > UPLOAD_INTERVAL_S:
            self.sync()

    def sync(self) -> None:
        """Flush and, for s3:// locations, upload the files as they are now."""
        self._file.flush()
        self._writer.flush()
        self._metrics.upload()
        self._events.upload()
        self._last_upload = time.monotonic()

    def close(self) -> None:
        self.sync()
        self._writer.close()
        self._file.close()


def _truncate_after(path: str, step: int) -> None:
    """Keep the lines up to `step` (and none that a crash cut short); atomic rewrite."""
    if not os.path.exists(path):
        return
    kept = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("step", 0) <= step:
                kept.append(json.dumps(record) + "\n")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(kept)
    os.replace(tmp, path)


def read_metrics(output_dir: str) -> list[dict[str, Any]]:
    """The metrics.jsonl lines of a run (local or s3://); [] when there are none yet."""
    uri = storage.join(output_dir, METRICS_FILE)
    if not storage.is_file(uri):
        return []
    records = []
    for line in storage.read_text(uri).splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the last line of a killed run may be cut short
    return records
