"""Figures of paper A for the gradients, weights and other matrices of the deep linear UFM.

They come from §5 and App. G.1 of paper A, one function per figure.
"""

from __future__ import annotations

from dnc.figures import style
from dnc.figures._common import deep_linear_run, figure_layer
from dnc.figures.registry import figure
from dnc.spectra import gradients, matrices
from dnc.ufm import tracking

COEFFICIENT_FLOOR = 1e-16  # f̃_cc' below this is round-off; drawn at the floor on a log axis


def _spectra_figure(result, setting, epochs, l, spectrum, n_outliers, name):
    c = result.config
    title = f"Spectrum of {name}, deep linear UFM (d={c.d}, L={c.L}, l={l})"
    epochs = setting.figure_epochs if epochs is None else epochs
    return style.spectra_over_epochs(result, epochs, spectrum, n_outliers, title)


@figure("A", 7)
def gradient_natural_basis_coefficients(result=None, profile=None, *, epochs=None, layer=None):
    """Coefficients f̃_cc' of g̃^(l) on μ_c^(l+1) ⊗ μ_c'^(l) over early training.

    Paper A, Figure 7, on a log value axis: the off-diagonal coefficients decay towards zero
    through several decades, which a linear axis (the paper's) flattens onto 0. Values below
    :data:`COEFFICIENT_FLOOR` are drawn at it. The legend names the two families of lines,
    diagonal (solid) and off-diagonal (dashed), and 1/K (dotted).
    """
    setting, result = deep_linear_run(result, profile)
    K, l = result.config.K, figure_layer(setting, layer)
    epochs, f = tracking.over_snapshots(
        result,
        lambda H, Ws: gradients.natural_basis_coefficients(H, Ws, l),
        style.check_epochs(result, setting.early_epochs if epochs is None else epochs),
    )
    fig, _ = style.pairwise_over_epochs(
        epochs,
        f,
        "\\tilde f",
        emphasise_diagonal=True,
        log_floor=COEFFICIENT_FLOOR,
        reference=(1 / K, "$1/K$"),
    )
    return fig


@figure("A", 8)
def weight_gram_spectra_over_training(
    result=None, profile=None, *, epochs=None, layer=None, n_outliers=None
):
    """Top K eigenvalues of W_lᵀW_l and its bulk edge over training, log spectra.

    Paper A, Figure 8.
    """
    setting, result = deep_linear_run(result, profile)
    l = figure_layer(setting, layer)
    return _spectra_figure(
        result,
        setting,
        epochs,
        l,
        lambda H, Ws: matrices.weight_gram_spectrum(Ws[l - 1]),
        result.config.K if n_outliers is None else n_outliers,
        f"$W_{l}^\\top W_{l}$",
    )


@figure("A", 12)
def gradient_covariance_spectra_over_training(
    result=None, profile=None, *, epochs=None, layer=None, n_outliers=None
):
    """Top K−1 eigenvalues of the gradient covariance C^(l) and its bulk edge, log spectra.

    Paper A, Figure 12.
    """
    setting, result = deep_linear_run(result, profile)
    l = figure_layer(setting, layer)
    return _spectra_figure(
        result,
        setting,
        epochs,
        l,
        lambda H, Ws: matrices.gradient_covariance_spectrum(H, Ws, l),
        result.config.K - 1 if n_outliers is None else n_outliers,
        f"$C^{{({l})}}$",
    )


@figure("A", 13)
def backprop_error_spectra_over_training(
    result=None, profile=None, *, epochs=None, layer=None, n_outliers=None
):
    """Top K eigenvalues of the backpropagated-error moment Δ^(l) and its bulk edge, log spectra.

    Paper A, Figure 13.
    """
    setting, result = deep_linear_run(result, profile)
    l = figure_layer(setting, layer)
    return _spectra_figure(
        result,
        setting,
        epochs,
        l,
        lambda H, Ws: matrices.backprop_second_moment_spectrum(H, Ws, l),
        result.config.K if n_outliers is None else n_outliers,
        f"$\\Delta^{{({l})}}$",
    )


@figure("A", 14)
def feature_gram_spectra_over_training(
    result=None, profile=None, *, epochs=None, layer=None, n_outliers=None
):
    """Top K eigenvalues of the feature Gram H^(l)ᵀH^(l) and its bulk edge, log spectra.

    Paper A, Figure 14.
    """
    setting, result = deep_linear_run(result, profile)
    l = figure_layer(setting, layer)
    return _spectra_figure(
        result,
        setting,
        epochs,
        l,
        lambda H, Ws: matrices.feature_gram_spectrum(H, Ws, l),
        result.config.K if n_outliers is None else n_outliers,
        f"$H^{{({l})\\top}}H^{{({l})}}$",
    )


@figure("book")
def gradient_top_fraction_over_training(result=None, profile=None, *, epochs=None, layer=None):
    """Gur-Ari et al.'s f_top of g̃^(l) and of the full g^(l) over training.

    f_top is the share of the gradient in the top K² eigenspace of Hess_l, at ``epochs``
    (default: the setting's positive log-spaced snapshots).
    """
    setting, result = deep_linear_run(result, profile)
    l = figure_layer(setting, layer)
    lam = result.config.lambda_W_list[l - 1]
    if epochs is None:
        epochs = [e for e in setting.log_epochs if e > 0]  # a log axis: initialisation left out
    epochs = style.check_epochs(result, epochs)
    fig, ax = style.new(width=5.0)
    ax = ax[0, 0]
    for part, label, color in (
        (0.0, "data part $\\tilde g$", style.OUTLIER),
        (lam, "full $g$", style.BULK),
    ):
        _, f = tracking.over_snapshots(
            result, lambda H, Ws, p=part: gradients.top_fraction(H, Ws, l, p), epochs
        )
        ax.plot(epochs, f, color=color, lw=1.5, label=label)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("epoch (symlog)")
    ax.set_ylabel("$f_{top} = \\|P_{top} g\\|^2 / \\|g\\|^2$")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=style.MIN_FONT)
    return fig
