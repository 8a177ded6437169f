"""Figures of chapter 1: neural collapse in the one-layer UFM (the book's own figures)."""

from __future__ import annotations

import numpy as np

from dnc import metrics, ufm
from dnc.experiments import paper_a as experiments
from dnc.figures import style
from dnc.figures.registry import figure
from dnc.ufm import tracking


def _labels(result):
    return ufm.labels(result.config.K, result.config.n)


@figure("book")
def nc1_over_training(result=None, profile=None):
    """NC1 of the UFM features over gradient descent, in the three normalisations of chapter 1."""
    result = result or experiments.one_layer_run(profile)
    lab = _labels(result)
    fig, ax = style.new(width=5.0)
    ax = ax[0, 0]
    for i, kind in enumerate(metrics.NC1_KINDS):
        epochs, vals = tracking.over_snapshots(result, lambda H, Ws, k=kind: metrics.nc1(H, lab, k))
        ax.loglog(np.maximum(epochs, 1), vals, "o-", ms=3, color=style.PALETTE[i], label=kind)
    ax.set_xlabel("epoch (0 drawn at 1)")
    ax.set_ylabel("NC1 of $H$")
    ax.legend()
    return fig


@figure("book")
def class_mean_gram(result=None, profile=None):
    """Cosines between class means at initialisation and after training, raw and centred."""
    result = result or experiments.one_layer_run(profile)
    lab = _labels(result)
    fig, axes = style.new(ncols=2, nrows=2, width=3.2, height=3.0)
    for row, epoch in enumerate((0, result.epochs)):
        H, _ = result.params(epoch)
        for col, frame in enumerate(("orthogonal", "etf")):
            ax = axes[row, col]
            image = ax.imshow(
                metrics.class_mean_cosines(H, lab, frame), vmin=-1, vmax=1, cmap="RdBu_r"
            )
            what = "raw means" if frame == "orthogonal" else "centred means"
            ax.set_title(f"epoch {epoch}: {what}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(image, ax=axes, shrink=0.8, label="cosine")
    return fig
