"""The summary figure of :func:`dnc.probe.measure`: collapse, curvature and features per layer."""

from __future__ import annotations

import numpy as np

from dnc.experiments import probe_mlp
from dnc.figures import style
from dnc.figures.registry import figure


def _reports(result, profile):
    if result is None:
        return probe_mlp.reports(probe_mlp.setting(profile))
    return [result] if hasattr(result, "layers") else list(result)


@figure("book")
def probe_summary(result=None, profile=None):
    """What the probe found, layer by layer: NC1, the top of each layer Hessian, and alignment.

    ``result`` is one :class:`dnc.probe.Report` or a list of them (seeds; default: the chapter
    "Measure your own network"'s MLP). Left: NC1 = tr Σ_W / tr Σ_B of each layer's input on the
    training data (filled) and held out (hollow), log axis. Middle: the first report's top Hessian
    eigenvalues of each layer over its own λ_1, log axis, with K² marked. Right: the share of the
    top eigenvectors in the predicted span (Theorem 4.1) and the NFA correlation ρ(WᵀW, AGOP^{1/2}).
    """
    reports = _reports(result, profile)
    names = list(reports[0].layers)
    K = reports[0].K
    x = np.arange(1, len(names) + 1)
    fig, axes = style.new(3, 1, width=style.COLUMN_WIDTH / 3, height=3.0)
    ax_nc, ax_hess, ax_align = axes[0]
    for b, report in enumerate(reports):
        color = style.PALETTE[b]
        table = report.table()
        ax_nc.semilogy(x, table["nc1_ratio"], "o-", color=color, ms=4)
        if "heldout_nc1_ratio" in table:
            ax_nc.semilogy(x, table["heldout_nc1_ratio"], "o--", color=color, ms=4, mfc="none")
        ax_align.plot(x, table["hess_overlap"], "s-", color=color, ms=4)
        ax_align.plot(x, table["nfa"], "^:", color=color, ms=4)
    ax_nc.set_xlabel("layer")
    ax_nc.set_ylabel(r"NC1 tr$\Sigma_W$/tr$\Sigma_B$ (log)")
    ax_nc.set_title("collapse")
    for l, name in enumerate(names):
        top = np.asarray(reports[0].layers[name]["hessian_top"], dtype=float)
        ax_hess.semilogy(np.arange(1, top.size + 1), np.maximum(top / top[0], 1e-12), ".-",
                         color=style.PALETTE[l], ms=2, lw=0.8, label=f"layer {l + 1}")  # fmt: skip
    ax_hess.axvline(K * K, color="0.4", lw=0.8, ls="--")
    ax_hess.set_xlabel(f"index ($K^2$ = {K * K} dashed)")
    ax_hess.set_ylabel(r"$\lambda_i/\lambda_1$ (log)")
    ax_hess.set_title("Hessian top")
    ax_hess.legend(fontsize=style.MIN_FONT, loc="lower left")
    ax_align.set_ylim(-0.02, 1.02)
    ax_align.set_xlabel("layer")
    ax_align.set_title("alignment")
    ax_align.plot([], [], "ks-", ms=4, label="top in span")
    ax_align.plot([], [], "k^:", ms=4, label="NFA ρ")
    ax_align.legend(fontsize=style.MIN_FONT, loc="lower left")
    ax_nc.plot([], [], "ko-", ms=4, label="training")
    ax_nc.plot([], [], "ko--", ms=4, mfc="none", label="held out")
    ax_nc.legend(fontsize=style.MIN_FONT, loc="lower left")
    for ax in (ax_nc, ax_align):
        ax.set_xticks(x)
    return fig
