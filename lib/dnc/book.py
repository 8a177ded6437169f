"""Small helpers for the chapters: hand numbers and figures to myst-nb's glue."""

from __future__ import annotations


def glue(**values) -> None:
    """Glue each keyword as a hidden value for ``{glue:text}`` roles in the prose."""
    import numpy as np
    from myst_nb import glue as _glue

    for name, value in values.items():
        if isinstance(value, np.generic):  # numpy 2 scalars repr as np.float64(...)
            value = value.item()
        _glue(name, value, display=False)


def glue_figure(name: str, fig) -> None:
    """Glue a matplotlib figure for a ``{glue:figure}`` directive and close it (shown once)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue as _glue

    _glue(name, fig, display=False)
    plt.close(fig)


def glue_markdown(**texts) -> None:
    """Glue each keyword as Markdown text, for ``{glue:md}`` roles (words chosen by computation)."""
    from IPython.display import Markdown
    from myst_nb import glue as _glue

    for name, text in texts.items():
        _glue(name, Markdown(str(text)), display=False)


def markdown_table(header, rows, fmt: str = "{:.4g}") -> str:
    """A Markdown pipe table: one header row, then ``rows`` (sequences of cells, each as long as
    ``header``); numbers are written with ``fmt``, anything else with ``str``."""
    import numbers

    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header {len(header)}: {row!r}")
        cells = [
            fmt.format(x) if isinstance(x, numbers.Number) and not isinstance(x, bool) else str(x)
            for x in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def glue_table(name: str, rows, header, fmt: str = "{:.4g}") -> str:
    """Glue a table of computed values as Markdown for a ``{glue:md}`` directive with
    ``:format: myst`` (the page renders it as a table); returns the Markdown."""
    table = markdown_table(header, rows, fmt)
    glue_markdown(**{name: table})
    return table


# --- regression references -------------------------------------------------------------------
# A chapter pins its headline numbers with ``check("chapter", name=value, ...)`` in a cell tagged
# ``remove-cell``: the page does not show it, but nbval (quick) and ``make book`` (paper) execute
# it, and a value that moved by more than ``rtol`` relative fails the run.

REFERENCE_MODES = ("check", "record", "off")


def reference_mode() -> str:
    """``$DNC_REFERENCE``: ``check`` (default) compares, ``record`` stores, ``off`` skips."""
    import os

    mode = os.environ.get("DNC_REFERENCE", "check").strip().lower()
    if mode not in REFERENCE_MODES:
        raise ValueError(f"DNC_REFERENCE must be one of {REFERENCE_MODES}, got {mode!r}")
    return mode


def reference_dir():
    """``$DNC_REFERENCE_DIR``, else the first ``tests/reference`` above the working directory
    (chapters run in ``book/``), else ``None`` (a notebook run outside a checkout)."""
    import os
    from pathlib import Path

    if os.environ.get("DNC_REFERENCE_DIR"):
        return Path(os.environ["DNC_REFERENCE_DIR"])
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "tests" / "reference").is_dir():
            return folder / "tests" / "reference"
    return None


def _plain(value):
    """JSON-ready copy: numpy scalars and arrays become Python numbers and nested lists."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (np.ndarray, list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "detach"):  # a torch tensor
        return _plain(value.detach().cpu().numpy())
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"cannot pin a value of type {type(value).__name__}: {value!r}")


def _differences(name, got, want, rtol, atol, out):
    """Append to ``out`` a line for each leaf where ``got`` and ``want`` disagree:
    numbers within |got − want| ≤ atol + rtol·|want|, everything else exactly."""
    import math

    if isinstance(want, dict) and isinstance(got, dict):
        if sorted(got) != sorted(want):
            out.append(f"{name}: keys {sorted(got)} != reference {sorted(want)}")
            return
        for key in want:
            _differences(f"{name}[{key!r}]", got[key], want[key], rtol, atol, out)
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            out.append(f"{name}: length {len(got)} != reference {len(want)}")
            return
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _differences(f"{name}[{i}]", g, w, rtol, atol, out)
    elif (
        isinstance(want, bool)
        or isinstance(got, bool)
        or (isinstance(want, int) and isinstance(got, int))
    ):  # booleans and counts: equal, and of the same kind (True is not 1)
        if type(got) is not type(want) or got != want:
            out.append(f"{name}: {got!r} != reference {want!r}")
    elif (
        isinstance(want, (int, float))
        and isinstance(got, (int, float))
        and not isinstance(want, bool)
        and not isinstance(got, bool)
    ):
        if math.isnan(want) and math.isnan(got):
            return
        if not abs(got - want) <= atol + rtol * abs(want):
            rel = abs(got - want) / abs(want) if want else math.inf
            out.append(f"{name}: {got!r} != reference {want!r} (relative change {rel:.2e})")
    elif got != want:
        out.append(f"{name}: {got!r} != reference {want!r}")


def check(chapter: str, *, rtol: float = 1e-4, atol: float = 0.0, **values) -> dict:
    """Compare each measured value with ``tests/reference/<profile>/<chapter>.json``.

    Numbers (also inside lists, arrays and dicts) pass when |value − reference| ≤ atol +
    rtol·|reference|; booleans, integers-as-counts and strings must be equal. With
    ``DNC_REFERENCE=record`` the values are stored instead. A value without a reference is an
    error, so a new number cannot slip in unchecked. Returns the values as stored (plain JSON).

    Raises:
        AssertionError: a value differs from its reference, or has none.
    """
    import json

    from . import profile

    if not values:
        raise ValueError("check() needs at least one value")
    mode = reference_mode()
    plain = {name: _plain(v) for name, v in values.items()}
    folder = reference_dir()
    if mode == "off" or folder is None:
        return plain
    path = folder / profile.current() / f"{chapter}.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if mode == "record":
        stored.update(plain)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(plain)} values in {path.name} ({profile.current()})")
        return plain
    problems = []
    for name, value in plain.items():
        if name not in stored:
            problems.append(f"{name}: no reference (run `make refresh-reference`)")
        else:
            _differences(name, value, stored[name], rtol, atol, problems)
    if problems:
        raise AssertionError(
            f"{chapter} ({profile.current()} profile) differs from {path}:\n  "
            + "\n  ".join(problems)
        )
    print(f"{len(plain)} values match {profile.current()}/{path.name} (rtol {rtol:g})")
    return plain
