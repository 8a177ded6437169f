"""Progress where people look: a bar in a terminal or Jupyter, periodic lines in a log.

``$DNC_PROGRESS`` chooses: ``auto`` (default: a bar when stderr is a terminal or the code runs
in a Jupyter kernel, else a line every ``$DNC_PROGRESS_SECONDS`` seconds, default 30, and one at
the end), ``bar``, ``log`` or ``off`` (the book build sets it, so that no rendered page shows a
bar). A function's own ``progress=False`` turns it off for that call. :func:`note` says what a
long call did (computed or loaded, and how long it took) on the same channel.

This module is left out of the run keys (:data:`dnc.codehash.NOT_HASHED`): how progress is
shown does not change a result.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

from tqdm import tqdm

ENV = "DNC_PROGRESS"
MODES = ("auto", "bar", "log", "off")
SECONDS_ENV = "DNC_PROGRESS_SECONDS"


def mode() -> str:
    """The progress mode: ``$DNC_PROGRESS`` (``auto`` when unset).

    Raises:
        ValueError: ``DNC_PROGRESS`` is not one of :data:`MODES`.
    """
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise ValueError(f"{ENV}={value!r} must be one of {MODES}")
    return value


def _in_jupyter() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


def _interval() -> float:
    text = os.environ.get(SECONDS_ENV, "30")
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"{SECONDS_ENV}={text!r} must be a positive number of seconds")
    return seconds


class _LogLines:
    """A progress 'bar' for logs: a line at most every few seconds, and one at the end."""

    def __init__(self, total: int, desc: str, initial: int = 0):
        self.total, self.desc, self.n = int(total), desc, int(initial)
        self.start = self.last = time.monotonic()
        self.interval = _interval()
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += int(n)
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._line()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def _line(self) -> None:
        share = 100.0 * self.n / self.total if self.total else 100.0
        extra = f", {self.postfix}" if self.postfix else ""
        elapsed = time.monotonic() - self.start
        print(f"[{self.desc}] {self.n}/{self.total} ({share:.0f}%), {elapsed:.0f} s{extra}",
              file=sys.stderr, flush=True)  # fmt: skip

    def close(self) -> None:
        self._line()


class _Silent:
    """No progress at all."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += int(n)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def bar(total: int, desc: str, enabled: bool | None = None, initial: int = 0):
    """A progress counter to ``total`` with ``update(n)``, ``set_postfix_str(text)``, ``close()``.

    Args:
        total: the count at which the work is done (epochs, layers).
        desc: what is counted, shown before the count.
        enabled: False for none, True or None to follow :func:`mode`.
        initial: the count already done (a resumed run).
    """
    chosen = "off" if enabled is False else mode()
    if chosen == "auto":
        chosen = "bar" if sys.stderr.isatty() or _in_jupyter() else "log"
    if chosen == "off":
        return _Silent()
    if chosen == "log":
        return _LogLines(total, desc, initial)
    factory = tqdm
    if _in_jupyter() and importlib.util.find_spec("ipywidgets") is not None:
        # local: tqdm.notebook warns when it is imported without ipywidgets (an optional package)
        from tqdm.notebook import tqdm as factory
    return factory(total=total, initial=initial, desc=desc, leave=False, file=sys.stderr)


def note(message: str) -> None:
    """Say what a long call did (``[dnc] message`` on stderr), unless :func:`mode` is ``off``."""
    if mode() != "off":
        print(f"[dnc] {message}", file=sys.stderr, flush=True)
