"""Theorem 4.1 of paper A: its predicted top eigenpairs of Hess_l, and how well a model meets them.

At deep neural collapse the top K² eigenvectors of Hess_l are μ_c^(l+1) ⊗ μ_c'^(l), with
eigenvalues α^(l+1)² ‖μ_c^(l+1)‖² ‖μ_c'^(l)‖² / K.
"""

from __future__ import annotations

import numpy as np

from dnc.spectra._linalg import alignments, hessian_matvecs
from dnc.ufm.collapse import scaling_constant
from dnc.ufm.point import Point


def predicted_eigenvectors(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """Array (K, K, D) whose [c, c'] entry is μ_c^(l+1) ⊗ μ_c'^(l) (row-major flattening)."""
    return eigenvectors_at(Point(H1, Ws, activation), l)


def eigenvectors_at(point: Point, l) -> np.ndarray:
    """:func:`predicted_eigenvectors` at ``point``."""
    l = point.layer(l)
    upper, lower = point.means[l], point.means[l - 1]  # H̄^(l+1) (d_l×K), H̄^(l) (d_{l−1}×K)
    return np.einsum("ac,be->ceab", upper, lower).reshape(upper.shape[1], lower.shape[1], -1)


def predicted_alignments(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """K×K matrix of f_cc' = |vᵀ Hess_l v|² / (‖v‖² ‖Hess_l v‖²) with v = μ_c^(l+1) ⊗ μ_c'^(l)."""
    return alignments_at(Point(H1, Ws, activation), l)


def alignments_at(point: Point, l) -> np.ndarray:
    """:func:`predicted_alignments` at ``point``.

    The K² products Hess_l v are taken together from the Jacobian factors.
    """
    vecs = eigenvectors_at(point, l)
    K = vecs.shape[0]
    At, X = point.factors(l)
    flat = vecs.reshape(K * K, -1)
    hvs = hessian_matvecs(At, X, flat.reshape(K * K, At.shape[2], X.shape[0])).reshape(K * K, -1)
    return alignments(flat, hvs).reshape(K, K)


def predicted_outlier_eigenvalues(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """K×K matrix α^(l+1)² ‖μ_c^(l+1)‖² ‖μ_c'^(l)‖² / K (Theorem 4.1).

    α^(l+1) is fitted by least squares, A^(l+1) ≈ α^(l+1) H̄^(l+1)ᵀ.
    """
    return outlier_eigenvalues_at(Point(H1, Ws, activation), l)


def outlier_eigenvalues_at(point: Point, l) -> np.ndarray:
    """:func:`predicted_outlier_eigenvalues` at ``point``."""
    l = point.layer(l)
    alpha, _ = scaling_constant(point.products[l], point.means[l])
    up = np.sum(point.means[l] ** 2, axis=0)
    low = np.sum(point.means[l - 1] ** 2, axis=0)
    return alpha**2 * np.outer(up, low) / up.size
