"""On-disk cache of long runs, keyed by (name, config, code the run executes); atomic, resumable.

A result lives at ``<cache_dir>/<name>/<key>.npz``; a run in progress keeps its last checkpoint
beside it at ``<key>.ckpt.npz``. Files are written to a temporary name and moved into place with
``os.replace``, so a killed run never leaves a half-written file that is later read as valid.
Arrays are stored as ``.npz`` with metadata as a JSON string: no pickle anywhere.

What is read is verified: every file carries its run's key and a SHA-256 checksum of its arrays.
A stored result that does not load, fails its checksum or belongs to another key is reported
with its path, set aside (renamed ``*.unreadable-<time>`` or ``*.foreign-<time>``, never
deleted) and computed again; a checkpoint of another run is not resumed. A result that cannot be
stored (a read-only or full disk) is still returned, with a :class:`CacheWarning` naming the
directory. Temporary files left by killed runs are removed after :data:`STALE_SECONDS`. Files
are created with mode ``$DNC_CACHE_MODE`` (octal, default 644: readable by the group and others).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dnc.codehash import code_hash
from dnc.device import choose_device
from dnc.progress import note

_PACKAGE = Path(__file__).resolve().parent
_META = "__meta__"
MODE_ENV = "DNC_CACHE_MODE"
DEFAULT_MODE = 0o644
# A temporary file older than this is a killed writer's (a live one renames it within seconds).
STALE_SECONDS = 600.0


class CacheWarning(UserWarning):
    """A cache file could not be read, belonged to another run, or could not be written."""


class CacheFileError(ValueError):
    """A cache file that does not load, fails its checksum, or belongs to another run."""

    def __init__(self, path: Path, reason: str):
        """Name the file and say what is wrong with it."""
        super().__init__(f"cache file {path}: {reason}")
        self.path, self.reason = Path(path), reason


def file_mode() -> int:
    """The permission bits of new cache files: ``$DNC_CACHE_MODE`` (octal, e.g. ``640``), else 644.

    Raises:
        ValueError: ``DNC_CACHE_MODE`` is not an octal mode that lets the owner read and write.
    """
    text = os.environ.get(MODE_ENV, "").strip()
    if not text:
        return DEFAULT_MODE
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777 or mode & 0o600 != 0o600:
        raise ValueError(
            f"{MODE_ENV}={text!r} must be an octal file mode between 600 and 777 that lets the "
            "owner read and write (e.g. 644, 640, 600)"
        )
    return mode


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


def run_key(name: str, config: dict, code, device=None) -> str:
    """SHA-256 (first 24 hex digits) of a run's name, config, code and device type.

    The inputs are the run's name, its full config (JSON), the code it executes (``code``: the
    functions and classes it calls, hashed by :func:`dnc.codehash.code_hash`) and the type of the
    device it runs on, ``choose_device(device)`` (:func:`dnc.device.choose_device`: the argument
    the run is given, else the default; a GPU result differs in its last bits).
    """
    kind = choose_device(device).type
    blob = json.dumps(
        {"name": name, "config": config, "code": code_hash(*code), "device": kind}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the arrays: each one's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def save_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Write ``arrays`` and the JSON ``meta`` (plus their checksum) to ``path`` atomically.

    Raises:
        OSError: the file could not be written (no temporary file is left behind).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    meta = {**(meta or {}), "_checksum": checksum(payload)}
    payload[_META] = np.array(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **payload)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# What numpy raises for a file that is not a valid .npz of plain arrays.
_UNREADABLE = (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError, zlib.error)


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read what :func:`save_arrays` wrote, checked: (arrays, meta).

    Raises:
        FileNotFoundError: no file at ``path``.
        CacheFileError: the file does not load as plain arrays with JSON metadata, or its arrays
            do not match the checksum stored with them.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no cache file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != _META}
            meta = json.loads(str(data[_META])) if _META in data.files else {}
    except _UNREADABLE as err:
        detail = "it holds pickled data, which is never loaded" if "pickle" in str(err) else err
        raise CacheFileError(path, f"does not load ({type(err).__name__}: {detail})") from err
    stored = meta.pop("_checksum", None)
    if stored is None:
        raise CacheFileError(path, "has no checksum")
    if stored != checksum(arrays):
        raise CacheFileError(path, "its arrays do not match their checksum")
    return arrays, meta


def set_aside(path: Path, why: str) -> Path | None:
    """Rename ``path`` to ``<name>.<why>-<time>`` beside it; the new path, or None if it stays."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.{why}-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError:
        return None
    return aside


