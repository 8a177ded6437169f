"""Shared look of the book's figures, and the one way every spectrum is drawn.

Spectra of the deep UFM are nonnegative and span many decades (outliers near 1e-1, a bulk down to
round-off or exact zeros), so they are drawn on log axes: eigenvalues at or below a floor
(``floor_rtol`` × the largest eigenvalue shown) are drawn *at* the floor, and the figure says so.
A spectrum figure has two parts: the top ``n_outliers`` eigenvalues and the bulk's upper edge
(the largest non-outlier eigenvalue) as trajectories over epochs, so the gap between them and
the outliers' merging can be read; and, below, one histogram per requested epoch on a shared log
eigenvalue axis, the outliers stacked in red on the grey bulk.

A figure function returns its figure already released by ``pyplot`` (:func:`blank`): a notebook
shows it once, where the chapter glues or displays it, and not a second time at the cell's end.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import NullFormatter

OUTLIER = "#c0392b"
BULK = "#7f8c8d"
EDGE = "#2c3e50"
PALETTE = colormaps["tab10"].colors
FLOOR_RTOL = 1e-12


def blank(width: float, height: float):
    """An empty constrained-layout figure that pyplot no longer holds.

    It is made through pyplot, so that the backend (in a notebook, the inline one that renders
    figures as PNG) is loaded, then closed there: the inline backend shows only figures pyplot
    holds at a cell's end.
    """
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def new(ncols: int = 1, nrows: int = 1, width: float = 4.0, height: float = 3.2, **kw):
    """A figure with an ``nrows × ncols`` grid of axes (always a 2D array), released by pyplot."""
    fig = blank(width * ncols, height * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


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
    containers, bulk then outliers, one bar per filled bin). ``top=k``: the k largest
    eigenvalues as bars by index on a log value axis. Values at or below ``floor`` (default
    :data:`FLOOR_RTOL` × the largest) are drawn at the floor. Returns (outliers, bulk) as drawn.
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
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide within a decade
        ax.axvline(floor, color=EDGE, lw=0.6, ls=":")
        ax.set_xlabel("eigenvalue (log)")
        ax.legend(fontsize=7, loc="upper center")
    else:
        k = int(top)
        vals = np.concatenate([outliers, bulk])[:k]
        colors = [OUTLIER] * min(n, k) + [BULK] * max(0, vals.size - n)
        ax.bar(np.arange(1, vals.size + 1), vals, color=colors, bottom=0)
        ax.set_yscale("log")
        ax.set_ylim(floor / 2, vals[0] * 3)
        ax.axhline(floor, color=EDGE, lw=0.6, ls=":")
        ax.set_xlabel("index $i$ (red: the expected outliers)")
        ax.set_ylabel("$\\lambda_i$ (log)")
    ax.set_title(title, fontsize=9)
    return outliers, bulk


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
            line.set_label(f"top {n_outliers} eigenvalues")
    label = f"bulk edge $\\lambda_{{{n_outliers + 1}}}$"
    (line,) = ax.plot(epochs, edges, color=EDGE, lw=1.6, ls="--", label=label)
    line.set_gid("bulk edge")
    for m in marks:
        ax.axvline(m, color=BULK, lw=0.6, ls=":")
    _epoch_axis(ax, epochs)
    ax.set_yscale("log")
    ax.set_ylim(floor / 30, tops.max() * 3)
    ax.set_ylabel(f"eigenvalue (log; {floor_note(floor)})", fontsize=8)
    ax.legend(fontsize=8, loc="best")
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
    ax.set_title(f"the top {n} only (zoom)", fontsize=9)


def _outlier_shades(n: int):
    """Shades of red, ``n`` of them, the darkest for the largest eigenvalue."""
    return colormaps["Reds"](np.linspace(0.95, 0.45, n))


def _epoch_axis(ax, epochs):
    ax.set_xscale("symlog", linthresh=max(1, int(np.min(epochs[epochs > 0], initial=1))))
    ax.set_xlim(epochs.min(), epochs.max())
    ax.set_xlabel("epoch (symlog; dotted: the epochs below)")


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
    Axes are labelled ``trajectories`` and ``spectrum at epoch E``.
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
    ncols = len(epochs)
    fig = blank(max(8.0, 2.5 * ncols), 5.8)
    outer = fig.add_gridspec(2, 1, height_ratios=(1.15, 1))
    upper = outer[0].subgridspec(1, 2, width_ratios=(3, 2))
    lower = outer[1].subgridspec(1, ncols)
    ax = fig.add_subplot(upper[0])
    ax.set_label("trajectories")
    tops, _ = outlier_trajectories(
        ax, traj, [spectra[e] for e in traj], n_outliers, floor, marks=epochs
    )
    ax = fig.add_subplot(upper[1])
    ax.set_label("outliers zoomed")
    outlier_zoom(ax, np.asarray(traj), tops, marks=epochs)
    first = None
    for j, epoch in enumerate(epochs):
        ax = fig.add_subplot(lower[j], sharex=first, sharey=first)
        first = first or ax
        ax.set_label(f"spectrum at epoch {epoch}")
        spectrum_panel(ax, spectra[epoch], n_outliers, f"epoch {epoch}", floor=floor, edges=edges)
        if j:
            ax.tick_params(labelleft=False)
    first.set_ylabel("count (log)")
    fig.suptitle(title)
    return fig


def pairwise_over_epochs(epochs, values, symbol: str, emphasise_diagonal: bool = False):
    """One line per pair (c, c') of a (T, K, K) array over epochs, labelled ``symbol``_{cc'}.

    With ``emphasise_diagonal`` the c = c' lines are solid and thick, the others dashed.
    Returns (fig, ax).
    """
    K = values.shape[1]
    fig, ax = new(width=5.0)
    ax = ax[0, 0]
    for c in range(K):
        for e in range(K):
            diagonal = emphasise_diagonal and c == e
            ax.plot(
                epochs,
                values[:, c, e],
                color=PALETTE[(c * K + e) % 10],
                lw=1.6 if diagonal else (1.0 if emphasise_diagonal else 1.2),
                ls="--" if emphasise_diagonal and c != e else "-",
                label=f"${symbol}_{{{c + 1}{e + 1}}}$",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"${symbol}_{{cc'}}$")
    ax.set_ylim(0, 1.05)
    ax.legend(ncols=K, fontsize=8)
    return fig, ax
