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
    """``x`` (numpy array, torch tensor or nested sequence) as a float64 numpy array.

    Raises:
        ValueError: an entry is NaN or infinite (the message names ``name``).
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def as_matrix(x, name: str) -> np.ndarray:
    """:func:`as_float64` of ``x``, which must be 2-D.

    Raises:
        ValueError: a non-finite entry, or ``x`` not a matrix (the message gives its shape).
    """
    arr = as_float64(x, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2D matrix, got shape {tuple(arr.shape)}")
    return arr


def as_labels(labels, n: int, name: str = "labels") -> np.ndarray:
    """Integer class labels of length ``n``; floats that are whole numbers are converted.

    Raises:
        ValueError: a shape other than (n,), or entries that are not whole numbers.
    """
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
    """``value`` as a float, which must be finite and > 0.

    Raises:
        ValueError: ``value`` is zero, negative, NaN or infinite.
    """
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def positive_list(values, length: int, name: str) -> list[float]:
    """``length`` positive floats: a scalar repeated, or a sequence of exactly ``length`` values.

    Raises:
        ValueError: a sequence of another length, or an entry that is not positive and finite
            (named ``name[i]``).
    """
    if isinstance(values, Sequence | np.ndarray | torch.Tensor) and not isinstance(values, str):
        vals = [float(v) for v in values]
        if len(vals) != length:
            raise ValueError(f"{name} needs {length} values (one per layer), got {len(vals)}")
    else:
        vals = [float(values)] * length
    return [positive(v, f"{name}[{i}]") for i, v in enumerate(vals)]


def positive_int(value, name: str) -> int:
    """``value`` as an int, which must be a whole number ≥ 1 (``True``/``False`` are refused).

    Raises:
        ValueError: ``value`` is a bool, not a whole number, or below 1.
    """
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def layer_index(Ws, l) -> int:
    """The 1-based layer index ``l`` of paper A as an int, checked against the ``len(Ws)`` layers.

    Raises:
        ValueError: ``l`` is a bool, not a whole number, or outside 1..L with L = ``len(Ws)``.
    """
    L = len(Ws)
    if isinstance(l, bool) or int(l) != l or not 1 <= int(l) <= L:
        raise ValueError(
            f"layer index l must be an integer in 1..{L} (1-based, as in paper A), got {l!r}"
        )
    return int(l)
