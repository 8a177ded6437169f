"""Figures 1–4 of paper B, one function per figure.

NC1 per MLP layer part, Deep RFM Grams and NC per layer, ReLU distances.
"""

from __future__ import annotations

import numpy as np

from dnc.agop import rfm
from dnc.experiments import paper_b as ex
from dnc.figures import style
from dnc.figures.registry import figure


def _runs(result, default):
    """A list of per-seed results: ``result`` may be one run, a list of runs, or None."""
    if result is None:
        return default()
    return list(result) if isinstance(result, list | tuple) else [result]


def _band(ax, x, values, color, label, log=True, **kw):
    """Mean over seeds (axis 0) with a ±1 s.d. band (ddof 1, as :func:`dnc.book.mean_sd`).

    On a log axis the centre is the geometric mean and the band exp(mean ± s.d.) of the logs;
    otherwise the arithmetic mean ± s.d.
    """
    v = np.asarray(values, dtype=np.float64)
    ddof = 1 if v.shape[0] > 1 else 0
    if log:
        lv = np.log(v)
        mean, std = lv.mean(0), lv.std(0, ddof=ddof)
        centre, lo, hi = np.exp(mean), np.exp(mean - std), np.exp(mean + std)
    else:
        centre, std = v.mean(0), v.std(0, ddof=ddof)
        lo, hi = centre - std, centre + std
    ax.plot(x, centre, color=color, label=label, **kw)
    if v.shape[0] > 1:
        ax.fill_between(x, lo, hi, color=color, alpha=0.25, lw=0)


NC1_OURS = r"NC1, ours: $\mathrm{tr}\,\Sigma_W / \mathrm{tr}\,\Sigma_B$"
NC1_AUTHORS = r"NC1, authors' code: $\mathrm{tr}\,\Sigma_W / (K\,\mathrm{tr}\,\Sigma_B)$"
NC2_OURS = "NC2, ours: Frobenius distance of\nnormalised mean Gram from ETF"
NC2_AUTHORS = "NC2, authors' code: mean squared\nerror of mean cosines vs ETF"


def _authors_nc1_axis(ax, K: int):
    """A right-hand axis reading the left one's NC1 (ours) in the authors' normalisation, ÷ K."""
    sec = ax.secondary_yaxis("right", functions=(lambda v: v / K, lambda v: v * K))
    sec.set_ylabel(NC1_AUTHORS)
    return sec


def _classes(runs, K=None) -> int:
    """The number of classes: ``K`` when given, else one more than the runs' largest label."""
    if K is not None:
        return int(K)
    if "labels" not in runs[0]:
        raise ValueError("the runs hold no 'labels': pass the number of classes K")
    return int(np.max(runs[0]["labels"])) + 1


@figure("B", 1)
def mlp_layer_nc1_decomposition(result=None, profile=None, K=None):
    """NC1 (tr Σ_W / tr Σ_B) of each MLP layer's input, after S Vᵀ, after U and ReLU, over training.

    Plotted against the training epochs, geometric mean and ±1 s.d. of the logs over seeds:
    paper B, Figure 1. The left axis reads the book's NC1, the right one the authors' code's
    (÷ K, ``K`` the number of classes, from the runs' labels when not given).
    """
    runs = _runs(result, lambda: ex.mlp_runs(profile))
    epochs = np.asarray(runs[0]["history_epoch"])
    dec = ex.stack(runs, "history_decomposition")  # seeds × records × depth × 3
    depth, K = dec.shape[2], _classes(runs, K)
    fig, axes = style.new(ncols=depth, width=2.5, height=2.6, sharey=True)
    labels = ("input $h_{l-1}$", r"after $S_l V_l^\top$", r"after $U_l$ and ReLU")
    for l, ax in enumerate(axes[0]):
        for j, label in enumerate(labels):
            _band(ax, epochs, dec[:, :, l, j], style.PALETTE[j], label)
        ax.set_yscale("log")
        ax.set_title(f"layer {l + 1}")
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel(NC1_OURS)
    _authors_nc1_axis(axes[0, -1], K)
    axes[0, -1].legend(fontsize=7)
    return fig


@figure("B", 2)
def deep_rfm_feature_grams(result=None, profile=None):
    """Gram matrices of centred, normalised Deep RFM features at several layers.

    Paper B, Figure 2.
    """
    result = result if result is not None else ex.deep_rfm_run("mnist", profile)
    grams, layers = np.asarray(result["grams"]), np.asarray(result["gram_layers"])
    fig, axes = style.new(ncols=len(layers), width=2.6, height=2.6)
    for ax, G, l in zip(axes[0], grams, layers, strict=True):
        im = ax.imshow(G, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
        ax.set_title(f"layer {l + 1} input")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0, -1], shrink=0.8)
    return fig


