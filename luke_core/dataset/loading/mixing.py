"""Mixing several dataset directories (mLUKE's languages) by size^smoothing.

A dataset of N_k items is drawn with probability proportional to N_k ** smoothing: 1 keeps
the natural proportions, 0 makes them uniform, the default 0.7 upsamples small languages.
(The reference parsed `--sampling-smoothing` but ignored it; here it takes effect.)

The draws are stratified: in each epoch every reader takes exactly its quota of items from
each dataset (the largest-remainder apportionment of its items to the probabilities), in a
random interleaving. The proportions are therefore exact per epoch instead of only in
expectation, and the position of an item in each dataset's stream is a prefix count, which
makes resuming arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sampling_probabilities(sizes: Sequence[int], smoothing: float) -> list[float]:
    """p_k = N_k^smoothing / sum_j N_j^smoothing."""
    weights = [float(size) ** smoothing for size in sizes]
    total = sum(weights)
    return [w / total for w in weights]


def apportion(total: int, probabilities: Sequence[float]) -> list[int]:
    """Integers summing to `total`, each the floor of its exact share plus one for the
    largest remainders (ties to the earlier dataset)."""
    exact = [total * p for p in probabilities]
    counts = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in by_remainder[: total - sum(counts)]:
        counts[k] += 1
    return counts


def interleave(quotas: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """A random sequence holding dataset k exactly quotas[k] times."""
    labels = np.repeat(np.arange(len(quotas), dtype=np.int32), quotas)
    return labels if len(quotas) == 1 else rng.permutation(labels)
