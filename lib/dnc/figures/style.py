"""Shared look of the book's figures, and the one way every spectrum is drawn.

Every figure is drawn for the book's content column: in Chromium at 1280 px the column shows a
figure at most about 660 px wide, and a notebook renders figures as PNG at ``figure.dpi`` (100)
with a tight bounding box. A figure therefore fits :data:`COLUMN_WIDTH` inches (so that it is
shown at its own size, not shrunk), and its text is at least :data:`MIN_FONT` points: panels are
laid out in rows that fit the column (:func:`panel_grid`), legends are merged or moved out of the
panels. :func:`new` caps a row of panels at the column's width, and a figure made here raises any
smaller text to :data:`MIN_FONT` when it is drawn (:class:`ColumnFigure`); :func:`readability`
lists what still breaks the rule.

Spectra of the deep UFM are nonnegative and span many decades (outliers near 1e-1, a bulk down to
round-off or exact zeros), so they are drawn on log axes: eigenvalues at or below a floor
(``floor_rtol`` × the largest eigenvalue shown) are drawn *at* the floor, and the figure says so.
A spectrum figure has two parts: the top ``n_outliers`` eigenvalues and the bulk's upper edge
(the largest non-outlier eigenvalue) as trajectories over epochs, so the gap between them and
the outliers' merging can be read; and, below, one histogram per requested epoch on a shared log
eigenvalue axis, the outliers stacked in red on the grey bulk, their count written above them.

A figure function returns its figure already released by ``pyplot`` (:func:`blank`): a notebook
shows it once, where the chapter glues or displays it, and not a second time at the cell's end.
"""

from __future__ import annotations

import math
from io import BytesIO

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import LogLocator, NullFormatter

OUTLIER = "#c0392b"
BULK = "#7f8c8d"
EDGE = "#2c3e50"
PALETTE = colormaps["tab10"].colors
FLOOR_RTOL = 1e-12

COLUMN_WIDTH = 6.4
"""Inches: the widest figure, shown unshrunk in the book's ~660 px column at 100 dpi."""
COLUMN_PX = 660
"""CSS pixels: the width at which the book's column shows a figure (Chromium, 1280 px window)."""
MIN_FONT = 9.0
"""Points: the smallest text a figure may have at the size the book shows it."""


class ColumnFigure(Figure):
    """A figure whose text is never smaller than :data:`MIN_FONT` points when it is drawn.

    Before each draw (so before the constrained layout is computed) every visible text smaller
    than :data:`MIN_FONT` (tick labels, legends, titles, annotations) is raised to it: a figure
    function that asks for 7-point text still gets readable text in the book.
    """

    def draw(self, renderer):
        """Raise small text (:func:`raise_small_text`), then draw as any figure."""
        raise_small_text(self)
        super().draw(renderer)


def raise_small_text(fig, minimum: float = MIN_FONT) -> int:
    """Raise every text of ``fig`` smaller than ``minimum`` points to it; returns how many."""
    raised = 0
    for text in fig.findobj(Text):
        if text.get_text() and text.get_fontsize() < minimum:
            text.set_fontsize(minimum)
            raised += 1
    return raised


def blank(width: float, height: float):
    """An empty constrained-layout :class:`ColumnFigure` that pyplot no longer holds.

    It is made through pyplot, so that the backend (in a notebook, the inline one that renders
    figures as PNG) is loaded, then closed there: the inline backend shows only figures pyplot
    holds at a cell's end.
    """
    fig = plt.figure(figsize=(width, height), layout="constrained", FigureClass=ColumnFigure)
    plt.close(fig)
    return fig


