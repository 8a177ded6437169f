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
        ValueError: ``device`` (or ``$DNC_DEVICE``, named as such) is not a torch device name,
            names a device that cannot compute (``meta``), or names CUDA or MPS where torch sees
            none.
    """
    if device is None:
        name = os.environ.get(ENV, "").strip()
        if not name:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return _usable(name, f"{ENV}={name!r}")
    return _usable(device, f"device={device!r}")


def _usable(name, source: str) -> torch.device:
    """The torch device ``name``, checked to exist and compute on this machine."""
    try:
        chosen = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{source} is not a torch device name (e.g. cpu, cuda, cuda:0)") from err
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{source} asks for CUDA, but torch sees no CUDA device here")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{source} asks for MPS, but torch sees no MPS device here")
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{source}: the book computes on cpu, cuda or mps, not {chosen.type}")
    return chosen


@contextmanager
def torch_threads(threads: int | None):
    """Run the block with torch limited to ``threads`` CPU threads (``None``: leave it alone)."""
    if threads is not None and (
        isinstance(threads, bool) or int(threads) != threads or threads < 1
    ):
        raise ValueError(f"threads must be a whole number >= 1 (or None), got {threads!r}")
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
