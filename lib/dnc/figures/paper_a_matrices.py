"""Figures of paper A for gradients, weights and the other matrices of the deep linear UFM (§5, App. G.1)."""

from __future__ import annotations

from .. import gradients, matrices, tracking
from . import style
from .paper_a import _available, _deep_linear
from .registry import figure


def _spectra_figure(result, setting, spectrum, n_outliers, name, log):
    c = result.config
    title = f"Spectrum of {name}, deep linear UFM (d={c.d}, L={c.L}, l={setting.layer})"
    return style.spectra_over_epochs(
        result, setting.figure_epochs, spectrum, n_outliers, title, log
    )


@figure("A", 7)
def gradient_natural_basis_coefficients(result=None, profile=None):
    """Coefficients f̃_cc' of g̃^(l) on μ_c^(l+1) ⊗ μ_c'^(l) over early training (paper A, Figure 7)."""
    setting, result = _deep_linear(result, profile)
    K, l = result.config.K, setting.layer
    epochs, f = tracking.over_snapshots(
        result,
        lambda H, Ws: gradients.natural_basis_coefficients(H, Ws, l),
        _available(result, setting.early_epochs),
    )
    fig, ax = style.pairwise_over_epochs(epochs, f, "\\tilde f", emphasise_diagonal=True)
    ax.axhline(1 / K, color="k", lw=0.6, ls=":")
    return fig


@figure("A", 8)
def weight_gram_spectra_over_training(result=None, profile=None):
    """Bulk and top K eigenvalues of W_lᵀW_l at several epochs (paper A, Figure 8)."""
    setting, result = _deep_linear(result, profile)
    l = setting.layer
    return _spectra_figure(
        result,
        setting,
        lambda H, Ws: matrices.weight_gram_spectrum(Ws[l - 1]),
        result.config.K,
        f"$W_{l}^\\top W_{l}$",
        log=False,
    )


@figure("A", 12)
def gradient_covariance_spectra_over_training(result=None, profile=None):
    """Bulk and top K−1 eigenvalues of the gradient covariance C^(l), log scale (paper A, Figure 12)."""
    setting, result = _deep_linear(result, profile)
    l = setting.layer
    return _spectra_figure(
        result,
        setting,
        lambda H, Ws: matrices.gradient_covariance_spectrum(H, Ws, l),
        result.config.K - 1,
        f"$C^{{({l})}}$",
        log=True,
    )


@figure("A", 13)
def backprop_error_spectra_over_training(result=None, profile=None):
    """Bulk and top K eigenvalues of the backpropagated-error moment Δ^(l), log scale (paper A, Figure 13)."""
    setting, result = _deep_linear(result, profile)
    l = setting.layer
    return _spectra_figure(
        result,
        setting,
        lambda H, Ws: matrices.backprop_second_moment_spectrum(H, Ws, l),
        result.config.K,
        f"$\\Delta^{{({l})}}$",
        log=True,
    )


@figure("A", 14)
def feature_gram_spectra_over_training(result=None, profile=None):
    """Bulk and top K eigenvalues of the feature Gram H^(l)ᵀH^(l) at several epochs (paper A, Figure 14)."""
    setting, result = _deep_linear(result, profile)
    l = setting.layer
    return _spectra_figure(
        result,
        setting,
        lambda H, Ws: matrices.feature_gram_spectrum(H, Ws, l),
        result.config.K,
        f"$H^{{({l})\\top}}H^{{({l})}}$",
        log=False,
    )


@figure("book")
def gradient_top_fraction_over_training(result=None, profile=None):
    """Gur-Ari et al.'s f_top of g̃^(l) and of the full g^(l) over training (top K² eigenspace of Hess_l)."""
    setting, result = _deep_linear(result, profile)
    l = setting.layer
    lam = result.config.lambda_W_list[l - 1]
    epochs = [e for e in _available(result, setting.log_epochs) if e > 0]
    fig, ax = style.new(width=5.0)
    ax = ax[0, 0]
    for part, label, color in (
        (0.0, "data part $\\tilde g$", style.OUTLIER),
        (lam, "full $g$", style.BULK),
    ):
        _, f = tracking.over_snapshots(
            result, lambda H, Ws, p=part: gradients.top_fraction(H, Ws, l, p), epochs
        )
        ax.semilogx(epochs, f, color=color, lw=1.5, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("$f_{top} = \\|P_{top} g\\|^2 / \\|g\\|^2$")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    return fig
