"""Theorem 4.1 of paper A: at deep neural collapse the top K² eigenvectors of Hess_l are
μ_c^(l+1) ⊗ μ_c'^(l) with eigenvalues α^(l+1)² ‖μ_c^(l+1)‖² ‖μ_c'^(l)‖² / K; the predictions and
how well a model meets them.
"""

from __future__ import annotations

import numpy as np

from dnc._checks import layer_index
from dnc.spectra._linalg import alignments, hessian_matvecs
from dnc.spectra.hessian import jacobian_factors
from dnc.ufm import check_params
from dnc.ufm.collapse import layer_class_means, products, scaling_constant


def predicted_eigenvectors(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """Array (K, K, D) whose [c, c'] entry is μ_c^(l+1) ⊗ μ_c'^(l) (row-major flattening)."""

    l = layer_index(check_params(H1, Ws)[1], l)
    means = layer_class_means(H1, Ws, activation)
    upper, lower = means[l], means[l - 1]  # H̄^(l+1) (d_l×K) and H̄^(l) (d_{l−1}×K)
    return np.einsum("ac,be->ceab", upper, lower).reshape(upper.shape[1], lower.shape[1], -1)


def predicted_alignments(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """K×K matrix of f_cc' = |vᵀ Hess_l v|² / (‖v‖² ‖Hess_l v‖²) with v = μ_c^(l+1) ⊗ μ_c'^(l).

    The Jacobian factors are computed once and the K² products Hess_l v taken together."""
    vecs = predicted_eigenvectors(H1, Ws, l, activation)
    K = vecs.shape[0]
    At, X = jacobian_factors(H1, Ws, l, activation)
    flat = vecs.reshape(K * K, -1)
    hvs = hessian_matvecs(At, X, flat.reshape(K * K, At.shape[2], X.shape[0])).reshape(K * K, -1)
    return alignments(flat, hvs).reshape(K, K)


def predicted_outlier_eigenvalues(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """K×K matrix α^(l+1)² ‖μ_c^(l+1)‖² ‖μ_c'^(l)‖² / K (Theorem 4.1), α^(l+1) fitted by least squares."""

    _, Ws_checked = check_params(H1, Ws)
    l = layer_index(Ws_checked, l)
    means = layer_class_means(H1, Ws, activation)
    alpha, _ = scaling_constant(products(Ws_checked)[l], means[l])
    up = np.sum(means[l] ** 2, axis=0)
    low = np.sum(means[l - 1] ** 2, axis=0)
    return alpha**2 * np.outer(up, low) / up.size
