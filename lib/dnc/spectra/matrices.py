"""Other deep-learning matrices of the deep linear UFM (paper A §4.3, App. D, E, G.2).

    C^(l) = Av_i{(g_i − ḡ)(g_i − ḡ)ᵀ},  Δ^(l) = (1/N) Σ_{i,c'} δ_ic' δ_ic'ᵀ,  H^(l)ᵀH^(l),  W_lᵀW_l,

with g_i = (A^(l+1)ᵀu_i) ⊗ h_i^(l) the per-sample gradient of ½‖u_i‖²,
δ_ic' = A^(l)ᵀ(f(h_i) − y_c') the extended backpropagated error at the input h^(l) of W_l, and
r_{c'c''}^(l+1) = |a_c' · a_c''| for the rows a_c of A^(l+1) = W_L⋯W_{l+1}. Spectra are returned
descending and in float64; where a matrix is d_l d_{l−1} wide its nonzero eigenvalues come from a
Gram matrix of size N.
"""

from __future__ import annotations

import numpy as np

from dnc._checks import as_matrix, layer_index, positive, positive_list
from dnc.spectra._linalg import pad_descending
from dnc.spectra.gradients import backprop_factors, beta_from_alpha
from dnc.spectra.hessian import jacobian_factors, outlier_count
from dnc.ufm import check_params, layer_inputs, products
from dnc.ufm.collapse import layer_class_means, scaling_constant


def _eigvals_desc(M) -> np.ndarray:
    return np.sort(np.linalg.eigvalsh(M))[::-1]


def _mean_norm_sq(means) -> float:
    """Av_c ‖μ_c‖² (the theorems' ‖μ_c‖², equal across classes at collapse)."""
    return float(np.mean(np.sum(means**2, axis=0)))


def _alpha(H1, Ws, l) -> tuple[float, np.ndarray]:
    """(α^(l), H̄^(l)) with A^(l) = W_L⋯W_l ≈ α^(l) H̄^(l)ᵀ.

    l = L+1 gives A = I_K and the output means.
    """
    means = layer_class_means(H1, Ws)
    alpha, _ = scaling_constant(products(Ws)[l - 1], means[l - 1])
    return alpha, means[l - 1]


# ---------------------------------------------------------------------------------------------
# C^(l): covariance of per-sample gradients (Theorem E.1)
# ---------------------------------------------------------------------------------------------


def per_sample_gradients(H1, Ws, l) -> np.ndarray:
    """(N, d_l d_{l−1}) array whose row i is g_i = (A^(l+1)ᵀu_i) ⊗ h_i^(l) (for small models)."""
    E, X = backprop_factors(H1, Ws, l)
    return np.einsum("ai,bi->iab", E, X).reshape(X.shape[1], -1)


def gradient_covariance(H1, Ws, l) -> np.ndarray:
    """Dense C^(l) = Av_i{(g_i − ḡ)(g_i − ḡ)ᵀ}, d_l d_{l−1} square (for small models and tests)."""
    G = per_sample_gradients(H1, Ws, l)
    G = G - G.mean(axis=0)
    return G.T @ G / G.shape[0]


def gradient_covariance_spectrum(H1, Ws, l) -> np.ndarray:
    """All d_l d_{l−1} eigenvalues of C^(l), descending, from the N×N Gram (1/N) J M J.

    M_ij = g_i·g_j = (e_i·e_j)(h_i·h_j) (the dot product of Kronecker products factorises) and
    J = I − 11ᵀ/N centres the gradients; the remaining eigenvalues are zero.
    """
    E, X = backprop_factors(H1, Ws, l)
    N = X.shape[1]
    J = np.eye(N) - 1.0 / N
    gram = J @ ((E.T @ E) * (X.T @ X)) @ J / N
    return pad_descending(np.clip(np.linalg.eigvalsh(gram), 0.0, None), E.shape[0] * X.shape[0])


def predicted_gradient_covariance_eigenvalue(H1, Ws, l) -> float:
    """Theorem E.1's value of the K−1 nonzero eigenvalues of C^(l).

    They equal β^(l+1)² ‖μ_c^(l+1)‖² ‖μ_c^(l)‖² / K, with β^(l+1) from the fitted α^(l+1)
    (:func:`dnc.spectra.gradients.beta_from_alpha`) and the norms averaged over classes.
    """
    H1, Ws = check_params(H1, Ws)
    l = layer_index(Ws, l)
    alpha, up = _alpha(H1, Ws, l + 1)
    low = layer_class_means(H1, Ws)[l - 1]
    beta = beta_from_alpha(alpha, _mean_norm_sq(up))
    return beta**2 * _mean_norm_sq(up) * _mean_norm_sq(low) / up.shape[1]


# ---------------------------------------------------------------------------------------------
# Δ^(l): second moment of the extended backpropagated errors (Theorem E.2)
# ---------------------------------------------------------------------------------------------


