"""Shared look of the book's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt

OUTLIER = "#c0392b"
BULK = "#7f8c8d"
PALETTE = plt.get_cmap("tab10").colors


def new(ncols: int = 1, nrows: int = 1, width: float = 4.0, height: float = 3.2, **kw):
    """A figure with an ``nrows × ncols`` grid of axes (always a 2D array)."""
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width * ncols, height * nrows),
        squeeze=False,
        constrained_layout=True,
        **kw,
    )
    return fig, axes


def spectrum_panel(ax, eigenvalues, n_outliers: int, title: str, bins: int = 40):
    """Histogram of the bulk (all but the top ``n_outliers``) with the outliers as red ticks."""
    vals = sorted(eigenvalues, reverse=True)
    top, bulk = vals[:n_outliers], vals[n_outliers:]
    ax.hist(bulk, bins=bins, color=BULK, log=True, label="bulk")
    ymax = ax.get_ylim()[1]
    ax.vlines(top, 0.8, ymax, color=OUTLIER, lw=1.5, label=f"top {n_outliers}")
    ax.set_title(title)
    ax.set_xlabel("eigenvalue")
