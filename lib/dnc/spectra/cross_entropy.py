"""Measurements on the cross-entropy deep UFM (later version of paper A, its Appendix B).

    ∂ℓ/∂W_l = (1/N) Σ_i Ã_iᵀ (p_i − y_i) x_iᵀ,   p_i = softmax(z_i),  x_i = h_i^(l),

the simplex-ETF test of the class means, H̄ᵀH̄ ∝ I_K − 1_K1_Kᵀ/K, and the two-level grouping of a
spectrum's outliers (large ones, then a mini-bulk, then round-off).
"""

from __future__ import annotations

import numpy as np

from dnc.spectra.gradients import natural_basis_coefficients
from dnc.spectra.hessian import papyan_components, top_eigenpairs
from dnc.ufm.collapse import proportionality_residual


def gradient_coefficients(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """The natural-basis coefficients f̃_cc' of layer l's CE data gradient (K × K).

    This is :func:`dnc.spectra.gradients.natural_basis_coefficients` with ``loss="ce"``.
    """
    return natural_basis_coefficients(H1, Ws, l, activation, loss="ce")


def simplex_etf_residual(means) -> float:
    """‖H̄ᵀH̄/‖H̄ᵀH̄‖_F − E/‖E‖_F‖_F with E = I_K − 1_K1_Kᵀ/K, the distance to a simplex ETF.

    It is zero iff the K means form a simplex equiangular tight frame (equal norms, cosines
    −1/(K−1)).
    """
    M = np.asarray(means, dtype=np.float64)
    K = M.shape[1]
    return proportionality_residual(M.T @ M, np.eye(K) - 1.0 / K)


def orthogonal_frame_residual(means) -> float:
    """The same distance to an orthogonal frame, H̄ᵀH̄ ∝ I_K (the MSE geometry)."""
    M = np.asarray(means, dtype=np.float64)
    return proportionality_residual(M.T @ M, np.eye(M.shape[1]))


def outlier_groups(eigenvalues, max_rank: int, rtol: float = 1e-8) -> tuple[int, int]:
    """(rank, large): the number of outliers, and the number of large ones before the mini-bulk.

    ``rank`` counts eigenvalues above ``rtol`` × the largest (the outliers, the rest being
    round-off); ``large`` is the position of the largest ratio λ_i/λ_{i+1} among those ``rank``
    (the large outliers before the mini-bulk). Only the top ``max_rank`` are looked at.
    """
    vals = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1][: int(max_rank)]
    if vals.size == 0 or vals[0] <= 0:
        return 0, 0
    rank = int(np.sum(vals > rtol * vals[0]))
    if rank < 2:
        return rank, rank
    ratios = np.log(vals[: rank - 1]) - np.log(vals[1:rank])
    return rank, int(np.argmax(ratios)) + 1


def component_shares(H1, Ws, l, sizes, activation: str = "linear") -> dict[str, np.ndarray]:
    """For each Papyan component G of the CE Hess_l, the share of tr G in groups of eigenvectors.

    For G = class, cross and within: the share of tr G that lies in each consecutive group of
    Hess_l's top eigenvectors (``sizes``, e.g. (K, K²−2K+1)), Σ_j u_jᵀ G u_j / tr G over the
    group, then the remainder (last entry).
    """
    sizes = [int(s) for s in sizes]
    _, vectors = top_eigenpairs(H1, Ws, l, sum(sizes), activation, loss="ce")
    edges = np.concatenate([[0], np.cumsum(sizes)])
    out = {}
    for name, U in papyan_components(H1, Ws, l, activation, loss="ce").items():
        total = np.sum(U**2)
        energy = np.sum((U @ vectors) ** 2, axis=0) / total if total > 0 else np.zeros(edges[-1])
        groups = [energy[a:b].sum() for a, b in zip(edges[:-1], edges[1:], strict=True)]
        out[name] = np.array([*groups, 1.0 - sum(groups)])
    return out
