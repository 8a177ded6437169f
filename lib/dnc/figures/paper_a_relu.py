"""Figures of paper A for the ReLU deep UFM (§5.2), one function per figure."""

from __future__ import annotations

import numpy as np

from dnc.experiments import paper_a as experiments
from dnc.figures import style
from dnc.figures._common import figure_layer
from dnc.figures.paper_a import knockout_figure
from dnc.figures.registry import figure
from dnc.spectra import hessian, matrices
from dnc.ufm import collapse, tracking


def _relu(result, profile):
    setting = experiments.relu_setting(profile if result is None else None)
    return setting, result or experiments.run(setting)


@figure("A", 9)
def relu_hessian_outliers_over_training(
    result=None, profile=None, *, epochs=None, layer=None, n_outliers=None
):
    """Top K² eigenvalues of the ReLU UFM's Hess_l and its bulk edge over training, log spectra.

    Paper A, Figure 9.
    """
    setting, result = _relu(result, profile)
    c, l = result.config, figure_layer(setting, layer)
    return style.spectra_over_epochs(
        result,
        setting.figure_epochs if epochs is None else epochs,
        lambda H, Ws: hessian.layer_hessian_spectrum(H, Ws, l, "relu"),
        c.K * c.K if n_outliers is None else n_outliers,
        f"Spectrum of Hess$_{l}$, ReLU deep UFM (d={c.d}, L={c.L})",
    )


@figure("A", 10)
def relu_hessian_knockouts(result=None, profile=None, *, epoch=None, layer=None):
    """Log spectra of the ReLU UFM's Hess_l and its Papyan knockouts, expected outliers red.

    Paper A, Figure 10. At the end of training by default (``epoch``); each panel colours its own
    expected count.
    """
    setting, result = _relu(result, profile)
    l = figure_layer(setting, layer)
    epoch = style.check_epochs(result, [result.epochs if epoch is None else epoch])[0]
    spectra = hessian.knockout_spectra(*result.params(epoch), l, "relu")
    title = f"Knockouts, ReLU deep UFM, layer {l}, epoch {epoch}"
    return knockout_figure(spectra, result.config.K, title, top_only=False)


@figure("A", 11)
def relu_weight_spectra_over_training(
    result=None, profile=None, *, epochs=None, layer=None, n_outliers=None
):
    """Top K eigenvalues of the ReLU UFM's W_lᵀW_l and its bulk edge over training, log spectra.

    Paper A, Figure 11.
    """
    setting, result = _relu(result, profile)
    c, l = result.config, figure_layer(setting, layer)
    return style.spectra_over_epochs(
        result,
        setting.figure_epochs if epochs is None else epochs,
        lambda H, Ws: matrices.weight_gram_spectrum(Ws[l - 1]),
        c.K if n_outliers is None else n_outliers,
        f"Spectrum of $W_{l}^\\top W_{l}$, ReLU deep UFM",
    )


def convergence_tracks(result, layer: int) -> dict[str, np.ndarray]:
    """Outlier spreads and NC1 of layer l over the logged snapshots (epoch 0 left out).

    The spread (max/min) of the top K² eigenvalues of Hess_l, of the top K eigenvalues of
    W_lᵀW_l, and NC1 (‖Σ_W Σ_B^†‖_F²) of the input of layer l.
    """
    K = result.config.K

    def measure(H, Ws):
        top = hessian.layer_hessian_spectrum(H, Ws, layer, "relu")[: K * K]
        weights = matrices.weight_gram_spectrum(Ws[layer - 1])[:K]
        nc1 = collapse.dnc_report(H, Ws, "relu")["nc1"][layer - 1]
        return [top.max() / top.min(), weights.max() / weights.min(), nc1]

    epochs, values = tracking.over_snapshots(result, measure)
    keep = epochs > 0
    return {
        "epochs": epochs[keep],
        "hessian_spread": values[keep, 0],
        "weight_spread": values[keep, 1],
        "nc1": values[keep, 2],
    }


@figure("book")
def relu_outlier_convergence(result=None, profile=None, tracks=None, *, layer=None):
    """Spread of the top K² Hessian and top K weight eigenvalues, and NC1, over the ReLU run.

    The whole run is shown, from the first logged epoch after initialisation to the last.
    """
    setting, result = _relu(result, profile)
    tracks = tracks or convergence_tracks(result, figure_layer(setting, layer))
    fig, axes = style.new(ncols=2, width=3.2)
    ax = axes[0, 0]
    ax.loglog(
        tracks["epochs"],
        tracks["hessian_spread"] - 1,
        color=style.OUTLIER,
        label="Hess$_l$: top $K^2$ max/min − 1",
    )
    ax.loglog(
        tracks["epochs"],
        tracks["weight_spread"] - 1,
        color=style.PALETTE[0],
        label="$W_l^\\top W_l$: top $K$ max/min − 1",
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("relative spread of the outliers")
    ax.legend(fontsize=style.MIN_FONT)
    ax = axes[0, 1]
    ax.loglog(tracks["epochs"], np.maximum(tracks["nc1"], 1e-300), color=style.BULK)
    ax.set_xlabel("epoch")
    ax.set_ylabel("NC1 (Frobenius) of the layer input")
    return fig