def backprop_second_moment(H1, Ws, l) -> np.ndarray:
    """Δ^(l) = (1/N) Σ_{i,c'} A^(l)ᵀ u_ic' u_ic'ᵀ A^(l), u_ic' = f(h_i) − e_c' (d_{l−1} square).

    Σ_{c'} u_ic' u_ic'ᵀ = K z_i z_iᵀ − z_i 1ᵀ − 1 z_iᵀ + I_K for the output z_i, so
    Δ^(l) = A^(l)ᵀ [K ZZᵀ − s1ᵀ − 1sᵀ + N I_K] A^(l) / N with s = Z 1_N.
    """
    H1, Ws = check_params(H1, Ws)
    l = layer_index(Ws, l)
    Z = layer_inputs(H1, Ws)[-1]
    K, N = Z.shape
    s, one = Z.sum(axis=1), np.ones(K)
    middle = K * Z @ Z.T - np.outer(s, one) - np.outer(one, s) + N * np.eye(K)
    A = products(Ws)[l - 1]
    return A.T @ middle @ A / N


def backprop_second_moment_spectrum(H1, Ws, l) -> np.ndarray:
    """All d_{l−1} eigenvalues of Δ^(l), descending."""
    return _eigvals_desc(backprop_second_moment(H1, Ws, l))


def predicted_backprop_eigenvalues(H1, Ws, l) -> tuple[float, float]:
    """Theorem E.2's two eigenvalues of Δ^(l): (K−1-fold one on μ_c − μ_G, single one on μ_G).

    With γ^(l) = α^(l)² ‖μ_c^(l)‖² and A^(l) = α^(l) H̄^(l)ᵀ: ‖μ_c^(l)‖²(γ² + α²), the
    K−1-fold eigenvalue, on μ_c − μ_G, and ‖μ_c^(l)‖²(γ − α)², the single smaller one, on μ_G.
    """
    H1, Ws = check_params(H1, Ws)
    l = layer_index(Ws, l)
    alpha, means = _alpha(H1, Ws, l)
    r2 = _mean_norm_sq(means)
    gamma = alpha**2 * r2
    return r2 * (gamma**2 + alpha**2), r2 * (gamma - alpha) ** 2


# ---------------------------------------------------------------------------------------------
# Feature Gram H^(l)ᵀH^(l) (Theorem E.3) and weight Gram W_lᵀW_l (Theorem 4.4)
# ---------------------------------------------------------------------------------------------


def feature_gram_spectrum(H1, Ws, l) -> np.ndarray:
    """All N eigenvalues of H^(l)ᵀH^(l), descending, from the d_{l−1}×d_{l−1} H^(l)H^(l)ᵀ."""
    H1, Ws = check_params(H1, Ws)
    l = layer_index(Ws, l)
    X = layer_inputs(H1, Ws)[l - 1]
    return pad_descending(np.clip(np.linalg.eigvalsh(X @ X.T), 0.0, None), X.shape[1])


