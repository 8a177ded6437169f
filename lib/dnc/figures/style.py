"""Shared look of the book's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

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


def log_spectrum_panel(
    ax, eigenvalues, n_outliers: int, title: str, bins: int = 40, rtol: float = 1e-15
):
    """Like :func:`spectrum_panel` on a log x axis; eigenvalues below ``rtol`` × the top
    (exact zeros of a low-rank matrix, round-off) are left out, as a log axis cannot show them."""
    vals = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    vals = vals[vals > rtol * vals[0]]
    top, bulk = vals[:n_outliers], vals[n_outliers:]
    if bulk.size:
        edges = np.geomspace(bulk.min(), bulk.max() * 1.0001, bins + 1)
        ax.hist(bulk, bins=edges, color=BULK, log=True, label="bulk")
    ymax = max(ax.get_ylim()[1], 2.0)
    ax.vlines(top, 0.8, ymax, color=OUTLIER, lw=1.5, label=f"top {n_outliers}")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide within a decade
    if not bulk.size:
        ax.text(0.05, 0.9, "no bulk above round-off", transform=ax.transAxes, fontsize=7)
    ax.set_title(title)
    ax.set_xlabel("eigenvalue")


def spectra_over_epochs(result, epochs, spectrum, n_outliers: int, title: str, log: bool = False):
    """One panel per epoch: the spectrum ``spectrum(H_1, Ws)`` as bulk histogram plus top outliers."""
    have = set(result.snapshot_epochs.tolist())
    epochs = [e for e in epochs if e in have]
    fig, axes = new(ncols=len(epochs), width=3.0, height=2.8)
    panel = log_spectrum_panel if log else spectrum_panel
    for ax, epoch in zip(axes[0], epochs, strict=True):
        panel(ax, spectrum(*result.params(epoch)), n_outliers, f"epoch {epoch}")
    axes[0, 0].set_ylabel("count")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def pairwise_over_epochs(epochs, values, symbol: str, emphasise_diagonal: bool = False):
    """One line per pair (c, c') of a (T, K, K) array over epochs, labelled ``symbol``_{cc'};
    with ``emphasise_diagonal`` the c = c' lines are solid and thick, the others dashed."""
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
