"""Figures of paper A (Garrod & Keating) for the deep linear UFM, one function per figure."""

from __future__ import annotations

import numpy as np

from .. import experiments, hessian, tracking
from . import style
from .registry import figure


def _deep_linear(result, profile):
    setting = experiments.deep_linear_setting(profile if result is None else None)
    if result is not None:
        setting = experiments.Setting(
            result.config,
            result.epochs,
            result.lr,
            setting.layer,
            setting.figure_epochs,
            setting.early_epochs,
            setting.knockout_epochs,
            setting.log_epochs,
        )
    return setting, result or experiments.run(setting)


def _available(result, epochs):
    have = set(result.snapshot_epochs.tolist())
    return [e for e in epochs if e in have]


@figure("A", 3)
def hessian_outliers_over_training(result=None, profile=None):
    """Bulk and top K² eigenvalues of Hess_l at several epochs (paper A, Figure 3)."""
    setting, result = _deep_linear(result, profile)
    c, l = result.config, setting.layer
    return style.spectra_over_epochs(
        result,
        setting.figure_epochs,
        lambda H, Ws: hessian.layer_hessian_spectrum(H, Ws, l),
        c.K * c.K,
        f"Spectrum of Hess$_{l}$, deep linear UFM (d={c.d}, L={c.L})",
    )


@figure("A", 4)
def predicted_eigenvector_alignment(result=None, profile=None):
    """Alignment f_cc' of μ_c^(l+1) ⊗ μ_c'^(l) with Hess_l over early training (paper A, Figure 4)."""
    setting, result = _deep_linear(result, profile)
    l = setting.layer
    epochs, f = tracking.over_snapshots(
        result,
        lambda H, Ws: hessian.predicted_alignments(H, Ws, l),
        _available(result, setting.early_epochs),
    )
    return style.pairwise_over_epochs(epochs, f, "f")[0]


def _knockout_figure(result, setting, epoch, top_only):
    K, l = result.config.K, setting.layer
    H, Ws = result.params(epoch)
    spectra = hessian.knockout_spectra(H, Ws, l)
    fig, axes = style.new(ncols=len(spectra), width=3.0, height=2.8)
    for ax, (name, vals) in zip(axes[0], spectra.items(), strict=True):
        title = "Hess$_l$" if name == "Hess" else f"Hess$_l$ − G$_{{{name.split()[1]}}}$"
        if top_only:
            top = vals[: K * K + 3]
            ax.bar(np.arange(1, top.size + 1), top, color=style.OUTLIER)
            ax.set_xlabel("index")
            ax.set_title(title)
        else:
            style.spectrum_panel(ax, vals, K * K, title)
    fig.suptitle(f"Knockouts of Papyan's components, layer {l}, epoch {epoch}")
    return fig


@figure("A", 5)
def hessian_knockouts_early(result=None, profile=None):
    """Spectrum of Hess_l and its knockouts early in training (paper A, Figure 5)."""
    setting, result = _deep_linear(result, profile)
    return _knockout_figure(result, setting, setting.knockout_epochs[0], top_only=False)


@figure("A", 6)
def hessian_knockouts_late(result=None, profile=None):
    """Top eigenvalues of Hess_l and its knockouts late in training (paper A, Figure 6)."""
    setting, result = _deep_linear(result, profile)
    return _knockout_figure(result, setting, setting.knockout_epochs[1], top_only=True)


@figure("book")
def regularisation_threshold_sweep(sweep=None, profile=None):
    """Learned singular values of W_L⋯W_1H_1 against the closed-form optimum across condition (2)."""
    sweep = sweep or experiments.regularisation_sweep(profile)
    fig, ax = style.new(width=5.5)
    ax = ax[0, 0]
    ratio = sweep["ratio"]
    dense = np.geomspace(ratio.min(), ratio.max(), 200)
    s = experiments.sweep_setting(profile)
    from ..ufm import linear_optimum

    opt = [
        linear_optimum(s["K"], s["n"], [lam] * s["L"], lam)
        for lam in (experiments.lambda_for_ratio(s["K"], s["n"], s["L"], r) for r in dense)
    ]
    ax.semilogx(dense, [o.product_sv for o in opt], color="k", label="global optimum")
    ax.semilogx(dense, [o.local_sv for o in opt], "k--", lw=1, label="nonzero local minimum")
    for k in range(sweep["s_learned"].shape[1]):
        ax.semilogx(
            ratio,
            sweep["s_learned"][:, k],
            "o",
            color=style.OUTLIER,
            ms=5 - k,
            alpha=0.8,
            label="gradient descent" if k == 0 else None,
        )
    ax.axvline(1.0, color=style.BULK, ls=":", label="condition (2) boundary")
    ax.set_xlabel("left side of (2) / right side")
    ax.set_ylabel("singular values of $W_L\\cdots W_1H_1$")
    ax.legend(fontsize=8)
    return fig


@figure("book")
def loss_against_optimum(result=None, profile=None):
    """Relative gap between gradient descent's objective and the closed-form optimum."""
    from ..ufm import optimal_loss

    _, result = _deep_linear(result, profile)
    c = result.config
    best = optimal_loss(c.K, c.n, c.lambda_W_list, c.lambda_H)
    fig, ax = style.new(width=5.0)
    ax = ax[0, 0]
    gap = tracking.relative_gap(result.loss[:, 0], best)
    ax.loglog(np.maximum(result.loss_epochs, 1), np.maximum(gap, 1e-17), color=style.OUTLIER)
    ax.set_xlabel("epoch")
    ax.set_ylabel("(objective − optimum) / optimum")
    return fig
