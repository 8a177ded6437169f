"""Figures for the later version of paper A.

Cross-entropy spectra and the full Hessian's depth gap, one function per figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from dnc.experiments import paper_a as experiments
from dnc.experiments import paper_a_later as experiments_later
from dnc.figures import style
from dnc.figures.registry import figure
from dnc.spectra import hessian


@figure("book")
def mse_ce_spectra_over_training(mse=None, ce=None, profile=None, epochs=None, layer=None):
    """Top 2K² eigenvalues of Hess_l on a log axis at several epochs, MSE beside cross-entropy.

    Every requested epoch must be a snapshot of both runs (ValueError otherwise).
    """
    setting = experiments.deep_linear_setting(profile)
    mse = mse or experiments.deep_linear_run(profile)
    ce = ce or experiments_later.cross_entropy_run(profile)
    l, K = layer or setting.layer, mse.config.K
    epochs = setting.figure_epochs if epochs is None else epochs
    epochs = style.check_epochs(ce, style.check_epochs(mse, epochs))
    shades = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(epochs)))
    fig, axes = style.new(ncols=2, width=3.2, height=3.2, sharey=True)
    top = 2 * K * K
    for ax, run, loss in ((axes[0, 0], mse, "mse"), (axes[0, 1], ce, "ce")):
        for color, epoch in zip(shades, epochs, strict=True):
            vals = hessian.layer_hessian_spectrum(*run.params(epoch), l, loss=loss)[:top]
            vals = np.maximum(vals, 1e-16 * vals[0])  # round-off zeros at the floor of the axis
            ax.semilogy(
                np.arange(1, top + 1),
                vals,
                "o-",
                ms=3,
                color=color,
                label=f"epoch {epoch}",
                gid=f"{loss} epoch {epoch}",
            )
        for mark in (K, (K - 1) ** 2, K * K):
            ax.axvline(mark + 0.5, color=style.BULK, lw=0.6, ls=":")
        ax.set_title(f"{loss.upper()} loss")
        ax.set_xlabel("index $i$")
    axes[0, 0].set_ylabel(f"$\\lambda_i$(Hess$_{l}$)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(Line2D([], [], color=style.BULK, lw=0.6, ls=":"))
    labels.append("after $K$, $(K-1)^2$, $K^2$")
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=style.MIN_FONT)
    return fig


@figure("book")
def full_hessian_gap_against_depth(sweep=None, profile=None):
    """Relative gap between the top K² eigenvalues of the full Hessian and of Hess_{L,L}, against L.

    Drawn beside Weyl's bound ‖E‖₂/λ_1(Hess_{L,L}) and L̄/L, against the number L of separated
    layers.
    """
    sweep = sweep if sweep is not None else experiments_later.depth_sweep(profile)
    fig, axes = style.new(ncols=2, width=3.2, height=3.2, sharey=True)
    for ax, schedule in zip(axes[0], experiments_later.SCHEDULES, strict=True):
        for i, Lbar in enumerate(sorted(set(sweep["Lbar"].tolist()))):
            pick = (sweep["schedule"] == schedule) & (sweep["Lbar"] == Lbar)
            L = sweep["L"][pick]
            color = style.PALETTE[i]
            ax.loglog(
                L,
                sweep["gap"][pick],
                "o-",
                color=color,
                label=f"gap, $\\bar L$={Lbar}",
                gid=f"gap {schedule} {Lbar}",
            )
            ax.loglog(
                L,
                sweep["bound"][pick],
                "s--",
                color=color,
                mfc="none",
                label="Weyl bound",
                gid=f"bound {schedule} {Lbar}",
            )
            ax.loglog(L, Lbar / L, ":", color=color, lw=1, label="$\\bar L/L$")
        ax.set_xlabel("separated layers $L$")
        ax.set_title(f"{schedule} regularisation")
        ax.set_xticks([1, 2, 3, 4, 6, 10])
        ax.set_xticklabels(["1", "2", "3", "4", "6", "10"])
    axes[0, 0].set_ylabel("relative to $\\lambda_1(\\mathrm{Hess}_{L,L})$")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=style.MIN_FONT)
    return fig


@figure("book")
def full_hessian_inheritance_against_depth(inheritance=None, profile=None):
    """The whole Hessian against one layer's, on log axes, against the total depth T.

    Left: the top K² eigenvalues of the whole Hessian and of the top layer's Hess_T, each over
    its own λ_1, compared (max_i of the difference); middle: the share of the whole Hessian's
    top-K² eigenvectors outside the layer-wise predictions (1 − overlap); right: λ_{K²+1}/λ_{K²}
    of the whole Hessian. One line per regularisation schedule
    (:func:`dnc.experiments.paper_a_later.depth_inheritance`).
    """
    inh = inheritance if inheritance is not None else experiments_later.depth_inheritance(profile)
    fig, axes = style.new(ncols=3, width=style.COLUMN_WIDTH / 3, height=3.0)
    panels = (
        ("deviation", "spectra over their $\\lambda_1$:\nmax difference"),
        ("outside", "1 − overlap with\nlayer-wise predictions"),
        ("separation", "$\\lambda_{K^2+1}/\\lambda_{K^2}$\n(whole Hessian)"),
    )
    values = {
        "deviation": inh["deviation"],
        "outside": np.maximum(1.0 - inh["overlap"], 1e-16),  # round-off at the axis floor
        "separation": inh["next"] / inh["whole"][:, -1],
    }
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for i, schedule in enumerate(experiments_later.SCHEDULES):
            pick = inh["schedule"] == schedule
            ax.semilogy(
                inh["T"][pick],
                values[key][pick],
                "o-",
                ms=3,
                color=style.PALETTE[i],
                label=f"{schedule} $\\lambda$",
                gid=f"{key} {schedule}",
            )
        ax.set_title(title, fontsize=style.MIN_FONT)
        ax.set_xlabel("total depth $T$")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=style.MIN_FONT)
    return fig
