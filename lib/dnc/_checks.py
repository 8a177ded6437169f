"""Input validation shared by the public entry points: errors name the value that is wrong.

The one home for checks that several modules share. Each function either raises (ValueError or
TypeError, naming the argument, the value and what is allowed) or returns the same values in a
canonical type; it never changes a valid input's values. That is why this module is left out of
the run keys (:data:`dnc.codehash.NOT_HASHED`): tightening a check does not retrain anything.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch


def as_float64(x, name: str) -> np.ndarray:
    """``x`` (numpy array, torch tensor or nested sequence) as a float64 numpy array.

    Raises:
        TypeError: ``x`` is not an array of numbers.
        ValueError: ``x`` is empty, or an entry is NaN or infinite (the message names ``name``).
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be an array of numbers, got {type(x).__name__}: {err}"
        ) from err
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {tuple(arr.shape)}): it needs at least one entry")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def as_matrix(x, name: str) -> np.ndarray:
    """:func:`as_float64` of ``x``, which must be 2-D.

    Raises:
        TypeError: ``x`` is not an array of numbers.
        ValueError: ``x`` empty, a non-finite entry, or ``x`` not a matrix (the message gives its
            shape).
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


def as_vector(x, length: int, name: str = "v") -> np.ndarray:
    """``x`` flattened (row-major) to a float64 vector of exactly ``length`` finite entries.

    Raises:
        ValueError: another number of entries, or NaN or infinite entries.
        TypeError: entries that are not numbers.
    """
    vec = as_float64(x, name).ravel()
    if vec.size != length:
        raise ValueError(f"{name} must have {length} entries, got {vec.size} (shape {np.shape(x)})")
    return vec


def _number(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")


def positive(value, name: str) -> float:
    """``value`` as a float, which must be finite and > 0.

    Raises:
        TypeError: ``value`` is not a real number (a string, None, a bool).
        ValueError: ``value`` is zero, negative, NaN or infinite.
    """
    _number(value, name)
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def whole(value, name: str, minimum: int = 0) -> int:
    """``value`` as an int, which must be a whole number ≥ ``minimum`` (1.0 is accepted, 1.5 not).

    Raises:
        TypeError: ``value`` is not a real number (a string, None, a bool).
        ValueError: ``value`` is not whole, or below ``minimum``.
    """
    _number(value, name)
    if not math.isfinite(float(value)) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def positive_list(values, length: int, name: str) -> list[float]:
    """``length`` positive floats: a scalar repeated, or a sequence of exactly ``length`` values.

    Raises:
        TypeError: an entry (or the scalar) that is not a real number.
        ValueError: a sequence of another length, or an entry that is not positive and finite
            (named ``name[i]``).
    """
    if isinstance(values, np.ndarray | torch.Tensor):
        values = values.tolist()
    if isinstance(values, Sequence) and not isinstance(values, str):
        if len(values) != length:
            raise ValueError(f"{name} needs {length} values (one per layer), got {len(values)}")
        return [positive(v, f"{name}[{i}]") for i, v in enumerate(values)]
    return [positive(values, name)] * length


def positive_int(value, name: str) -> int:
    """``value`` as an int, which must be a whole number ≥ 1 (``True``/``False`` are refused).

    Raises:
        TypeError: ``value`` is not a real number (a string, None, a bool).
        ValueError: ``value`` is not a whole number, or below 1.
    """
    _number(value, name)
    if not math.isfinite(float(value)) or int(value) != value or int(value) < 1:
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


def class_labels(y, n: int, name: str = "y") -> np.ndarray:
    """Labels of n samples that are exactly the classes 0..K−1, each present at least once.

    Args:
        y: Length-n integer labels (a float array with integral values is accepted).
        n: Number of samples the labels must match.
        name: Name of the argument in error messages.

    Returns:
        The labels as an integer numpy array of shape (n,).

    Raises:
        ValueError: ``y`` is not of shape (n,), is not integer-valued, or its distinct values
            are not exactly 0..K−1.
    """
    lab = as_labels(y, n, name)
    present = np.unique(lab)
    if present.size == 0 or present[0] != 0 or present[-1] != present.size - 1:
        raise ValueError(
            f"{name} must hold the classes 0..K−1 with every class present, got the values "
            f"{present.tolist()[:12]}{'…' if present.size > 12 else ''}"
        )
    return lab
