"""On-disk cache of long runs, keyed by (name, config, code the run executes); atomic, resumable.

A result lives at ``<cache_dir>/<name>/<key>.npz``; a run in progress keeps its last checkpoint
beside it at ``<key>.ckpt.npz``. Files are written to a temporary name and moved into place with
``os.replace``, so a killed run never leaves a half-written file that is later read as valid.
Arrays are stored as ``.npz`` with metadata as a JSON string: no pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dnc.codehash import code_hash
from dnc.device import choose_device

_PACKAGE = Path(__file__).resolve().parent
_META = "__meta__"


def code_version() -> str:
    """SHA-256 (first 16 hex digits) of every ``.py`` file of the ``dnc`` package.

    This is the version of the whole library (the book build's stamp): paths and bytes of every
    file enter, docstrings included. Runs are keyed by :func:`dnc.codehash.code_hash` of what
    they execute instead, so that editing other code keeps them.
    """
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    """``$DNC_CACHE_DIR`` if set, else ``~/.cache/dnc``."""
    return Path(os.environ.get("DNC_CACHE_DIR", Path.home() / ".cache" / "dnc"))


def run_key(name: str, config: dict, code) -> str:
    """SHA-256 (first 24 hex digits) of a run's name, config, code and device type.

    The inputs are the run's name, its full config (JSON), the code it executes (``code``: the
    functions and classes it calls, hashed by :func:`dnc.codehash.code_hash`) and the type of the
    device it runs on (:func:`dnc.device.choose_device`: a GPU result differs in its last bits).
    """
    blob = json.dumps(
        {"name": name, "config": config, "code": code_hash(*code), "device": choose_device().type},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def save_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Write ``arrays`` (and JSON ``meta``) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_META] = np.array(json.dumps(meta or {}))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read what :func:`save_arrays` wrote: (arrays, meta)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != _META}
        meta = json.loads(str(data[_META])) if _META in data.files else {}
    return arrays, meta


class Checkpoint:
    """The last saved state of an unfinished run; ``load()`` is ``None`` when there is none."""

    def __init__(self, path: Path | None):
        """Keep the checkpoint at ``path``; ``None`` makes a checkpoint that stores nothing."""
        self.path = None if path is None else Path(path)

    def load(self) -> tuple[dict[str, np.ndarray], dict] | None:
        """The saved (arrays, meta), or ``None`` when nothing has been saved."""
        if self.path is None or not self.path.exists():
            return None
        return load_arrays(self.path)

    def save(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        """Replace the saved state by ``arrays`` and ``meta``, atomically (:func:`save_arrays`)."""
        if self.path is not None:
            save_arrays(self.path, arrays, meta)

    def clear(self) -> None:
        """Delete the saved state, if any (done once the finished result is stored)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def cached(
    name: str,
    config: dict,
    compute: Callable[[Checkpoint], tuple[dict[str, np.ndarray], dict]],
    use_cache: bool = True,
    code=None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Return the stored result of ``compute`` for (name, config), computing it first if absent.

    ``compute(checkpoint)`` returns (arrays, meta); it may save intermediate state to
    ``checkpoint`` and resumes from ``checkpoint.load()`` after an interruption. The key holds
    the hash of ``code`` (default ``(compute,)``): the functions the computation runs, followed
    through everything they call in ``dnc``.
    """
    if not use_cache:
        return compute(Checkpoint(None))
    code = (compute,) if code is None else tuple(code)
    key = run_key(name, config, code)
    path = cache_dir() / name / f"{key}.npz"
    if path.exists():
        return load_arrays(path)
    checkpoint = Checkpoint(path.with_name(f"{key}.ckpt.npz"))
    arrays, meta = compute(checkpoint)
    save_arrays(
        path, arrays, {**meta, "_cache": {"config": config, "code_version": code_hash(*code)}}
    )
    checkpoint.clear()
    return arrays, meta
