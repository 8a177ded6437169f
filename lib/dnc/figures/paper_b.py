"""Figures 1–4 of paper B: NC1 per MLP layer part, Deep RFM Grams and NC per layer, ReLU distances."""

from __future__ import annotations

import numpy as np

from .. import deep_rfm_experiments as ex
from .. import rfm
from . import style
from .registry import figure


@figure("B", 1)
def mlp_layer_nc1_decomposition(result=None, profile=None):
    """NC1 (tr Σ_W / tr Σ_B) of each MLP layer's input, after S Vᵀ, after U and ReLU: paper B, Figure 1."""
    result = result if result is not None else ex.mlp_run(profile)
    dec = np.asarray(result["decomposition"])
    depth = dec.shape[0]
    fig, ax = style.new(width=5.5)
    ax = ax[0, 0]
    x = np.arange(depth)
    labels = ("input $h_{l-1}$", r"after $S_l V_l^\top$", r"after $U_l$ and ReLU")
    for j, label in enumerate(labels):
        ax.bar(x + (j - 1) * 0.27, dec[:, j], width=0.27, color=style.PALETTE[j], label=label)
    ax.set_yscale("log")
    ax.set_xticks(x, [f"layer {l + 1}" for l in x])
    ax.set_ylabel(r"NC1 $=\mathrm{tr}\,\Sigma_W / \mathrm{tr}\,\Sigma_B$")
    ax.legend()
    return fig


@figure("B", 2)
def deep_rfm_feature_grams(result=None, profile=None):
    """Gram matrices of centred, normalised Deep RFM features at several layers: paper B, Figure 2."""
    result = result if result is not None else ex.deep_rfm_run("digits", profile)
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
def deep_rfm_nc_per_layer(result=None, profile=None):
    """NC1 and NC2 of Deep RFM per layer, split into the AGOP step and the random-feature step: paper B, Figure 3."""
    result = result if result is not None else ex.deep_rfm_run("digits", profile)
    fig, axes = style.new(ncols=2, width=4.2)
    for ax, metric in zip(axes[0], ("nc1", "nc2"), strict=True):
        before, after = np.asarray(result[f"{metric}_in"]), np.asarray(result[f"{metric}_agop"])
        L = before.size
        # interleave: X_l (input, after the random features of layer l−1), then M_l^{1/2} X_l
        x = np.arange(2 * L) / 2
        ax.semilogy(x, np.ravel(np.column_stack([before, after])), color=style.BULK, lw=0.8)
        ax.semilogy(np.arange(L), before, "o", color=style.PALETTE[0], label=r"$X_l$ (after RF)")
        ax.semilogy(np.arange(L) + 0.5, after, "s", color=style.PALETTE[1],
                    label=r"$M_l^{1/2} X_l$ (after AGOP)")  # fmt: skip
        ax.set_xlabel("layer $l$")
        ax.set_ylabel("NC1 (trace ratio)" if metric == "nc1" else "NC2 (ETF)")
    axes[0, 0].legend()
    return fig


@figure("B", 4)
def random_feature_distance_ratio(profile=None, points: int = 400):
    """Expected distance of ReLU random features vs input distance, and their ratio: paper B, Figure 4."""
    delta = np.linspace(1e-3, 2, points)
    dist = rfm.relu_feature_distance(delta)
    fig, axes = style.new(ncols=2, width=3.8)
    axes[0, 0].plot(
        delta, dist, color=style.PALETTE[0], label=r"$\sqrt{E\|\sigma(Wx)-\sigma(Wy)\|^2}$"
    )
    axes[0, 0].plot(delta, delta / np.sqrt(2), "--", color=style.BULK, label=r"$\delta/\sqrt{2}$")
    axes[0, 0].set_xlabel(r"input distance $\delta = \|x - y\|$")
    axes[0, 0].set_ylabel("feature distance")
    axes[0, 0].legend()
    axes[0, 1].plot(delta, dist / delta, color=style.PALETTE[1])
    axes[0, 1].axhline(1 / np.sqrt(2), ls=":", color=style.BULK)
    axes[0, 1].axhline(1.0, ls=":", color=style.BULK)
    axes[0, 1].set_xlabel(r"input distance $\delta$")
    axes[0, 1].set_ylabel("ratio feature / input distance")
    return fig


@figure("book")
def nfa_over_training(result=None, profile=None):
    """NFA correlation ρ(W_lᵀW_l, AGOP_l^{1/2}) of every MLP layer over training (paper B, App. B.3)."""
    result = result if result is not None else ex.mlp_run(profile)
    epochs, nfa = np.asarray(result["history_epoch"]), np.asarray(result["history_nfa"])
    fig, ax = style.new(width=5.0)
    ax = ax[0, 0]
    for l in range(nfa.shape[1]):
        name = "readout" if l == nfa.shape[1] - 1 else f"layer {l + 1}"
        ax.plot(epochs, nfa[:, l], "o-", ms=3, color=style.PALETTE[l], label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"$\rho(W_l^\top W_l,\ \mathrm{AGOP}_l^{1/2})$")
    ax.legend(ncol=2)
    return fig
