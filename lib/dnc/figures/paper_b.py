"""Figures 1–4 of paper B, one function per figure.

NC1 per MLP layer part, Deep RFM Grams and NC per layer, ReLU distances.
"""

from __future__ import annotations

import numpy as np

from dnc.agop import rfm
from dnc.agop import theory as th
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


NC1_OURS = "NC1, ours"
NC1_AUTHORS = r"NC1, authors' code: $\mathrm{tr}\,\Sigma_W / (K\,\mathrm{tr}\,\Sigma_B)$"
NC2_OURS = "NC2, ours"
NC2_AUTHORS = "NC2, authors' code"


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


STAGES = ("input $h_{l-1}$", r"after $S_l V_l^\top$", r"after $U_l$ and ReLU")


def _stage_grid(epochs, dec, ylabel: str, log: bool = True):
    """One panel per hidden layer (2 rows × 3 columns, the sixth holding the legend).

    ``dec`` is seeds × records × depth × 3: the metric at the three stages of each layer.
    """
    depth = dec.shape[2]
    ncols = 3
    nrows = -(-(depth + 1) // ncols)
    fig, axes = style.new(ncols=ncols, nrows=nrows, width=2.3, height=2.0, sharey=True)
    flat = axes.ravel()
    for l in range(depth):
        ax = flat[l]
        for j, label in enumerate(STAGES):
            _band(ax, epochs, dec[:, :, l, j], style.PALETTE[j], label, log=log)
        if log:
            ax.set_yscale("log")
        ax.set_title(f"layer {l + 1}")
        if l >= depth - ncols:
            ax.set_xlabel("epoch")
    for ax in flat[depth:]:
        ax.axis("off")
    flat[depth].legend(*flat[0].get_legend_handles_labels(), loc="center", frameon=False)
    for row in axes:
        row[0].set_ylabel(ylabel)
    return fig, axes


@figure("B", 1)
def mlp_layer_nc1_decomposition(result=None, profile=None, K=None):
    """NC1 (tr Σ_W / tr Σ_B) of each MLP layer's input, after S Vᵀ, after U and ReLU, over training.

    Plotted against the training epochs, geometric mean and ±1 s.d. of the logs over seeds:
    paper B, Figure 1. The left axes read the book's NC1, the right ones the authors' code's
    (÷ K, ``K`` the number of classes, from the runs' labels when not given).
    """
    runs = _runs(result, lambda: ex.mlp_runs(profile))
    epochs = np.asarray(runs[0]["history_epoch"])
    dec = ex.stack(runs, "history_decomposition")  # seeds × records × depth × 3
    K = _classes(runs, K)
    fig, axes = _stage_grid(epochs, dec, "NC1, ours")
    for row in axes:
        visible = [ax for ax in row if ax.axison]
        _authors_nc1_axis(visible[-1], K).set_ylabel("authors' code (÷ K)")
    return fig


@figure("book")
def mlp_layer_nc2_decomposition(result=None, profile=None):
    """NC2 of each MLP layer's input, after S Vᵀ and after U and ReLU, over training.

    The authors' code's NC2 (:func:`dnc.metrics.nc2_authors`), geometric mean and ±1 s.d. of the
    logs over seeds: the per-layer NC2 split their nc_nn.py computes beside Figure 1's NC1.
    """
    runs = _runs(result, lambda: ex.mlp_runs(profile))
    epochs = np.asarray(runs[0]["history_epoch"])
    dec = ex.stack(runs, "history_nc2_decomposition_authors")
    fig, _ = _stage_grid(epochs, dec, "NC2, authors' code")
    return fig


@figure("B", "App. B.3")
def mlp_variance_and_loss(result=None, profile=None):
    """The last hidden layer's tr Σ_W/tr Σ_T and tr Σ_B/tr Σ_T over training, and the loss.

    Paper B, App. B.3 (its third panel, the NFA correlations, is :func:`nfa_over_training`).
    Solid: the authors' code's normalisation (Σ_W, Σ_T over K·N, Σ_B over K, so its Σ_B ratio
    is K times the between-class share of the variance); dashed: ours, the two shares of
    tr Σ_T, adding up to 1. Loss: the mean minibatch loss of each epoch, as their code logs it.
    Geometric mean ± s.d. of the logs over seeds.
    """
    runs = _runs(result, lambda: ex.mlp_runs(profile))
    epochs = np.asarray(runs[0]["history_epoch"])
    authors = ex.stack(runs, "history_trace_fractions_authors")[:, :, -1, :]  # last layer
    ours = ex.stack(runs, "history_trace_fractions")[:, :, -1, :]
    fig, axes = style.new(ncols=2, width=3.4, height=2.8)
    ax = axes[0, 0]
    names = (r"$\mathrm{tr}\,\Sigma_W / \mathrm{tr}\,\Sigma_T$",
             r"$\mathrm{tr}\,\Sigma_B / \mathrm{tr}\,\Sigma_T$")  # fmt: skip
    for j, name in enumerate(names):
        _band(ax, epochs, authors[:, :, j], style.PALETTE[j], name + " (authors')")
        _band(ax, epochs, ours[:, :, j], style.PALETTE[j], name + " (ours)", ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title("last hidden layer")
    ax.legend(fontsize="small")
    loss = ex.stack(runs, "history_epoch_loss")
    _band(axes[0, 1], np.arange(1, loss.shape[1] + 1), loss, style.PALETTE[3], None)
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_xlabel("epoch")
    axes[0, 1].set_ylabel("training loss (mean MSE)")
    return fig


@figure("B", 2)
def deep_rfm_feature_grams(result=None, profile=None):
    """Gram matrices of centred, normalised Deep RFM features at several layers.

    Paper B, Figure 2.
    """
    result = result if result is not None else ex.deep_rfm_run("mnist", profile)
    grams, layers = np.asarray(result["grams"]), np.asarray(result["gram_layers"])
    rows, cols = style.grid_shape(len(layers))
    fig, axes = style.new(ncols=cols, nrows=rows, width=2.5, height=2.5)
    flat = axes.ravel()
    for ax, G, l in zip(flat, grams, layers, strict=False):
        im = ax.imshow(G, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
        ax.set_title(f"layer {l + 1} input")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in flat[len(layers) :]:
        ax.axis("off")
    fig.colorbar(im, ax=list(flat[: len(layers)]), shrink=0.6)
    return fig


@figure("B", 3)
def deep_rfm_nc_per_layer(result=None, profile=None, K=None):
    """NC1 and NC2 of Deep RFM per layer, split into the AGOP step and the random-feature step.

    Geometric mean ± s.d. of the logs over seeds: paper B, Figure 3, whose three curves are X_l,
    M_l^{1/2} X_l and σ(W_l M_l^{1/2} X_l) before the next layer renormalises its rows (hollow
    triangles at l + 1, drawn when the runs hold ``<metric>_rf``). NC1 in both normalisations
    (left axis the book's, right axis the authors' code's ÷ K); NC2 in the book's normalisation
    and, when the runs hold ``nc2_authors_in``/``nc2_authors_agop``
    (:func:`dnc.experiments.paper_b.deep_rfm_run`), in the authors' code's.
    """
    runs = _runs(result, lambda: ex.deep_rfm_runs("mnist", profile))
    panels = [("nc1", NC1_OURS), ("nc2", NC2_OURS)]
    if "nc2_authors_in" in runs[0]:
        panels.append(("nc2_authors", NC2_AUTHORS))
    fig, grid = style.new(ncols=2, nrows=2, width=3.2, height=2.5)
    axes = grid.ravel()
    for ax in axes[len(panels) :]:
        ax.axis("off")
    for ax, (metric, ylabel) in zip(axes, panels, strict=False):
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
    _authors_nc1_axis(axes[0], _classes(runs, K)).set_ylabel("NC1, authors' code (÷ K)")
    axes[-1].legend(*axes[0].get_legend_handles_labels(), loc="center", frameon=False)
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
    fig, axes = style.new(ncols=2, width=3.4, height=2.8, sharey=True)
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


DECAY_RATIOS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@figure("book")
def nc1_decay_against_depth(sweep=None, ratios=DECAY_RATIOS, real=None, profile=None):
    """NC1 against depth, log axis: Theorem 5.4's Gram recursion and the real Deep RFM.

    Left: NC1 of G̃_l from :func:`dnc.agop.theory.ratio_sweep` at each λ_k/λ_Φ in ``ratios``
    (``sweep``: ratios × layers; None computes it on :func:`dnc.agop.theory.mixture_gram`).
    Right: NC1 of X_l of the real Deep RFM runs on MNIST (one line per seed) with each seed's
    least-squares exponential from layer 2 on (:func:`dnc.agop.theory.exponential_curve`).
    """
    if sweep is None:
        G0, y = th.mixture_gram()
        sweep = th.ratio_sweep(G0, y, ratios)
    runs = _runs(real, lambda: ex.deep_rfm_runs("mnist", profile))
    fig, axes = style.new(ncols=2, width=3.2, height=2.8)
    left, right = axes[0]
    colours = style.PALETTE
    for i, (ratio, curve) in enumerate(zip(ratios, np.asarray(sweep), strict=True)):
        left.semilogy(
            np.arange(1, curve.size + 1), curve, color=colours[i % 10], label=f"{ratio:g}"
        )
    left.legend(title=r"$\lambda_k/\lambda_\Phi$", ncol=2, fontsize="small")
    left.set_title("Gram recursion (Thm 5.4)")
    for i, run in enumerate(runs):
        v = np.asarray(run["nc1_in"])
        layers = np.arange(1, v.size + 1)
        right.semilogy(layers, v, "o", ms=3, color=colours[i], label=f"seed {i}")
        right.semilogy(layers, th.exponential_curve(v), "-", lw=0.8, color=colours[i])
    right.legend(fontsize="small")
    right.set_title("Deep RFM, MNIST")
    for ax in (left, right):
        ax.set_xlabel("layer $l$")
    left.set_ylabel("NC1, ours")
    return fig
