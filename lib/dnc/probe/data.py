"""The reader's data as batches: a ``DataLoader``, a map-style dataset, or an ``(X, y)`` pair.

Every form becomes a function that starts a fresh pass and yields ``(x, y)`` batches, x on the
model's device in float64 (other dtypes, e.g. token ids, are kept) and y a 1-D int64 tensor.
Labels are checked batch by batch against the model's K outputs as they arrive.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

BATCH = 512


def _as_tensor(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a tensor or an array, got {type(x).__name__}") from err


def passes(data, batch_size: int = BATCH):
    """A function that returns a fresh iterator over (x, y) batches of ``data``.

    Args:
        data: a :class:`~torch.utils.data.DataLoader` yielding (x, y), a map-style
            :class:`~torch.utils.data.Dataset` of (x, y) pairs, or an (X, y) pair of tensors or
            arrays with N rows each.
        batch_size: rows per batch for a dataset or a pair (a loader keeps its own).

    Raises:
        TypeError: ``data`` is none of these.
        ValueError: X and y do not have the same number of rows.
    """
    if isinstance(data, DataLoader):
        return lambda: iter(data)
    if isinstance(data, Dataset):
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
        return lambda: iter(loader)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = _as_tensor(data[0], "X"), _as_tensor(data[1], "y")
        if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"X and y must have the same number of rows, got shapes {tuple(X.shape)} and "
                f"{tuple(y.shape)}"
            )
        return lambda: (
            (X[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(X), batch_size)
        )
    raise TypeError(
        "data must be a DataLoader, a Dataset of (x, y) pairs or an (X, y) pair, got "
        f"{type(data).__name__}"
    )


def prepared(batch, device: torch.device):
    """(x, y) of one batch: x on ``device`` (float64 if floating), y int64 on ``device``.

    Raises:
        ValueError: the batch is not an (x, y) pair, or y is not a vector of integers, one per row
            of x.
    """
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"each batch must be an (x, y) pair, got {type(batch).__name__}")
    x, y = _as_tensor(batch[0], "x"), _as_tensor(batch[1], "y")
    if y.ndim != 1 or x.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"labels must be a vector with one entry per row of x, got shapes {tuple(y.shape)} and "
            f"{tuple(x.shape)}"
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.dtype.is_complex:
        raise ValueError(f"labels must be integers 0..K−1, got dtype {y.dtype}")
    x = x.to(device=device, dtype=torch.float64) if x.dtype.is_floating_point else x.to(device)
    return x, y.to(device=device, dtype=torch.int64)


def check_labels(y: torch.Tensor, K: int) -> None:
    """Raise unless every label lies in 0..K−1 (K the model's outputs).

    Raises:
        ValueError: a label outside 0..K−1.
    """
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= K):
        bad = y[(y < 0) | (y >= K)][:5].tolist()
        raise ValueError(
            f"labels must lie in 0..{K - 1} (the model has K = {K} outputs), got {bad}"
        )
