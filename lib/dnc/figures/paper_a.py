"""Figures of paper A (Garrod & Keating) for the deep linear UFM, one function per figure."""

from __future__ import annotations

import numpy as np

from dnc.experiments import paper_a as experiments
from dnc.figures import style
from dnc.figures._common import deep_linear_run, figure_layer
from dnc.figures.registry import figure
from dnc.spectra import hessian, predictions
from dnc.ufm import linear_optimum, optimal_loss, tracking


@figure("A", 3)
def hessian_outliers_over_training(
    result=None, profile=None, *, epochs=None, layer=None, n_outliers=None
):
    """Top K² eigenvalues of Hess_l and its bulk edge over training, log spectra at several epochs.

    Paper A, Figure 3. ``epochs``: the histogram panels (default the setting's); ``n_outliers``:
    the count drawn red (default K²); ``layer``: l (default the setting's).
    """
    setting, result = deep_linear_run(result, profile)
    c, l = result.config, figure_layer(setting, layer)
    return style.spectra_over_epochs(
        result,
        setting.figure_epochs if epochs is None else epochs,
        lambda H, Ws: hessian.layer_hessian_spectrum(H, Ws, l),
        c.K * c.K if n_outliers is None else n_outliers,
        f"Spectrum of Hess$_{l}$, deep linear UFM (d={c.d}, L={c.L})",
    )


@figure("A", 4)
def predicted_eigenvector_alignment(result=None, profile=None, *, epochs=None, layer=None):
    """Alignment f_cc' of μ_c^(l+1) ⊗ μ_c'^(l) with Hess_l over early training.

    Paper A, Figure 4.
    """
    setting, result = deep_linear_run(result, profile)
    l = figure_layer(setting, layer)
    epochs, f = tracking.over_snapshots(
        result,
        lambda H, Ws: predictions.predicted_alignments(H, Ws, l),
        style.check_epochs(result, setting.early_epochs if epochs is None else epochs),
    )
    return style.pairwise_over_epochs(epochs, f, "f")[0]


def knockout_outlier_counts(K: int) -> dict[str, int]:
    """Outliers each knockout spectrum should show (paper A §4.1, App. B), by spectrum name.

    Hess_l has K², removing G_class leaves K(K−1) (the cross-class part), removing G_cross leaves
    K (the class means), removing G_within leaves all K² (the within-class part only feeds the
    bulk).
    """
    return {"Hess": K * K, "minus class": K * (K - 1), "minus cross": K, "minus within": K * K}


def knockout_title(name: str, count: int) -> str:
    """Panel title: the spectrum (Hess_l, or Hess_l − G_part) and its expected outlier count."""
    what = "Hess$_l$" if name == "Hess" else f"Hess$_l$ − G$_{{{name.split()[1]}}}$"
    return f"{what}: {count} expected"


def knockout_figure(spectra: dict, K: int, title: str, top_only: bool):
    """One panel per knockout spectrum, its expected outliers (:func:`knockout_outlier_counts`) red.

    The four panels are a 2 × 2 grid that fits the book's column. Each is a histogram on a log
    axis with the red count written above the red bars, or (``top_only``) the top K² + 3
    eigenvalues as bars. Raises ValueError unless ``spectra`` holds exactly the four knockout
    spectra.
    """
    counts = knockout_outlier_counts(K)
    if set(spectra) != set(counts):
        raise ValueError(f"knockout spectra must be {sorted(counts)}, got {sorted(spectra)}")
    floor = style.spectrum_floor(spectra.values())
    edges = style.log_bins(floor, max(float(v.max()) for v in spectra.values()))
    fig, axes = style.new(ncols=2, nrows=2, width=3.2, height=2.3, sharex=True, sharey=not top_only)
    for i, (ax, (name, vals)) in enumerate(zip(axes.flat, spectra.items(), strict=True)):
        ax.set_label(f"knockout {name}")
        style.spectrum_panel(
            ax,
            vals,
            counts[name],
            knockout_title(name, counts[name]),
            floor=floor,
            edges=edges,
            top=K * K + 3 if top_only else None,
        )
        if i < 2:
            ax.set_xlabel("")
        if i % 2:
            ax.set_ylabel("")
        elif not top_only:
            ax.set_ylabel("count (log)")
    label = "expected outliers" if top_only else "expected outliers (count above)"
    style.spectrum_legend(fig, floor, label)
    fig.suptitle(title)
    return fig


def _knockout_epoch(result, setting, epoch, which):
    return style.check_epochs(result, [setting.knockout_epochs[which] if epoch is None else epoch])[
        0
    ]


@figure("A", 5)
def hessian_knockouts_early(result=None, profile=None, *, epoch=None, layer=None):
    """Log spectra of Hess_l and its knockouts early in training, expected outliers red.

    Paper A, Figure 5. Each panel colours its own expected count
    (:func:`knockout_outlier_counts`).
    """
    setting, result = deep_linear_run(result, profile)
    epoch, l = _knockout_epoch(result, setting, epoch, 0), figure_layer(setting, layer)
    spectra = hessian.knockout_spectra(*result.params(epoch), l)
    title = f"Knockouts of Papyan's components, layer {l}, epoch {epoch}"
    return knockout_figure(spectra, result.config.K, title, top_only=False)


@figure("A", 6)
def hessian_knockouts_late(result=None, profile=None, *, epoch=None, layer=None):
    """Top eigenvalues of Hess_l and its knockouts late in training, expected outliers red.

    Paper A, Figure 6. Each panel colours its own expected count
    (:func:`knockout_outlier_counts`), log value axis.
    """
    setting, result = deep_linear_run(result, profile)
    epoch, l = _knockout_epoch(result, setting, epoch, 1), figure_layer(setting, layer)
    spectra = hessian.knockout_spectra(*result.params(epoch), l)
    title = f"Knockouts of Papyan's components, layer {l}, epoch {epoch}"
    return knockout_figure(spectra, result.config.K, title, top_only=True)


@figure("book")
def regularisation_threshold_sweep(sweep=None, profile=None):
    """Learned singular values of W_L⋯W_1H_1 against the closed-form optimum, across condition (2).

    The closed form's global optimum and its nonzero local minimum are drawn over a dense grid
    of ratios, gradient descent's values at the ratios of the sweep.
    """
    sweep = sweep or experiments.regularisation_sweep(profile)
    fig, ax = style.new(width=5.5)
    ax = ax[0, 0]
    ratio = sweep["ratio"]
    dense = np.geomspace(ratio.min(), ratio.max(), 200)
    s = experiments.sweep_setting(profile)

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
    ax.axvline(1.0, color=style.BULK, ls=":", label="bound of the regularisation condition")
    ax.set_xlabel("regularisation condition: left side / right side")
    ax.set_ylabel("singular values of $W_L\\cdots W_1H_1$")
    ax.legend(fontsize=style.MIN_FONT)
    return fig


@figure("book")
def loss_against_optimum(result=None, profile=None):
    """Relative gap between gradient descent's objective and the closed-form optimum."""
    _, result = deep_linear_run(result, profile)
    c = result.config
    best = optimal_loss(c.K, c.n, c.lambda_W_list, c.lambda_H)
    fig, ax = style.new(width=5.0)
    ax = ax[0, 0]
    gap = tracking.relative_gap(result.loss[:, 0], best)
    ax.loglog(np.maximum(result.loss_epochs, 1), np.maximum(gap, 1e-17), color=style.OUTLIER)
    ax.set_xlabel("epoch")
    ax.set_ylabel("(objective − optimum) / optimum")
    return fig