def new(ncols: int = 1, nrows: int = 1, width: float = 4.0, height: float = 3.2, **kw):
    """A figure with an ``nrows × ncols`` grid of axes (always a 2D array), released by pyplot.

    ``width`` and ``height`` are one panel's; a row wider than :data:`COLUMN_WIDTH` is narrowed
    to it (the panels share the column), so that the book never shrinks the figure.
    """
    total = min(width * ncols, COLUMN_WIDTH)
    fig = blank(total, height * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def grid_shape(n: int, max_cols: int = 3) -> tuple[int, int]:
    """(rows, cols) for ``n`` panels in the column: at most ``max_cols`` a row, 4 as 2 × 2."""
    if n < 1:
        raise ValueError(f"a figure needs at least one panel, got {n}")
    cols = 2 if n == 4 else min(n, max_cols)
    return math.ceil(n / cols), cols


def panel_grid(spec, n: int, max_cols: int = 3, spare: bool = True):
    """``n`` axes laid out in rows of the gridspec cell (or figure) ``spec``; returns (axes, spare).

    The panels fill rows of :func:`grid_shape` in reading order; ``spare`` is the rest of the last
    row as an axis turned off (a place for the figure's legend), or None when the rows are full
    or ``spare`` is false.
    """
    rows, cols = grid_shape(n, max_cols)
    if isinstance(spec, Figure):
        fig, gs = spec, spec.add_gridspec(rows, cols)
    else:
        gs = spec.subgridspec(rows, cols)
        fig = gs.figure
    axes = [fig.add_subplot(gs[i // cols, i % cols]) for i in range(n)]
    rest = None
    if spare and rows * cols > n:
        rest = fig.add_subplot(gs[n // cols, n % cols :])
        rest.set_axis_off()
        rest.set_label("legend")
    return axes, rest


def readability(fig, column_px: float = COLUMN_PX) -> list[str]:
    """What keeps ``fig`` from being read in the book's column; empty when nothing does.

    The figure is rendered as a notebook does (``fig.dpi``, tight bounding box). It fails when
    its PNG is more than 1.5 × as wide as the column shows it, or when any visible text is
    smaller than :data:`MIN_FONT` points at the size shown (points × shown width / PNG width).
    """
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
    buf.seek(0)
    width = mpimg.imread(buf, format="png").shape[1]
    shown = min(width, column_px)
    problems = []
    if width > 1.5 * shown:
        problems.append(f"{width} px wide, shown at {shown} px")
    scale = shown / width
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text() and text.get_fontsize() * scale < MIN_FONT:
            size = text.get_fontsize() * scale
            problems.append(f"text {text.get_text()[:40]!r} at {size:.1f} pt")
    return problems


# --- inputs -----------------------------------------------------------------------------------


def check_epochs(result, epochs) -> list[int]:
    """The requested ``epochs`` as ints, in the order given, each checked against ``result``.

    Raises ValueError naming every epoch that has no snapshot in ``result`` (a figure never drops
    a requested epoch silently), or when no epoch is requested.
    """
    epochs = [int(e) for e in np.atleast_1d(np.asarray(epochs, dtype=np.int64))]
    if not epochs:
        raise ValueError("no epochs requested: a figure needs at least one snapshot epoch")
    have = result.snapshot_epochs.tolist()
    missing = [e for e in epochs if e not in have]
    if missing:
        raise ValueError(f"requested epochs {missing} have no snapshot in the result; have {have}")
    return epochs


def check_outlier_count(n_outliers, size: int) -> int:
    """``n_outliers`` as an int in 1..size−1 (a spectrum figure needs outliers and a bulk)."""
    if isinstance(n_outliers, bool) or int(n_outliers) != n_outliers:
        raise ValueError(f"the outlier count must be an integer, got {n_outliers!r}")
    if not 1 <= int(n_outliers) < size:
        raise ValueError(
            f"the outlier count must lie in 1..{size - 1} for a spectrum of {size} eigenvalues,"
            f" got {n_outliers}"
        )
    return int(n_outliers)


def spectrum_floor(spectra, floor_rtol: float = FLOOR_RTOL) -> float:
    """``floor_rtol`` × the largest eigenvalue of all ``spectra``: the lowest value drawn."""
    top = max(float(np.max(s)) for s in spectra)
    if not np.isfinite(top) or top <= 0:
        raise ValueError(f"a spectrum figure needs a positive eigenvalue, the largest is {top!r}")
    return floor_rtol * top


def split_spectrum(eigenvalues, n_outliers: int, floor: float):
    """(outliers, bulk): the top ``n_outliers`` and the rest, descending, raised to ``floor``."""
    vals = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())[::-1]
    n = check_outlier_count(n_outliers, vals.size)
    vals = np.maximum(vals, floor)
    return vals[:n], vals[n:]


def floor_note(floor: float) -> str:
    """The axis note saying that values at or below ``floor`` are drawn at it."""
    return f"values ≤ {floor:.0e} drawn at {floor:.0e}"


# --- drawing -----------------------------------------------------------------------------------


def log_bins(floor: float, top: float, bins: int = 48) -> np.ndarray:
    """Log-spaced bin edges from just below ``floor`` to just above ``top``."""
    return np.geomspace(floor / 1.5, top * 1.5, bins + 1)


def spectrum_panel(
    ax,
    eigenvalues,
    n_outliers: int,
    title: str,
    *,
    floor: float | None = None,
    edges=None,
    top: int | None = None,
):
    """Draw one spectrum on a log axis, the top ``n_outliers`` in red, the bulk in grey.

    ``top=None``: histogram over log-spaced ``edges``, outliers stacked on the bulk (two bar
    containers, bulk then outliers, one bar per filled bin); the red count is written above the
    red bars and the count at the floor beside the floor's bar, so that both read at a glance
    (the legend for the colours is the figure's: :func:`spectrum_legend`). ``top=k``: the k
    largest eigenvalues as bars by index on a log value axis. Values at or below ``floor``
    (default :data:`FLOOR_RTOL` × the largest) are drawn at the floor. Returns (outliers, bulk)
    as drawn.
    """
    floor = spectrum_floor([eigenvalues]) if floor is None else float(floor)
    outliers, bulk = split_spectrum(eigenvalues, n_outliers, floor)
    n = outliers.size
    if top is None:
        edges = log_bins(floor, outliers[0]) if edges is None else np.asarray(edges)
        at_floor = int(np.sum(bulk <= floor))
        bulk_counts, _ = np.histogram(bulk, edges)
        outlier_counts, _ = np.histogram(outliers, edges)
        left, width = edges[:-1], np.diff(edges)
        for counts, bottom, color, label in (
            (bulk_counts, 0 * bulk_counts, BULK, f"bulk: {bulk.size} ({at_floor} at floor)"),
            (outlier_counts, bulk_counts, OUTLIER, f"top {n}"),
        ):
            keep = counts > 0  # only filled bins become bars
            ax.bar(
                left[keep],
                counts[keep],
                width[keep],
                bottom=bottom[keep],
                align="edge",
                color=color,
                label=label,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(0.7, max(2.0, 2.5 * (bulk.size + n)))
        ax.xaxis.set_major_locator(LogLocator(numticks=4))  # a few decades, labels apart
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide within a decade
        ax.axvline(floor, color=EDGE, lw=0.6, ls=":")
        ax.set_xlabel("eigenvalue (log)")
        filled = np.flatnonzero(outlier_counts)
        near = slice(max(0, filled[0] - 2), filled[-1] + 3)  # the red bins and two either side
        stack = (bulk_counts + outlier_counts)[near].max()
        ax.annotate(
            f"{n}",
            (np.sqrt(outliers.min() * outliers.max()), stack),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            color=OUTLIER,
            fontsize=11,
            fontweight="bold",
            gid="outlier count",
        )
        ax.set_xlim(edges[0] / 3, edges[-1] * 4)  # room for the count over the last bins
        if at_floor:
            ax.annotate(
                f"{at_floor} at floor",
                (floor, 1),
                xycoords=("data", "axes fraction"),
                xytext=(4, -3),
                textcoords="offset points",
                ha="left",
                va="top",
                color=EDGE,
                fontsize=MIN_FONT,
            )
    else:
        k = int(top)
        vals = np.concatenate([outliers, bulk])[:k]
        colors = [OUTLIER] * min(n, k) + [BULK] * max(0, vals.size - n)
        ax.bar(np.arange(1, vals.size + 1), vals, color=colors, bottom=0)
        ax.set_yscale("log")
        ax.set_ylim(floor / 2, vals[0] * 3)
        ax.axhline(floor, color=EDGE, lw=0.6, ls=":")
        ax.set_xlabel("index $i$")
        ax.set_ylabel("$\\lambda_i$ (log)")
    ax.set_title(title, fontsize=10)
    return outliers, bulk


def spectrum_legend(where, floor: float, outliers: str = "expected outliers (count above)"):
    """The colours of :func:`spectrum_panel` as one legend, in the axis or figure ``where``.

    An axis (a spare cell of the grid) holds it centred; a figure gets it below its panels.
    """
    note = floor_note(floor)
    if not isinstance(where, Figure):
        note = note.replace(" drawn", "\ndrawn")  # a spare cell is one panel wide
    handles = [
        Patch(color=BULK, label="bulk"),
        Patch(color=OUTLIER, label=outliers),
        Line2D([], [], color=EDGE, lw=0.8, ls=":", label=note),
    ]
    if isinstance(where, Figure):
        return where.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=MIN_FONT)
    legend = where.legend(handles=handles, loc="center", fontsize=MIN_FONT, frameon=False)
    legend.set_in_layout(False)  # the cell's size comes from the grid, not from the legend
    return legend


def outlier_trajectories(ax, epochs, spectra, n_outliers: int, floor: float, marks=()):
    """Draw the top ``n_outliers`` eigenvalues and the bulk's upper edge λ_{n+1} over ``epochs``.

    The outliers are red shades (largest darkest, one line each, gid ``outlier i``), the bulk
    edge is dashed (gid ``bulk edge``), on log axes (epoch 0 on the linear stretch of a symlog
    axis); dotted verticals at ``marks``. Returns (tops, edges): the (T, n) outlier values and
    the T bulk edges, as drawn.
    """
    epochs = np.asarray(epochs)
    tops, edges = [], []
    for s in spectra:
        outliers, bulk = split_spectrum(s, n_outliers, floor)
        tops.append(outliers)
        edges.append(bulk[0])
    tops, edges = np.asarray(tops), np.asarray(edges)
    shades = _outlier_shades(n_outliers)
    for i in range(n_outliers):
        (line,) = ax.plot(epochs, tops[:, i], color=shades[i], lw=1.2)
        line.set_gid(f"outlier {i + 1}")
        if i == 0:
            line.set_label(f"top {n_outliers}")
    label = f"bulk edge $\\lambda_{{{n_outliers + 1}}}$"
    (line,) = ax.plot(epochs, edges, color=EDGE, lw=1.6, ls="--", label=label)
    line.set_gid("bulk edge")
    for m in marks:
        ax.axvline(m, color=BULK, lw=0.6, ls=":")
    _epoch_axis(ax, epochs)
    ax.set_yscale("log")
    ax.set_ylim(floor / 30, tops.max() * 3)
    ax.set_ylabel("eigenvalue (log)")
    ax.legend(fontsize=MIN_FONT, loc="best")
    return tops, edges


def outlier_zoom(ax, epochs, tops, marks=()):
    """Draw the (T, n) outlier trajectories ``tops`` again, the log value axis cut to their range.

    Their spread early and their merging late can then be read.
    """
    n = tops.shape[1]
    shades = _outlier_shades(n)
    for i in range(n):
        ax.plot(epochs, tops[:, i], color=shades[i], lw=1.2)
    for m in marks:
        ax.axvline(m, color=BULK, lw=0.6, ls=":")
    _epoch_axis(ax, np.asarray(epochs))
    ax.set_yscale("log")
    ax.set_ylim(tops.min() / 1.3, tops.max() * 1.3)
    ax.set_title(f"the top {n} only (zoom)", fontsize=10)


def _outlier_shades(n: int):
    """Shades of red, ``n`` of them, the darkest for the largest eigenvalue."""
    return colormaps["Reds"](np.linspace(0.95, 0.45, n))


def _epoch_axis(ax, epochs):
    ax.set_xscale("symlog", linthresh=max(1, int(np.min(epochs[epochs > 0], initial=1))))
    ax.set_xlim(epochs.min(), epochs.max())
    ax.set_xlabel("epoch (symlog; dotted: histograms)")


def spectra_over_epochs(
    result,
    epochs,
    spectrum,
    n_outliers: int,
    title: str,
    log: bool = True,
    *,
    trajectory_epochs=None,
    floor_rtol: float = FLOOR_RTOL,
):
    """The spectrum ``spectrum(H_1, Ws)`` over training, as trajectories and histograms.

    Its top ``n_outliers`` and bulk edge over ``trajectory_epochs`` (default every snapshot),
    and one log histogram per epoch of ``epochs``. Every epoch must be a snapshot of ``result``
    (ValueError otherwise). ``log`` is kept for old callers: every spectrum is drawn on log axes.
    Axes are labelled ``trajectories`` and ``spectrum at epoch E``. The figure fits the book's
    column: the trajectories and their zoom side by side on top, the histograms below in rows of
    at most three (four as 2 × 2), the colours' legend in a spare cell or under them.
    """
    del log
    epochs = check_epochs(result, epochs)
    traj = sorted(
        check_epochs(
            result, result.snapshot_epochs if trajectory_epochs is None else trajectory_epochs
        )
    )
    spectra = {
        e: np.asarray(spectrum(*result.params(e)), dtype=np.float64)
        for e in dict.fromkeys(traj + epochs)
    }
    floor = spectrum_floor(spectra.values(), floor_rtol)
    top = max(float(s.max()) for s in spectra.values())
    edges = log_bins(floor, top)
    rows, _ = grid_shape(len(epochs))
    fig = blank(COLUMN_WIDTH, 2.7 + 2.1 * rows + (0.3 if len(epochs) % 3 == 0 else 0))
    outer = fig.add_gridspec(2, 1, height_ratios=(2.7, 2.1 * rows))
    upper = outer[0].subgridspec(1, 2, width_ratios=(1, 1))
    ax = fig.add_subplot(upper[0])
    ax.set_label("trajectories")
    tops, _ = outlier_trajectories(
        ax, traj, [spectra[e] for e in traj], n_outliers, floor, marks=epochs
    )
    ax = fig.add_subplot(upper[1])
    ax.set_label("outliers zoomed")
    outlier_zoom(ax, np.asarray(traj), tops, marks=epochs)
    axes, spare = panel_grid(outer[1], len(epochs))
    cols = grid_shape(len(epochs))[1]
    for j, (ax, epoch) in enumerate(zip(axes, epochs, strict=True)):
        if j:
            ax.sharex(axes[0])
            ax.sharey(axes[0])
        ax.set_label(f"spectrum at epoch {epoch}")
        spectrum_panel(ax, spectra[epoch], n_outliers, f"epoch {epoch}", floor=floor, edges=edges)
        if j % cols:
            ax.tick_params(labelleft=False)
        else:
            ax.set_ylabel("count (log)")
        if j + cols < len(epochs):
            ax.set_xlabel("")
    spectrum_legend(spare or fig, floor, f"top {n_outliers} (count above)")
    fig.suptitle(title)
    return fig


def pairwise_over_epochs(
    epochs,
    values,
    symbol: str,
    emphasise_diagonal: bool = False,
    log_floor: float | None = None,
    reference: tuple[float, str] | None = None,
):
    """One line per pair (c, c') of a (T, K, K) array over epochs, labelled ``symbol``_{cc'}.

    With ``emphasise_diagonal`` the c = c' lines are solid and thick in shades of blue, the others
    dashed in shades of orange, and the legend names the two families (not each of the K² lines,
    which overlap within a family). With ``log_floor`` the value axis is logarithmic, values
    below the floor drawn at it: coefficients that decay to zero stay visible. ``reference``
    (value, label) is a dotted horizontal line, named in the legend. Returns (fig, ax).
    """
    K = values.shape[1]
    fig, ax = new(width=5.0)
    ax = ax[0, 0]
    shades = {
        True: colormaps["Blues"](np.linspace(0.95, 0.55, K)),
        False: colormaps["Oranges"](np.linspace(0.95, 0.45, K * K)),
    }
    for c in range(K):
        for e in range(K):
            diagonal = c == e
            y = values[:, c, e]
            if log_floor is not None:
                y = np.maximum(y, log_floor)
            if emphasise_diagonal:
                color = shades[diagonal][c if diagonal else c * K + e]
            else:
                color = PALETTE[(c * K + e) % 10]
            ax.plot(
                epochs,
                y,
                color=color,
                lw=1.6 if emphasise_diagonal and diagonal else (1.0 if emphasise_diagonal else 1.2),
                ls="--" if emphasise_diagonal and not diagonal else "-",
                label=f"${symbol}_{{{c + 1}{e + 1}}}$",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"${symbol}_{{cc'}}$" + (" (log)" if log_floor is not None else ""))
    if log_floor is not None:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, 1.05)
    extra = []
    if reference is not None:
        ax.axhline(reference[0], color="k", lw=0.6, ls=":")
        extra = [Line2D([], [], color="k", lw=0.6, ls=":", label=reference[1])]
    if emphasise_diagonal:
        handles = [
            Line2D([], [], color=shades[True][0], lw=1.6, label=f"${symbol}_{{cc}}$ ({K} lines)"),
            Line2D(
                [],
                [],
                color=shades[False][0],
                lw=1.0,
                ls="--",
                label=f"${symbol}_{{cc'}}$, $c \\neq c'$ ({K * (K - 1)} lines)",
            ),
        ]
        ax.legend(handles=handles + extra, fontsize=MIN_FONT)
    else:
        ax.legend(handles=ax.lines[: K * K] + extra, ncols=K, fontsize=MIN_FONT)
    return fig, ax
