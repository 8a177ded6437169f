"""Figures of the chapter "Real networks", one function per figure.

Paper A's MNIST measurements (later version) on the linear layers of a residual network, beside
the deep linear UFM.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from dnc.experiments import realnet as experiments
from dnc.figures import style
from dnc.figures.registry import figure
from dnc.spectra import full_hessian, gradients, hessian

ALIGNMENT_FLOOR = 1e-16  # 1 − f_cc' below this is round-off; drawn at the floor on a log axis


def _measured(result, profile):
    return result or experiments.measurements(experiments.setting(profile))


@figure("A", "MNIST spectra (later version)")
def realnet_hessian_outliers(result=None, profile=None):
    """Spectra of the linear layers' Hessians Hess_l of a trained residual network on MNIST.

    The top K² are red, their count written above them (paper A, later version: the MNIST
    outlier spectra); one panel per layer, in rows that fit the book's column.
    """
    result = _measured(result, profile)
    H1, Ws = result["params"][0]
    K = Ws[-1].shape[0]
    spectra = [hessian.layer_hessian_spectrum(H1, Ws, l) for l in range(1, len(Ws) + 1)]
    floor = style.spectrum_floor(spectra)
    rows, cols = style.grid_shape(len(Ws))
    fig = style.blank(style.COLUMN_WIDTH, 2.3 * rows + 0.9)
    axes, _ = style.panel_grid(fig, len(Ws), spare=False)
    for l, (ax, spec) in enumerate(zip(axes, spectra, strict=True), start=1):
        style.spectrum_panel(ax, spec, K * K, f"Hess$_{l}$", floor=floor)
        if (l - 1) % cols == 0:
            ax.set_ylabel("count (log)")
    style.spectrum_legend(fig, floor, f"top $K^2$ = {K * K} (count above)")
    fig.suptitle("Linear layers of a residual network on MNIST (MSE, seed 0)")
    return fig


@figure("A", "MNIST alignment (later version)")
def realnet_alignment_beside_ufm(result=None, profile=None):
    """Misalignment 1 − f_cc' of the predicted eigenvectors μ_c^(l+1) ⊗ μ_c'^(l), layer by layer.

    Every seed of the residual network on MNIST beside the deep linear UFM's worst pair (paper A,
    later version), on a log axis: the alignments crowd just below 1, where a linear axis hides
    their differences. Values below 10⁻¹⁶ (round-off) are drawn at 10⁻¹⁶.
    """
    result = _measured(result, profile)
    fig, ax = style.new(width=5.0)
    ax = ax[0, 0]
    for b, report in enumerate(result["reports"]["mse"]):
        for l, entry in enumerate(report.layers.values(), start=1):
            f = entry["alignments"].ravel()
            x = l + 0.08 * (b - 1) + np.zeros_like(f)
            ax.semilogy(
                x,
                np.maximum(1.0 - f, ALIGNMENT_FLOOR),
                ".",
                color=style.PALETTE[b],
                ms=3,
                label=f"network, seed {b}" if l == 1 else None,
            )
    for b, report in enumerate(result["reports"]["ufm"]):
        worst = [1.0 - entry["alignments"].min() for entry in report.layers.values()]
        ax.semilogy(
            np.arange(1, len(worst) + 1),
            np.maximum(worst, ALIGNMENT_FLOOR),
            "k_",
            ms=14,
            label="UFM (worst $c, c'$)" if b == 0 else None,
        )
    ax.set_xlabel("layer $l$")
    ax.set_ylabel("$1 - f_{cc'}$ (log)")
    ax.set_xticks(np.arange(1, len(worst) + 1))
    ax.legend(fontsize=style.MIN_FONT)
    return fig


@figure("book")
def realnet_gradient_coefficients(result=None, profile=None, layer: int = 2):
    """The gradient's coefficients f̃_cc' in the natural basis μ_c^(l+1) ⊗ μ_c'^(l) of one layer.

    The residual network (seed 0) beside the UFM: diagonal 1/K, off-diagonal 0 predicted.
    """
    result = _measured(result, profile)
    panels = [("network", result["params"][0]), ("deep linear UFM", result["ufm_params"][0])]
    fig, axes = style.new(ncols=2, width=3.2, height=3.0)
    for ax, (name, (H1, Ws)) in zip(axes[0], panels, strict=True):
        ft = gradients.natural_basis_coefficients(H1, Ws, layer)
        image = ax.imshow(ft, cmap="viridis", vmin=0, vmax=max(ft.max(), 1e-12))
        ax.set_title(f"{name}, layer {layer}", fontsize=10)
        ax.set_xlabel("$c'$")
        ax.set_ylabel("$c$")
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


@figure("book")
def realnet_knockouts(result=None, profile=None, layer: int = 2):
    """Top eigenvalues of Hess_l of the residual network and of Hess_l minus Papyan's components.

    One panel per component removed (class, cross-class, within-class), as paper A's Figure 6
    for the UFM, in a 2 × 2 grid. The eigenvalues above the largest gap among the top K² + K + 1
    (:func:`dnc.spectra.hessian.outlier_count`, the chapter's count) are red, their count
    written beside the dashed line at the gap.
    """
    result = _measured(result, profile)
    H1, Ws = result["params"][0]
    K = Ws[-1].shape[0]
    spectra = hessian.knockout_spectra(H1, Ws, layer)
    rows, cols = style.grid_shape(len(spectra))
    fig = style.blank(style.COLUMN_WIDTH, 2.3 * rows + 0.9)
    axes, _ = style.panel_grid(fig, len(spectra), spare=False)
    for i, (ax, (name, vals)) in enumerate(zip(axes, spectra.items(), strict=True)):
        top = np.maximum(vals[: K * K + 2 * K], 1e-16 * vals[0])
        index = np.arange(1, top.size + 1)
        ax.semilogy(index, top, ".", color=style.BULK)
        found = hessian.outlier_count(vals, K * K + K)
        ax.semilogy(index[:found], top[:found], ".", color=style.OUTLIER)
        ax.axvline(K * K + 0.5, color=style.BULK, ls=":")
        ax.axvline(found + 0.5, color=style.OUTLIER, lw=0.8, ls="--")
        ax.annotate(
            f"{found}",
            (found + 0.5, 0.5),
            xycoords=("data", "axes fraction"),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            color=style.OUTLIER,
            fontsize=11,
            fontweight="bold",
            gid="outlier count",
        )
        ax.set_title(
            "Hess$_l$" if name == "Hess" else f"Hess$_l$ − G$_{{{name.split()[1]}}}$",
            fontsize=10,
        )
        if i + cols >= len(spectra):
            ax.set_xlabel("index $i$")
        if i % cols == 0:
            ax.set_ylabel("$\\lambda_i$ (log)")
    handles = [
        Line2D([], [], ls="none", marker=".", color=style.OUTLIER, label="above the largest gap"),
        Line2D([], [], ls="none", marker=".", color=style.BULK, label="below it"),
        Line2D([], [], color=style.BULK, ls=":", label=f"$K^2$ = {K * K}"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=style.MIN_FONT)
    fig.suptitle(f"Papyan knockouts, layer {layer}, residual network on MNIST")
    return fig


@figure("A", "whole-network Hessian (later version's open question)")
def realnet_full_hessian_top(result=None, whole=None, profile=None):
    """Top eigenvalues of the Hessian over all the network's parameters beside its head's.

    Left, on a log axis: the top eigenvalues of the whole network's Hessian (feature map and
    head, :func:`dnc.experiments.realnet.full_hessian`), of the Hessian over the head's weights
    alone, and of each single layer Hess_l, for the MSE network of seed 0. Right: the share of
    each of the whole Hessian's top eigenvectors that lies on the head's weights (log axis).
    """
    result = _measured(result, profile)
    whole = whole or experiments.full_hessian(experiments.setting(profile))
    H1, Ws = result["params"][0]
    k = whole["values"].size
    head = full_hessian.full_hessian_top_eigenvalues(H1, Ws, k)
    fig, axes = style.new(ncols=2, width=3.2, height=3.3)
    ax = axes[0, 0]
    i = np.arange(1, k + 1)
    ax.semilogy(i, whole["values"], "o-", color=style.PALETTE[0], ms=3, label="whole network")
    ax.semilogy(i, head, "s-", color=style.PALETTE[1], ms=3, label="head only")
    for l in range(1, len(Ws) + 1):
        spec = hessian.layer_hessian_spectrum(H1, Ws, l)[:k]
        ax.semilogy(i, spec, "-", color=style.PALETTE[1 + l], lw=0.8, label=f"Hess$_{l}$")
    ax.set_xlabel("eigenvalue index")
    ax.set_ylabel("eigenvalue (log)")
    ax.set_xticks(i[::2] if k > 8 else i)
    fig.legend(loc="outside lower center", ncols=3, fontsize=style.MIN_FONT)
    ax = axes[0, 1]
    ax.semilogy(i, whole["head_share"], "o", color=style.PALETTE[0], ms=3)
    ax.set_xticks(i[::2] if k > 8 else i)
    ax.set_xlabel("eigenvector of the whole Hessian")
    ax.set_ylabel("share on the head's weights (log)", fontsize=style.MIN_FONT)
    fig.suptitle("Hessian over all parameters (MSE, seed 0)")
    return fig
