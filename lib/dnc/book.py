"""Small helpers for the chapters: hand numbers and figures to myst-nb's glue."""

from __future__ import annotations

import datetime
import json
import math
import numbers
import os
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from dnc import profile


def glue(**values) -> None:
    """Glue each keyword as a hidden value for ``{glue:text}`` roles in the prose."""
    # local: myst-nb and IPython come with the optional `book` extras
    from myst_nb import glue as _glue

    for name, value in values.items():
        if isinstance(value, np.generic):  # numpy 2 scalars repr as np.float64(...)
            value = value.item()
        _glue(name, value, display=False)


def glue_figure(name: str, fig) -> None:
    """Glue a matplotlib figure for a ``{glue:figure}`` directive and close it (shown once)."""
    # local: myst-nb and IPython come with the optional `book` extras
    from myst_nb import glue as _glue

    _glue(name, fig, display=False)
    plt.close(fig)


def glue_markdown(**texts) -> None:
    """Glue each keyword as Markdown text, for ``{glue:md}`` roles (words chosen by computation)."""
    # local: myst-nb and IPython come with the optional `book` extras
    from IPython.display import Markdown

    # local: myst-nb and IPython come with the optional `book` extras
    from myst_nb import glue as _glue

    for name, text in texts.items():
        _glue(name, Markdown(str(text)), display=False)


def mean_sd(values, digits: int = 2) -> str:
    """'mean ± s.d.' of ``values`` (over seeds, ddof 1; all entries pooled), as the book writes it.

    Both numbers go to ``digits`` significant figures (:func:`significant`): how the book reports
    a stochastic result. Raises ValueError for fewer than two values.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError(f"mean ± s.d. needs at least two values, got {x.size}")
    return plus_minus(x.mean(), x.std(ddof=1), digits)


def plus_minus(mean: float, sd: float, digits: int = 2) -> str:
    """'mean ± sd', both to ``digits`` significant figures (:func:`significant`): the book's one ± style.

    When the mean is written in scientific notation, so is the standard deviation (2.3e+5 ± 8.0e+4,
    not 2.3e+5 ± 80000).
    """
    text = significant(mean, digits)
    if "e" in text and math.isfinite(float(sd)) and sd != 0:
        return f"{text} ± " + f"{float(sd):.{digits - 1}e}".replace("e-0", "e-").replace(
            "e+0", "e+"
        )
    return f"{text} ± {significant(sd, digits)}"


def significant(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures, positional or scientific by its magnitude.

    Positional between 10⁻³ and 10⁵ (0.0123, 1234), else scientific (1.23e-5); zero and
    non-finite values as ``format(x, "g")``.
    """
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    magnitude = math.floor(math.log10(abs(x)))
    if -3 <= magnitude < 5:
        return f"{x:.{max(0, digits - 1 - magnitude)}f}"
    return f"{x:.{digits - 1}e}".replace("e-0", "e-").replace("e+0", "e+")


def markdown_table(header, rows, fmt: str = "{:.4g}") -> str:
    """A Markdown pipe table: one header row, then ``rows``.

    ``rows`` are sequences of cells, each as long as ``header`` (else ValueError); numbers are
    written with ``fmt``, anything else (booleans included) with ``str``.
    """
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


def glue_table(name: str, rows, header, fmt: str = "{:.4g}") -> None:
    """Glue a table of computed values as Markdown for a ``{glue:md}`` directive.

    The directive needs ``:format: myst`` (the page then renders it as a table); the table is
    built by :func:`markdown_table`. Nothing is returned, so that a call ending a cell does not
    also print the table's Markdown source on the page.
    """
    glue_markdown(**{name: markdown_table(header, rows, fmt)})


# --- how each chapter of this edition was executed (book/status.md) ---------------------------


def book_root(start=None) -> Path:
    """The first folder at or above ``start`` (default: the working directory) with a ``_toc.yml``.

    Raises:
        FileNotFoundError: no such folder (a notebook run outside a checkout).
    """
    here = Path.cwd() if start is None else Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _toc.yml at or above {here}")


def book_chapters(root) -> dict[str, Path]:
    """The notebooks of ``root/_toc.yml``, in its order, as {``{doc}`` role: source file}.

    A page is a notebook when its front matter names a kernel; the role renders as the page's
    title, linked.
    """
    root = Path(root)
    toc = (root / "_toc.yml").read_text()
    names = re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)\s*$", toc, flags=re.M)
    pages = {f"{{doc}}`/{name}`": root / f"{name}.md" for name in names}
    return {
        role: path
        for role, path in pages.items()
        if path.is_file() and "kernelspec:" in path.read_text()[:600]
    }


