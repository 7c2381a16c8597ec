"""`StepMeter`: the training metrics of the steps since the last log line, summed exactly
over micro-batches and processes (one small all-reduce per log line, none per step).

Losses are means over the micro-batches (each one the mean over its masked positions, the
quantity that is optimised); accuracies are correct / predicted over all masked positions.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from luke_core.model import PretrainingOutput
from luke_core.training.distributed import all_reduce_sum

_SUMS = (
    "loss",
    "masked_lm_loss",
    "masked_entity_loss",
    "micro_batches",
    "masked_lm_correct",
    "masked_lm_count",
    "masked_entity_correct",
    "masked_entity_count",
)


class StepMeter:
    def __init__(self, device: torch.device, *, samples_per_step: int):
        self.device = device
        self.samples_per_step = samples_per_step
        self.last_record: dict[str, Any] | None = None
        self._reset()

    def _reset(self) -> None:
        self._sums = torch.zeros(len(_SUMS), dtype=torch.float64, device=self.device)
        self._steps = 0
        self._lr = 0.0
        self._since = time.monotonic()

    def add(self, out: PretrainingOutput) -> None:
        values = torch.stack(
            [
                out.loss.detach().double(),
                out.masked_lm_loss.detach().double(),
                out.masked_entity_loss.detach().double(),
                torch.ones((), dtype=torch.float64, device=out.loss.device),
                out.masked_lm_correct.double(),
                out.masked_lm_count.double(),
                out.masked_entity_correct.double(),
                out.masked_entity_count.double(),
            ]
        )
        self._sums += values.to(self.device)

    def end_step(self, lr: float) -> None:
        self._steps += 1
        self._lr = lr

    def collect(self) -> dict[str, Any] | None:
        """The record of the steps since the last call (every process must call it at the
        same steps); None when no step was made since."""
        if self._steps == 0:
            return None
        sums = dict(zip(_SUMS, all_reduce_sum(self._sums).tolist(), strict=True))
        seconds = time.monotonic() - self._since
        micro = max(sums["micro_batches"], 1.0)
        record = {
            "loss": sums["loss"] / micro,
            "masked_lm_loss": sums["masked_lm_loss"] / micro,
            "masked_lm_accuracy": _ratio(sums["masked_lm_correct"], sums["masked_lm_count"]),
            "masked_entity_loss": sums["masked_entity_loss"] / micro,
            "masked_entity_accuracy": _ratio(
                sums["masked_entity_correct"], sums["masked_entity_count"]
            ),
            "lr": self._lr,
            "samples_per_second": self._steps * self.samples_per_step / max(seconds, 1e-9),
        }
        self.last_record = record
        self._reset()
        return record


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
