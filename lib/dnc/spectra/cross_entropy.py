"""Measurements on the cross-entropy deep UFM (later version of paper A, its Appendix B).

    ∂ℓ/∂W_l = (1/N) Σ_i Ã_iᵀ (p_i − y_i) x_iᵀ,   p_i = softmax(z_i),  x_i = h_i^(l),

the simplex-ETF test of the class means, H̄ᵀH̄ ∝ I_K − 1_K1_Kᵀ/K, and the two-level grouping of a
spectrum's outliers (large ones, then a mini-bulk, then round-off).
"""

from __future__ import annotations

import numpy as np

from dnc._checks import as_float64, positive_int
from dnc.spectra.gradients import natural_basis_coefficients
from dnc.spectra.hessian import papyan_components, top_eigenpairs
from dnc.ufm.collapse import proportionality_residual
from dnc.ufm.point import Point


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


def collapsed_hessian_groups(K: int, margin: float, centred: bool = True):
    """(values, multiplicities): the nonzero eigenvalues of the CE Hess_l at a collapsed point.

    The point: every input of layer l equals its class mean, the logits of class c are
    t·(e_c − 1/K) so that softmax gives p = a on the true class and b elsewhere, with the margin
    δ = a − b, and the map A^(l+1) from the layer's output to the logits acts as a multiple of an
    isometry on 1^⊥. With the means a simplex ETF (``centred``) the eigenvalues are proportional to

        1 + (K−1)δ (once),  1 + (K−2)δ (K−1 times),  1 (K² − 3K + 1 times),

    and with K orthonormal means (collapsed but not centred) to 1 + (K−1)δ (K times) and 1
    (K(K−2) times). Values are returned relative to the largest, descending.

    Raises:
        ValueError: K < 3, or a margin outside [0, 1].
    """
    K = positive_int(K, "K")
    if K < 3:
        raise ValueError(f"K must be at least 3 for three groups, got {K}")
    margin = as_float64(margin, "margin")
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"margin must lie in [0, 1] (a difference of probabilities), got {margin}")
    top = 1 + (K - 1) * margin
    if centred:
        values, counts = [top, 1 + (K - 2) * margin, 1.0], [1, K - 1, K * K - 3 * K + 1]
    else:
        values, counts = [top, 1.0], [K, K * (K - 2)]
    return np.asarray(values) / top, np.asarray(counts)


def collapsed_hessian_kernel(means, margin: float) -> np.ndarray:
    """The K²×K² matrix Σ_c E S_c E ⊗ μ_c μ_cᵀ / b whose spectrum is that of the collapsed CE Hess_l.

    S_c = diag p_c − p_c p_cᵀ with p_c = b·1 + δ e_c (δ = ``margin``, b = (1 − δ)/K), E = I − 11ᵀ/K;
    ``means`` holds μ_1 … μ_K as the columns of a K×K matrix (coordinates in their span).
    """
    M = np.asarray(means, dtype=np.float64)
    K = M.shape[1]
    b = (1.0 - margin) / K
    E = np.eye(K) - 1.0 / K
    out = np.zeros((K * K, K * K))
    for c in range(K):
        p = b + margin * np.eye(K)[c]
        S = np.diag(p) - np.outer(p, p)
        out += np.kron(E @ S @ E, np.outer(M[:, c], M[:, c]))
    return out / b


def softmax_margin(H1, Ws) -> float:
    """δ = Av_i (p_{i,y_i} − Av_{c≠y_i} p_ic): the mean softmax margin of a linear UFM's outputs."""
    point = Point(H1, Ws)
    Z = point.products[0] @ point.H1
    P = np.exp(Z - Z.max(0))
    P /= P.sum(0)
    K, N = P.shape
    own = P[point.labels, np.arange(N)]
    return float(np.mean(own - (1.0 - own) / (K - 1)))
