"""The book's evidence figures for paper A's open questions, one function per figure.

The (λ, d) phase diagram of the deep UFM (the later version's next checks 1 and 2) and the
effective rank over training (its open question 3).
"""

from __future__ import annotations

from matplotlib.ticker import LogLocator, NullFormatter, NullLocator, ScalarFormatter

from dnc.experiments import paper_a as experiments
from dnc.figures import style
from dnc.figures.registry import figure
from dnc.spectra import effective_rank
from dnc.ufm import outcomes as phase
from dnc.ufm import regularisation_ratio

_MARKERS = {
    "collapsed optimum": ("o", style.PALETTE[2]),
    "collapsed local minimum": ("s", style.PALETTE[1]),
    "rank-deficient optimum (d < K)": ("D", style.PALETTE[4]),
    "rank-deficient stationary point": ("^", style.PALETTE[3]),
    "zero solution": ("x", "k"),
    "not converged": ("$?$", style.BULK),
}


def _phase_figure(activation: str, classes, profile):
    s = experiments.phase_setting(profile)
    classes = classes or phase.classify_runs(
        experiments.phase_runs(activation, profile), s["ratios"]
    )
    fig, axes = style.new(width=style.COLUMN_WIDTH, height=4.4)
    ax = axes[0, 0]
    ratio, widths = classes["ratio"], classes["width"]
    end = experiments.branch_end_ratio(s["K"], s["n"], s["L"])
    ax.axvspan(ratio.min() / 1.5, 1.0, color=style.PALETTE[2], alpha=0.08, lw=0)
    ax.axvline(1.0, color=style.BULK, ls=":", label="bound of the regularisation condition")
    ax.axvline(end, color=style.BULK, ls="--", label="end of the local branch")
    seen = set()
    for i in range(len(widths)):
        for j in range(len(ratio)):
            name = classes["outcome"][i, j]
            marker, color = _MARKERS[name]
            kw = {"label": name} if name not in seen else {}
            seen.add(name)
            hollow = marker not in ("x", "$?$")
            ax.plot(
                ratio[j],
                i,
                ls="none",
                marker=marker,
                color=color,
                ms=7,
                mfc="none" if hollow else color,
                **kw,
            )
            if name != classes["predicted"][i, j]:
                ax.plot(
                    ratio[j],
                    i,
                    "s",
                    ms=12,
                    mfc="none",
                    mec="k",
                    mew=0.8,
                    label="ends off the closed form's optimum" if "off" not in seen else None,
                )
                seen.add("off")
    ax.set_xscale("log")
    R1 = regularisation_ratio(s["K"], s["n"], [1.0] * s["L"], 1.0)  # the ratio at λ = 1
    q = s["L"] + 1
    top = ax.secondary_xaxis(
        "top", functions=(lambda r: (r / R1) ** (1 / q), lambda lam: R1 * lam**q)
    )
    top.set_xlabel("common λ")
    top.xaxis.set_major_locator(LogLocator(base=10.0, numticks=4))  # a few decades, no overlap
    top.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(range(len(widths)), [f"d = {d}" for d in widths])
    ax.set_ylim(-0.6, len(widths) - 0.4)
    ax.set_xlabel("regularisation condition: left side / right side")
    ax.set_title(
        f"{dict(linear='linear', relu='ReLU')[activation]} deep UFM, K = {s['K']}, n = {s['n']},"
        f" L = {s['L']}, {s['epochs']} epochs",
        fontsize=10,
    )
    fig.legend(loc="outside lower center", ncols=2, fontsize=style.MIN_FONT)
    return fig


@figure("book")
def linear_phase_diagram(classes=None, profile=None):
    """Where gradient descent ends on the deep linear UFM over λ and width d, vs the closed form.

    Shaded: the global optimum is collapsed; a red dot marks a run that is not where it predicts.
    """
    return _phase_figure("linear", classes, profile)


@figure("book")
def relu_phase_diagram(classes=None, profile=None):
    """Where gradient descent ends on the ReLU deep UFM over λ and width d, vs the linear model.

    The comparison is with the closed form of the linear model (shaded: its global optimum is
    collapsed).
    """
    return _phase_figure("relu", classes, profile)


@figure("book")
def effective_rank_over_training(linear=None, relu=None, profile=None):
    """Effective rank of W_lᵀW_l and Hess_l over training in the linear and ReLU deep UFM.

    Drawn with the collapsed optimum's values K and K² (paper A later version, App. G.2).
    """
    runs = {}
    for name, tracks, setting in (
        ("linear", linear, experiments.deep_linear_setting(profile)),
        ("ReLU", relu, experiments.relu_setting(profile)),
    ):
        runs[name] = tracks or effective_rank.tracks(experiments.run(setting), setting.layer)
    K = experiments.relu_setting(profile).config.K
    fig, axes = style.new(ncols=2, width=3.2)
    for ax, (name, tr) in zip(axes[0], runs.items(), strict=True):
        ax.semilogx(tr["epochs"], tr["weights"], color=style.PALETTE[0], label="$W_l^\\top W_l$")
        ax.semilogx(tr["epochs"], tr["hessian"], color=style.OUTLIER, label="Hess$_l$")
        ax.axhline(K, color=style.PALETTE[0], ls=":", lw=1, label="$K$")
        ax.axhline(K * K, color=style.OUTLIER, ls=":", lw=1, label="$K^2$")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("epoch")
        ax.set_title(f"{name} deep UFM")
    axes[0, 0].set_ylabel("effective rank")
    axes[0, 0].legend(fontsize=style.MIN_FONT)
    return fig
