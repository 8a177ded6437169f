"""Input validation shared by the public entry points: errors name the value that is wrong.

The one home for checks that several modules share. Each function either raises (ValueError or
TypeError, naming the argument, the value and what is allowed) or returns the same values in a
canonical type; it never changes a valid input's values. That is why this module is left out of
the run keys (:data:`dnc.codehash.NOT_HASHED`): tightening a check does not retrain anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def as_float64(x, name: str) -> np.ndarray:
    """Convert a numpy array or torch tensor to a float64 numpy array, rejecting non-finite entries."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def as_matrix(x, name: str) -> np.ndarray:
    arr = as_float64(x, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2D matrix, got shape {tuple(arr.shape)}")
    return arr


def as_labels(labels, n: int, name: str = "labels") -> np.ndarray:
    """Integer class labels of length ``n``."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the {n} samples, got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        if np.issubdtype(lab.dtype, np.floating) and np.all(lab == np.round(lab)):
            lab = lab.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices, got dtype {lab.dtype}")
    return lab


def positive(value, name: str) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def positive_list(values, length: int, name: str) -> list[float]:
    """A scalar broadcast to ``length`` values, or a sequence of exactly ``length`` positive values."""
    if isinstance(values, Sequence | np.ndarray | torch.Tensor) and not isinstance(values, str):
        vals = [float(v) for v in values]
        if len(vals) != length:
            raise ValueError(f"{name} needs {length} values (one per layer), got {len(vals)}")
    else:
        vals = [float(values)] * length
    return [positive(v, f"{name}[{i}]") for i, v in enumerate(vals)]


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def layer_index(Ws, l) -> int:
    """The 1-based layer index ``l`` of paper A, checked against the ``len(Ws)`` layers."""
    L = len(Ws)
    if isinstance(l, bool) or int(l) != l or not 1 <= int(l) <= L:
        raise ValueError(
            f"layer index l must be an integer in 1..{L} (1-based, as in paper A), got {l!r}"
        )
    return int(l)