@figure("B", 3)
def deep_rfm_nc_per_layer(result=None, profile=None, K=None):
    """NC1 and NC2 of Deep RFM per layer, split into the AGOP step and the random-feature step.

    Geometric mean ± s.d. of the logs over seeds: paper B, Figure 3, whose three curves are X_l,
    M_l^{1/2} X_l and σ(W_l M_l^{1/2} X_l) before the next layer renormalises its rows (hollow
    triangles at l + 1, drawn when the runs hold ``<metric>_rf``). NC1 in both normalisations
    (left axis the book's, right axis the authors' code's ÷ K); NC2 in the book's normalisation
    and, when the runs hold ``nc2_authors_in``/``nc2_authors_agop``
    (:func:`dnc.experiments.paper_b.deep_rfm_authors_run`), in the authors' code's.
    """
    runs = _runs(result, lambda: ex.deep_rfm_authors_runs("mnist", profile))
    panels = [("nc1", NC1_OURS), ("nc2", NC2_OURS)]
    if "nc2_authors_in" in runs[0]:
        panels.append(("nc2_authors", NC2_AUTHORS))
    fig, axes = style.new(ncols=len(panels), width=4.3)
    for ax, (metric, ylabel) in zip(axes[0], panels, strict=True):
        before = ex.stack(runs, f"{metric}_in")
        after = ex.stack(runs, f"{metric}_agop")
        L = before.shape[1]
        # interleave: X_l (input, after the random features of layer l−1), then M_l^{1/2} X_l
        x = np.arange(2 * L) / 2
        both = np.stack([before, after], axis=2).reshape(before.shape[0], -1)
        _band(ax, x, both, style.BULK, None, lw=0.8)
        ax.semilogy(np.arange(L), np.exp(np.log(before).mean(0)), "o", color=style.PALETTE[0],
                    label=r"$X_l$ (after RF)")  # fmt: skip
        ax.semilogy(np.arange(L) + 0.5, np.exp(np.log(after).mean(0)), "s",
                    color=style.PALETTE[1], label=r"$M_l^{1/2} X_l$ (after AGOP)")  # fmt: skip
        if f"{metric}_rf" in runs[0]:  # the authors' third curve: before the rows are renormalised
            rf = ex.stack(runs, f"{metric}_rf")
            ax.semilogy(np.arange(L) + 1, np.exp(np.log(rf).mean(0)), "^", mfc="none",
                        color=style.PALETTE[2],
                        label=r"$\sigma(W_l M_l^{1/2} X_l)$ (before renormalising)")  # fmt: skip
        ax.set_xlabel("layer $l$")
        ax.set_ylabel(ylabel)
    _authors_nc1_axis(axes[0, 0], _classes(runs, K))
    axes[0, 0].legend(fontsize=7, loc="lower left")
    return fig


@figure("B", 4)
def random_feature_distance_ratio(profile=None, points: int = 400):
    """RMS distance √E‖σ(Wx) − σ(Wy)‖² of ReLU random features vs input distance, and their ratio.

    Paper B, Figure 4 (from :func:`dnc.agop.rfm.relu_feature_distance`).
    """
    delta = np.linspace(1e-3, 2, points)
    dist = rfm.relu_feature_distance(delta)
    fig, axes = style.new(ncols=2, width=3.8)
    axes[0, 0].plot(
        delta, dist, color=style.PALETTE[0], label=r"$\sqrt{E\|\sigma(Wx)-\sigma(Wy)\|^2}$"
    )
    axes[0, 0].plot(delta, delta / np.sqrt(2), "--", color=style.BULK, label=r"$\delta/\sqrt{2}$")
    axes[0, 0].set_xlabel(r"input distance $\delta = \|x - y\|$")
    axes[0, 0].set_ylabel("RMS feature distance")
    axes[0, 0].legend()
    axes[0, 1].plot(delta, dist / delta, color=style.PALETTE[1])
    axes[0, 1].axhline(1 / np.sqrt(2), ls=":", color=style.BULK)
    axes[0, 1].axhline(1.0, ls=":", color=style.BULK)
    axes[0, 1].set_xlabel(r"input distance $\delta$")
    axes[0, 1].set_ylabel("ratio RMS feature / input distance")
    return fig


@figure("book")
def nfa_over_training(result=None, profile=None):
    """NFA correlations ρ(W_lᵀW_l, AGOP_l) and ρ(W_lᵀW_l, AGOP_l^{1/2}) of the hidden layers.

    Over training, mean ± std over seeds (paper B, App. B.3).
    """
    runs = _runs(result, lambda: ex.mlp_runs(profile))
    epochs = np.asarray(runs[0]["history_epoch"])
    fig, axes = style.new(ncols=2, width=4.2, sharey=True)
    for ax, key, p in zip(
        axes[0], ("history_nfa", "history_nfa_sqrt"), ("", "^{1/2}"), strict=True
    ):
        nfa = ex.stack(runs, key)  # seeds × records × depth
        for l in range(nfa.shape[2]):
            _band(ax, epochs, nfa[:, :, l], style.PALETTE[l], f"layer {l + 1}", log=False)
        ax.set_xlabel("epoch")
        ax.set_title(rf"$\rho(W_l^\top W_l,\ \mathrm{{AGOP}}_l{p})$")
    axes[0, 0].set_ylabel("NFA correlation")
    axes[0, 1].legend(ncol=2, fontsize=7)
    return fig
