"""Where tensors live and how many CPU threads torch uses.

The device is the argument if given, else ``$DNC_DEVICE``, else CUDA when present, else CPU.

``DNC_DEVICE`` takes any torch device name (``cpu``, ``cuda``, ``cuda:1``, ``mps``); the device
type also enters every cache key (:func:`dnc.cache.run_key`), so a GPU run never reuses a CPU
result or the other way round.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import cache

import torch
from threadpoolctl import ThreadpoolController

ENV = "DNC_DEVICE"


def choose_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else ``$DNC_DEVICE`` if set, else ``cuda`` if available, else ``cpu``.

    Raises:
        ValueError: ``$DNC_DEVICE`` is not a torch device name, or names CUDA where torch sees
            none.
        RuntimeError: ``device`` itself is not a torch device name (torch's own error).
    """
    if device is not None:
        return torch.device(device)
    name = os.environ.get(ENV, "").strip()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(name)
    except RuntimeError as err:
        raise ValueError(
            f"{ENV}={name!r} is not a torch device name (e.g. cpu, cuda, cuda:0)"
        ) from err
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{ENV}={name!r} asks for CUDA, but torch sees no CUDA device here")
    return chosen


@contextmanager
def torch_threads(threads: int | None):
    """Run the block with torch limited to ``threads`` CPU threads (``None``: leave it alone)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def one_blas_thread():
    """Run the block with BLAS/LAPACK on one thread.

    The Gram and its tridiagonal reduction at NK in the hundreds are chains of small products; on
    2 cores a second thread made them 1.5-2x slower (measured).
    """
    with _blas().limit(limits=1, user_api="blas"):
        yield