def _utc(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` in UTC; a naive time (as jupyter-cache's database returns them) is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def execution_table(cache_dir, started, chapters) -> str:
    """How each chapter of this build was executed, as Markdown for ``{glue:md}`` (``:format: myst``).

    A row per chapter, from the newest record of its source file in the jupyter-cache at
    ``cache_dir`` (myst-nb's execution cache): "executed in this build" when the record was made
    at or after ``started``, else "from the cache of" the record's date; and the execution's run
    time in seconds, to 3 significant figures. A chapter without a record (never executed through
    the cache, as a page with ``execution_mode: force``) is "not in the execution cache". Without
    ``started`` (the page executed outside ``tools/build_book.py``) a sentence above the table says
    that which chapters ran in this build is unknown, and each row gives its record's date.

    Args:
        cache_dir: the jupyter-cache folder (the book's ``_build/.jupyter_cache``); a missing
            folder is an empty cache, and is not created.
        started: the build's start: a datetime, an ISO 8601 string (``$DNC_BUILD_STARTED``), or
            None or "" when unknown; a time without a timezone is UTC.
        chapters: {Markdown of the chapter's first cell: its source file}, in the table's order.

    Returns:
        The Markdown: the table, after the sentence when ``started`` is unknown.

    Raises:
        ValueError: ``started`` is a string but not an ISO 8601 time.
    """
    if isinstance(started, str):
        started = datetime.datetime.fromisoformat(started.strip()) if started.strip() else None
    start = None if started is None else _utc(started)
    newest = {}
    if Path(cache_dir).is_dir():
        # local: jupyter-cache comes with the optional `book` extras
        from jupyter_cache import get_cache

        for record in get_cache(str(cache_dir)).list_cache_records():
            source = Path(record.uri).resolve()
            if source not in newest or _utc(record.created) > _utc(newest[source].created):
                newest[source] = record
    rows = []
    for label, path in chapters.items():
        record = newest.get(Path(path).resolve())
        if record is None:
            rows.append((label, "not in the execution cache", "—"))
            continue
        made = _utc(record.created)
        date = f"{made:%Y-%m-%d %H:%M} UTC"
        if start is None:
            how = f"cached on {date}"
        elif made >= start:
            how = "executed in this build"
        else:
            how = f"from the cache of {date}"
        seconds = (record.data or {}).get("execution_seconds")
        rows.append((label, how, "—" if seconds is None else significant(float(f"{seconds:.3g}"))))
    table = markdown_table(("chapter", "execution", "run time (s)"), rows)
    if start is None:
        return (
            "The build's start time is unknown (this page was not executed by "
            "`tools/build_book.py`), so which chapters ran in this build cannot be told; each "
            "row gives the date of the chapter's execution in the cache.\n\n" + table
        )
    return table


# --- regression references -------------------------------------------------------------------
# A chapter pins its headline numbers in a cell tagged ``remove-cell``: the page does not show it,
# but nbval (quick) and ``make book`` (paper) execute it. Two kinds of result, two calls:
#
# * ``check``: deterministic results (closed forms, full-batch float64 training, measurements of
#   given weights). A value that moved by more than ``rtol`` relative fails.
# * ``check_seeds``: stochastic results (minibatch float32 training, whose trajectory amplifies
#   the rounding of whichever vector kernels the CPU dispatches to). The reference keeps every
#   seed's value as recorded under each kernel set; a run passes when its mean over seeds lies
#   within k standard deviations (over all recorded seeds and kernel sets) of their mean.

REFERENCE_MODES = ("check", "fill", "report", "record", "off")


def reference_mode() -> str:
    """The reference mode ``$DNC_REFERENCE``, one of :data:`REFERENCE_MODES` (default ``check``).

    ``check`` (default) compares and fails on a value without a reference; ``fill`` compares the
    values that have one and stores those that have none; ``report`` is ``fill`` that never
    fails: a value that moved is written to ``$DNC_REFERENCE_REPORT`` (one JSON file per
    chapter) for the book build to list (``make book``: a reader always gets the book; the tests
    are where a mismatch fails); ``record`` stores all; ``off`` skips. Raises ValueError for any
    other value.
    """
    mode = os.environ.get("DNC_REFERENCE", "check").strip().lower()
    if mode not in REFERENCE_MODES:
        raise ValueError(f"DNC_REFERENCE must be one of {REFERENCE_MODES}, got {mode!r}")
    return mode


def reference_dir():
    """``$DNC_REFERENCE_DIR``, else the first ``tests/reference`` above the working directory.

    The search starts at the working directory itself (chapters run in ``book/``); ``None`` when
    there is none (a notebook run outside a checkout).
    """
    if os.environ.get("DNC_REFERENCE_DIR"):
        return Path(os.environ["DNC_REFERENCE_DIR"])
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "tests" / "reference").is_dir():
            return folder / "tests" / "reference"
    return None


def kernel_set() -> str:
    """The vector instruction set torch's CPU kernels dispatch to, or ``CUDA`` with a GPU.

    One of ``AVX512``, ``AVX2``, ``DEFAULT``, ..., as ``torch.backends.cpu.get_cpu_capability()``
    reports it under the current ``ATEN_CPU_CAPABILITY``; ``CUDA`` when a GPU is present
    (training then runs there unless ``DNC_DEVICE`` says otherwise).
    """
    if torch.cuda.is_available():
        return "CUDA"
    return str(torch.backends.cpu.get_cpu_capability()).upper()


def _plain(value):
    """JSON-ready copy: numpy scalars and arrays become Python numbers and nested lists."""
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
    """Append to ``out`` a line for each leaf where ``got`` and ``want`` disagree.

    Numbers agree within |got − want| ≤ atol + rtol·|want| (two NaNs agree), everything else
    (booleans, integer counts, strings, keys and lengths) must match exactly.
    """
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


_REPORTED: set = set()  # chapters whose report file this process has started afresh


def _report(chapter: str, problems: list[str]) -> None:
    """Add ``problems`` to ``$DNC_REFERENCE_REPORT/<profile>/<chapter>.json`` for the build to list.

    The file is started afresh at the chapter's first check in this process; nothing is written
    when the variable is unset.
    """
    folder = os.environ.get("DNC_REFERENCE_REPORT")
    if not folder:
        return
    path = Path(folder) / profile.current() / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() and chapter in _REPORTED else []
    _REPORTED.add(chapter)
    path.write_text(json.dumps(old + list(problems), indent=1) + "\n")


def _compare(chapter, plain, compare, mode, label):
    """The work shared by :func:`check` and :func:`check_seeds` once values are plain JSON.

    Load the reference, store (``record``; ``fill``/``report`` for values without one), compare
    the rest with ``compare(name, value, reference, problems)``, then raise (``check``/``fill``)
    or report (``report``) what moved. ``label`` says in the summary line what was compared.
    """
    folder = reference_dir()
    if mode == "off" or folder is None:
        return plain
    path = folder / profile.current() / f"{chapter}.json"
    stored = json.loads(path.read_text()) if path.exists() else {}

    def write(values):
        stored.update(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")

    if mode == "record":
        write(plain)
        print(f"recorded {len(plain)} values in {path.name} ({profile.current()})")
        return plain
    problems = []
    missing = {name: value for name, value in plain.items() if name not in stored}
    for name, value in plain.items():
        if name in missing:
            if mode == "check":
                problems.append(f"{name}: no reference (run `make refresh-reference`)")
        else:
            compare(name, value, stored[name], problems)
    if mode in ("fill", "report") and missing and (mode == "report" or not problems):
        write(missing)
        print(f"stored {len(missing)} new values in {profile.current()}/{path.name}")
    _report(chapter, problems)
    if problems and mode != "report":
        raise AssertionError(
            f"{chapter} ({profile.current()} profile) differs from {path}:\n  "
            + "\n  ".join(problems)
        )
    if problems:
        print(f"{len(problems)} values moved from {profile.current()}/{path.name}:")
        print("  " + "\n  ".join(problems))
    else:
        print(f"{len(plain) - len(missing)} values match {profile.current()}/{path.name} ({label})")
    return plain


def check(chapter: str, *, rtol: float = 1e-4, atol: float = 0.0, **values) -> dict:
    """Compare each measured deterministic value with ``tests/reference/<profile>/<chapter>.json``.

    Numbers (also inside lists, arrays and dicts) pass when |value − reference| ≤ atol +
    rtol·|reference|; booleans, integers-as-counts and strings must be equal. With
    ``DNC_REFERENCE=record`` the values are stored instead. A value without a reference is an
    error (``check``, the tests' mode), or is stored (``fill``, ``report``). Returns the values as
    stored (plain JSON).

    Raises:
        AssertionError: a value differs from its reference, or has none (not in ``report``).
        ValueError: no value is given, or ``$DNC_REFERENCE`` is not a known mode.
        TypeError: a value is of a type that cannot be stored as JSON.
    """
    if not values:
        raise ValueError("check() needs at least one value")
    mode = reference_mode()
    plain = {name: _plain(v) for name, v in values.items()}

    def compare(name, value, want, problems):
        if isinstance(want, dict) and "per_kernel_set" in want:
            problems.append(f"{name}: the reference is per seed; pin it with check_seeds")
        else:
            _differences(name, value, want, rtol, atol, problems)

    return _compare(chapter, plain, compare, mode, f"rtol {rtol:g}")


def seed_band(samples, k: float, log: bool = False):
    """(mean, s.d., lower, upper) of the pooled per-seed ``samples`` (seeds × ...), entry by entry.

    The band mean ± k·s.d. (s.d. with ddof 1) is the one a run's mean over its seeds must lie
    in; with ``log``, it is computed on log values and mapped back (for positive quantities
    spread over decades), the s.d. staying on the log scale. Raises ValueError for fewer than
    two seeds, or for non-positive samples with ``log``.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.shape[0] < 2:
        raise ValueError(f"a band needs at least two recorded seeds, got {x.shape[0]}")
    if log:
        if np.any(x <= 0):
            raise ValueError("log=True needs positive values")
        x = np.log(x)
    mean, sd = x.mean(0), x.std(0, ddof=1)
    lower, upper = mean - k * sd, mean + k * sd
    if log:
        mean, lower, upper = np.exp(mean), np.exp(lower), np.exp(upper)
    return mean, sd, lower, upper


def check_seeds(chapter: str, *, k: float = 5.0, log: bool = False, **values) -> dict:
    """Pin stochastic results: each value is an array whose first axis runs over seeds.

    The reference stores, for each kernel set (:func:`kernel_set`) that recorded it, every seed's
    value. A run passes when, entry by entry, its mean over seeds lies in mean ± k·s.d. of all
    recorded seeds of all kernel sets (:func:`seed_band`; ``log`` compares log values). The
    s.d. is that of one seed, so the band is about k·√(number of seeds) standard errors of the
    mean wide: another machine, which trains like another seed, passes, while a change that
    moves the results by many seeds' spread fails. ``DNC_REFERENCE=record`` replaces this
    kernel set's seeds and keeps the others'.

    Raises:
        AssertionError: a mean left its band, the shape changed, or a value has no reference
            (not in ``report``).
        ValueError: no value is given, ``k`` is not positive, a value has no leading seed axis,
            or ``$DNC_REFERENCE`` is not a known mode.
    """
    if not values:
        raise ValueError("check_seeds() needs at least one value")
    if not k > 0:
        raise ValueError(f"k must be positive, got {k!r}")
    mode = reference_mode()
    arrays = {}
    for name, value in values.items():
        x = np.asarray(_plain(value), dtype=np.float64)
        if x.ndim == 0 or x.shape[0] < 1:
            raise ValueError(f"{name}: check_seeds needs an array with a first axis of seeds")
        arrays[name] = x
    here = kernel_set()
    plain = {name: {"per_kernel_set": {here: x.tolist()}} for name, x in arrays.items()}
    if mode == "record":  # keep the other kernel sets' seeds
        folder = reference_dir()
        path = None if folder is None else folder / profile.current() / f"{chapter}.json"
        stored = json.loads(path.read_text()) if path is not None and path.exists() else {}
        for name in plain:
            old = stored.get(name)
            if isinstance(old, dict) and "per_kernel_set" in old:
                plain[name] = {
                    "per_kernel_set": {**old["per_kernel_set"], here: arrays[name].tolist()}
                }

    def compare(name, value, want, problems):
        if not (isinstance(want, dict) and "per_kernel_set" in want):
            problems.append(f"{name}: the reference is a single value; re-record it per seed")
            return
        got = arrays[name]
        runs = [np.asarray(v, dtype=np.float64) for v in want["per_kernel_set"].values()]
        if any(r.shape[1:] != got.shape[1:] for r in runs):
            problems.append(
                f"{name}: shape {got.shape[1:]} per seed != reference {runs[0].shape[1:]}"
            )
            return
        mean, sd, lower, upper = seed_band(np.concatenate(runs), k, log)
        m = np.exp(np.log(got).mean(0)) if log else got.mean(0)
        bad = ~((m >= lower - 1e-12 * np.abs(mean)) & (m <= upper + 1e-12 * np.abs(mean)))
        for index in zip(*np.nonzero(np.atleast_1d(bad)), strict=True):
            i = index if m.ndim else ()
            where = "".join(f"[{j}]" for j in i)
            scale = "log " if log else ""
            off = (np.log(m[i]) - np.log(mean[i])) if log else (m[i] - mean[i])
            sigmas = abs(off) / sd[i] if sd[i] > 0 else np.inf
            problems.append(
                f"{name}{where}: mean over {got.shape[0]} seeds {m[i]:.6g} outside "
                f"[{lower[i]:.6g}, {upper[i]:.6g}] = reference mean {mean[i]:.6g} ± {k:g} "
                f"{scale}s.d. ({sigmas:.1f} s.d. away; {sum(len(r) for r in runs)} recorded seeds "
                f"on {', '.join(want['per_kernel_set'])})"
            )

    return _compare(chapter, plain, compare, mode, f"mean over seeds within ± {k:g} s.d.")