def predicted_feature_gram_eigenvalue(H1, Ws, l) -> float:
    """Theorem E.3's eigenvalue n‖μ_c^(l)‖² of H^(l)ᵀH^(l), K-fold.

    At collapse H^(l)ᵀH^(l) = n‖μ_c^(l)‖² [I_K ⊗ (1/n)1 1ᵀ], with K eigenvalues n‖μ_c^(l)‖².
    """
    H1, Ws = check_params(H1, Ws)
    l = layer_index(Ws, l)
    K = Ws[-1].shape[0]
    return (H1.shape[1] // K) * _mean_norm_sq(layer_class_means(H1, Ws)[l - 1])


def weight_gram_spectrum(W) -> np.ndarray:
    """All d_{l−1} eigenvalues of W_lᵀW_l, descending."""
    W = as_matrix(W, "W")
    return _eigvals_desc(W.T @ W)


def _regularisation(Ws, lambda_Ws, lambda_H):
    return positive_list(lambda_Ws, len(Ws), "lambda_Ws"), positive(lambda_H, "lambda_H")


def predicted_weight_gram_eigenvalues(H1, Ws, lambda_Ws, lambda_H) -> np.ndarray:
    """Theorem 4.4's value of the K nonzero eigenvalues of W_lᵀW_l, one per layer l = 1..L.

    They equal (λ_{H_1}/λ_{W_l}) n ‖μ_c^(1)‖², μ_c^(1) the class means of H_1.
    """
    H1, Ws = check_params(H1, Ws)
    lam, lam_h = _regularisation(Ws, lambda_Ws, lambda_H)
    K = Ws[-1].shape[0]
    base = lam_h * (H1.shape[1] // K) * _mean_norm_sq(layer_class_means(H1, Ws)[0])
    return np.array([base / v for v in lam])


def balance_residuals(H1, Ws, lambda_Ws, lambda_H) -> np.ndarray:
    """Relative residuals of the balance relations of Theorem 4.4, one per layer l = 1..L.

    ‖λ_{W_1}W_1ᵀW_1 − λ_{H_1}H_1H_1ᵀ‖_F and ‖λ_{W_l}W_lᵀW_l − λ_{W_{l−1}}W_{l−1}W_{l−1}ᵀ‖_F,
    each over the Frobenius norm of its first term. They vanish at every stationary point of (1).
    """
    H1, Ws = check_params(H1, Ws)
    lam, lam_h = _regularisation(Ws, lambda_Ws, lambda_H)
    out = []
    for i, W in enumerate(Ws):
        left = lam[i] * W.T @ W
        right = lam_h * H1 @ H1.T if i == 0 else lam[i - 1] * Ws[i - 1] @ Ws[i - 1].T
        out.append(np.linalg.norm(left - right) / np.linalg.norm(left))
    return np.asarray(out)


# ---------------------------------------------------------------------------------------------
# Outliers of C, Δ and HᵀH found from their spectra, beside Theorems E.1–E.3
# ---------------------------------------------------------------------------------------------


def appendix_e_outliers(H1, Ws, l, max_count: int | None = None) -> dict[str, dict]:
    """Outliers of C^(l), Δ^(l) and H^(l)ᵀH^(l) found from their spectra, beside Appendix E.

    For ``"C"`` (E.1), ``"Delta large"``, ``"Delta small"`` (E.2) and ``"HtH"`` (E.3): the
    outlier eigenvalues ``measured`` from the spectrum alone and the theorem's ``predicted`` value.

    Outliers are counted by :func:`dnc.spectra.hessian.outlier_count` (largest log-gap among the top
    ``max_count`` + 1, default 2K²); for Δ^(l) the rule is applied again to its outliers, which
    splits the K − 1 large ones from the single small one.
    """
    H1, Ws = check_params(H1, Ws)
    K = Ws[-1].shape[0]
    max_count = 2 * K * K if max_count is None else int(max_count)
    C = gradient_covariance_spectrum(H1, Ws, l)
    D = backprop_second_moment_spectrum(H1, Ws, l)
    F = feature_gram_spectrum(H1, Ws, l)
    n_C, n_D, n_F = (outlier_count(v, max_count) for v in (C, D, F))
    n_big = outlier_count(D[:n_D], n_D - 1) if n_D > 1 else n_D
    big, small = predicted_backprop_eigenvalues(H1, Ws, l)
    return {
        "C": {
            "measured": C[:n_C],
            "predicted": predicted_gradient_covariance_eigenvalue(H1, Ws, l),
        },
        "Delta large": {"measured": D[:n_big], "predicted": big},
        "Delta small": {"measured": D[n_big:n_D], "predicted": small},
        "HtH": {"measured": F[:n_F], "predicted": predicted_feature_gram_eigenvalue(H1, Ws, l)},
    }


# ---------------------------------------------------------------------------------------------
# Orthogonality of the rows of A^(l+1) (App. G.2, Table 3)
# ---------------------------------------------------------------------------------------------


def row_overlaps(Ws) -> np.ndarray:
    """(L−1, K, K) array of the row overlaps r^(l+1)_{c'c''} = |a_c' · a_c''| of A^(l+1).

    Entry [l−1] is for the rows a_c of A^(l+1) = W_L⋯W_{l+1}, l = 1..L−1 (unnormalised, as in
    paper A's Table 3; A^(L+1) = I_K is left out).

    Raises:
        ValueError: the weights fail :func:`dnc.ufm.check_params`, or L < 2.
    """
    Ws = [as_matrix(W, f"W_{i + 1}") for i, W in enumerate(Ws)]
    _, Ws = check_params(np.zeros((Ws[0].shape[1], 1)), Ws)
    if len(Ws) < 2:
        raise ValueError("row overlaps need L >= 2 layers (A^(L+1) is the identity)")
    return np.stack([np.abs(A @ A.T) for A in products(Ws)[1:-1]])


def masked_row_overlaps(H1, Ws, activation: str = "linear") -> np.ndarray:
    """Paper A Table 4: (L−1, K, K) array of r̃^(l+1)_{c'c''} = Av_i |ã_ic' · ã_ic''|.

    The rows ã_ic are those of the masked products Ã_i^(l+1), l = 1..L−1 (the plain r of
    Table 3 is :func:`row_overlaps`; the two agree for the linear model).
    """
    H1, Ws = check_params(H1, Ws)
    out = []
    for l in range(1, len(Ws)):
        At, _ = jacobian_factors(H1, Ws, l, activation)
        out.append(np.abs(np.einsum("ica,iea->ice", At, At)).mean(axis=0))
    return np.asarray(out)


def numerical_rank(W, rtol: float = 1e-3) -> int:
    """The number of singular values of W above ``rtol`` × the largest (0 for a zero matrix)."""
    s = np.linalg.svd(np.asarray(W, dtype=np.float64), compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0