def _warn_set_aside(err: CacheFileError, why: str, then: str) -> None:
    aside = set_aside(err.path, why)
    where = f"set aside as {aside.name}" if aside else "left in place (it cannot be renamed)"
    warnings.warn(f"{err}; {where}; {then}", CacheWarning, stacklevel=4)


def clean_temporaries(folder: Path, prefix: str, older_than: float = STALE_SECONDS) -> int:
    """Remove the ``<prefix>*.tmp`` files in ``folder`` that killed writers left; how many.

    A file counts as left behind when it was last written over ``older_than`` seconds ago.
    """
    removed = 0
    now = time.time()
    for tmp in Path(folder).glob(f"{prefix}*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed += 1
        except OSError:
            pass
    return removed


class Checkpoint:
    """The last saved state of an unfinished run; ``load()`` is ``None`` when there is none.

    A checkpoint carries its run's ``key``; one that belongs to another run, or does not load,
    is set aside with a :class:`CacheWarning` and the run starts afresh. If checkpoints cannot
    be written (read-only or full disk), the run goes on without them after one warning.
    """

    def __init__(self, path: Path | None, key: str | None = None):
        """A checkpoint at ``path`` (None: a run without checkpoints) for the run ``key``."""
        self.path = None if path is None else Path(path)
        self.key = key
        self._writable = True

    def load(self) -> tuple[dict[str, np.ndarray], dict] | None:
        """(arrays, meta) of the saved state, or None when there is none to resume."""
        if self.path is None or not self.path.exists():
            return None
        try:
            arrays, meta = load_arrays(self.path)
        except CacheFileError as err:
            _warn_set_aside(err, "unreadable", "the run starts from its initialisation")
            return None
        owner = meta.pop("_run", None)
        if self.key is not None and owner != self.key:
            err = CacheFileError(self.path, f"is a checkpoint of run {owner}, not of {self.key}")
            _warn_set_aside(err, "foreign", "the run starts from its initialisation")
            return None
        return arrays, meta

    def save(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        """Store the state (a no-op without a path, or once writing has failed)."""
        if self.path is None or not self._writable:
            return
        try:
            save_arrays(self.path, arrays, {**(meta or {}), "_run": self.key})
        except OSError as err:
            self._writable = False
            warnings.warn(
                f"cannot write checkpoints to {self.path.parent} ({err}); the run goes on "
                "without them and cannot resume if interrupted",
                CacheWarning,
                stacklevel=2,
            )

    def clear(self) -> None:
        """Delete the checkpoint (the run is stored)."""
        if self.path is not None:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass


def cached(
    name: str,
    config: dict,
    compute: Callable[[Checkpoint], tuple[dict[str, np.ndarray], dict]],
    use_cache: bool = True,
    code=None,
    device=None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Return the stored result of ``compute`` for (name, config), computing and storing it if absent.

    ``compute(checkpoint)`` returns (arrays, meta); it may save intermediate state to
    ``checkpoint`` and resumes from ``checkpoint.load()`` after an interruption. The key holds
    the hash of ``code`` (default ``(compute,)``): the functions the computation runs, followed
    through everything they call in ``dnc``, and the type of ``device`` (the one the computation
    is given; None: the default). Whether the result was loaded or computed, and in how long, is
    reported by :func:`dnc.progress.note`.
    """
    if not use_cache:
        return compute(Checkpoint(None))
    code = (compute,) if code is None else tuple(code)
    key = run_key(name, config, code, device)
    path = cache_dir() / name / f"{key}.npz"
    clean_temporaries(path.parent, key)
    start = time.perf_counter()
    if path.exists():
        try:
            arrays, meta = load_arrays(path)
        except CacheFileError as err:
            _warn_set_aside(err, "unreadable", "computing it again")
        else:
            stored = meta.get("_cache", {}).get("key")
            if stored == key:
                note(f"{name}: loaded {path} ({time.perf_counter() - start:.2f} s)")
                return arrays, meta
            err = CacheFileError(path, f"holds the result of key {stored}, not of {key}")
            _warn_set_aside(err, "foreign", "computing it again")
    checkpoint = Checkpoint(path.with_name(f"{key}.ckpt.npz"), key)
    arrays, meta = compute(checkpoint)
    seconds = time.perf_counter() - start
    record = {"name": name, "key": key, "config": config, "code_version": code_hash(*code)}
    try:
        save_arrays(path, arrays, {**meta, "_cache": record})
    except OSError as err:
        warnings.warn(
            f"the result of {name} could not be stored in {path.parent} ({err}); it is returned "
            "but will be computed again next time",
            CacheWarning,
            stacklevel=2,
        )
    else:
        checkpoint.clear()
        note(f"{name}: computed in {seconds:.1f} s, stored at {path}")
    return arrays, meta
