"""Quantities followed over training: evaluate a function of (H_1, Ws) at stored snapshots."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dnc.ufm.result import TrainResult


def over_snapshots(
    result: TrainResult, fn: Callable, epochs=None, b: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values): ``fn(H_1, Ws)`` at each chosen snapshot epoch, stacked.

    Args:
        result: the run whose snapshots are evaluated.
        fn: a function of (H_1, [W_1, …, W_L]).
        epochs: snapshot epochs to evaluate at (default: all of them).
        b: index of the model in the batch.

    Returns:
        The epochs, and the values of ``fn`` stacked along a new first axis.

    Raises:
        KeyError: an epoch with no snapshot.
    """
    chosen = result.snapshot_epochs if epochs is None else np.asarray(epochs, dtype=np.int64)
    values = [np.asarray(fn(*result.params(int(e), b))) for e in chosen]
    return np.asarray(chosen), np.stack(values)


def relative_gap(values, reference) -> np.ndarray:
    """|values − reference| / |reference|."""
    values = np.asarray(values, dtype=np.float64)
    return np.abs(values - reference) / abs(reference)
