"""Layer-wise gradient of the deep UFM and its alignment with the top Hessian eigenspace (paper A §4.2, App. C).

    g^(l) = λ_{W_l} w^(l) + g̃^(l),   g̃^(l) = Av_i{(A^(l+1)ᵀ u_i) ⊗ h_i^(l)} = vec((1/N) E Xᵀ),

with u_i = f(h_i) − y_i, E = [A^(l+1)ᵀu_1, …, A^(l+1)ᵀu_N] (d_l × N), X = h^(l) (d_{l−1} × N) and
row-major flattening ((W_l)_{ab} is entry a·d_{l−1}+b). For ReLU, A^(l+1) is replaced by the
per-sample Jacobian Ã_i of :func:`dnc.spectra.hessian.jacobian_factors`. At a collapsed optimum (Theorem 4.3)
g̃^(l) = (β^(l+1)/K) Σ_c μ_c^(l+1) ⊗ μ_c^(l) with β^(l+1) = α^(l+1)² ‖μ_c^(l+1)‖² − α^(l+1).
"""

from __future__ import annotations

import numpy as np

from dnc._checks import layer_index
from dnc.spectra.hessian import jacobian_factors, kronecker_top_factors
from dnc.ufm import check_loss, check_params, products, softmax, targets
from dnc.ufm.collapse import layer_class_means, scaling_constant
from dnc.ufm.point import Point


def _lambda(lambda_W) -> float:
    lam = float(lambda_W)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lambda_W must be a finite number >= 0, got {lambda_W!r}")
    return lam


def backprop_factors(
    H1, Ws, l, activation: str = "linear", loss: str = "mse"
) -> tuple[np.ndarray, np.ndarray]:
    """(E, X): E[:, i] = Ã_iᵀ u_i ∈ R^{d_l} and X = h^(l) (d_{l−1} × N), where u_i = f(h_i) − y_i
    (MSE) or softmax(f(h_i)) − y_i (cross-entropy, ``loss="ce"``): the output error of sample i.

    The per-sample gradient of the data term's i-th summand with respect to w^(l) is E[:, i] ⊗ X[:, i].
    """
    return backprop_factors_at(Point(H1, Ws, activation), l, loss)


def backprop_factors_at(point: Point, l, loss: str = "mse") -> tuple[np.ndarray, np.ndarray]:
    """:func:`backprop_factors` at ``point``."""
    check_loss(loss)
    At, X = point.factors(l)
    out = point.inputs[-1]
    U = (softmax(out) if loss == "ce" else out) - targets(point.K, point.n)  # K × N output errors
    return np.einsum("ica,ci->ai", At, U), X


def data_gradient_matrix(H1, Ws, l, activation: str = "linear", loss: str = "mse") -> np.ndarray:
    """G̃^(l) = (1/N) Σ_i (Ã_iᵀ u_i) h_i^(l)ᵀ = (1/N) E Xᵀ, the d_l × d_{l−1} matrix form of g̃^(l)
    (u_i the MSE residual, or p_i − y_i for ``loss="ce"``)."""
    return data_gradient_matrix_at(Point(H1, Ws, activation), l, loss)


def data_gradient_matrix_at(point: Point, l, loss: str = "mse") -> np.ndarray:
    """:func:`data_gradient_matrix` at ``point``."""
    E, X = backprop_factors_at(point, l, loss)
    return E @ X.T / X.shape[1]


def data_gradient(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """g̃^(l) = Av_i{(Ã_iᵀ u_i) ⊗ h_i^(l)}, flattened row-major (length d_l d_{l−1})."""
    return data_gradient_matrix(H1, Ws, l, activation).ravel()


def layer_gradient(H1, Ws, l, lambda_W: float, activation: str = "linear") -> np.ndarray:
    """g^(l) = ∂L/∂w^(l) = λ_{W_l} w^(l) + g̃^(l) (paper A §4.2), flattened row-major."""
    lam = _lambda(lambda_W)
    _, Ws_checked = check_params(H1, Ws)
    l = layer_index(Ws_checked, l)
    return lam * Ws_checked[l - 1].ravel() + data_gradient(H1, Ws, l, activation)


def natural_basis_shares(G, upper, lower) -> np.ndarray:
    """K×K matrix (μ_c^(l+1)ᵀ G μ_c'^(l))² / (‖μ_c^(l+1)‖² ‖μ_c'^(l)‖² ‖G‖_F²): the share of vec G
    along each μ_c^(l+1) ⊗ μ_c'^(l) (``upper``, ``lower``: the d × K class-mean matrices), using
    v_cc'ᵀ vec G = μ_c^(l+1)ᵀ G μ_c'^(l) so that no d_l d_{l−1} vector is formed."""
    G = np.asarray(G, dtype=np.float64)
    total = np.sum(G**2)
    if total == 0:
        raise ValueError("the data gradient is exactly zero; its coefficients are undefined")
    proj = upper.T @ G @ lower
    norms = np.outer(np.sum(upper**2, axis=0), np.sum(lower**2, axis=0))
    return proj**2 / (norms * total)


def natural_basis_coefficients(
    H1, Ws, l, activation: str = "linear", loss: str = "mse"
) -> np.ndarray:
    """K×K matrix f̃_cc' = |v_cc'ᵀ g̃|² / (‖v_cc'‖² ‖g̃‖²), v_cc' = μ_c^(l+1) ⊗ μ_c'^(l) (Figure 7):
    :func:`natural_basis_shares` of the data gradient of layer l."""
    return natural_basis_coefficients_at(Point(H1, Ws, activation), l, loss)


def natural_basis_coefficients_at(point: Point, l, loss: str = "mse") -> np.ndarray:
    """:func:`natural_basis_coefficients` at ``point``."""
    l = point.layer(l)
    G = data_gradient_matrix_at(point, l, loss)
    return natural_basis_shares(G, point.means[l], point.means[l - 1])


def beta_from_alpha(alpha: float, mean_norm_sq: float) -> float:
    """β^(l+1) = α^(l+1)² ‖μ_c^(l+1)‖² − α^(l+1): the coefficient in A^(l+1)ᵀ u_c = β^(l+1) μ_c^(l+1)."""
    return float(alpha) ** 2 * float(mean_norm_sq) - float(alpha)


def theorem_beta(H1, Ws, l, activation: str = "linear") -> float:
    """β^(l+1) of Theorem 4.3 from the fitted α^(l+1) (A^(l+1) ≈ α H̄^(l+1)ᵀ) and the mean ‖μ_c^(l+1)‖²."""
    H1, Ws = check_params(H1, Ws)
    l = layer_index(Ws, l)
    means = layer_class_means(H1, Ws, activation)
    alpha, _ = scaling_constant(products(Ws)[l], means[l])
    return beta_from_alpha(alpha, np.mean(np.sum(means[l] ** 2, axis=0)))


def predicted_data_gradient(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """Theorem 4.3's g̃^(l) = (β^(l+1)/K) Σ_c μ_c^(l+1) ⊗ μ_c^(l), flattened row-major."""
    beta = theorem_beta(H1, Ws, l, activation)
    means = layer_class_means(H1, Ws, activation)
    up, low = means[l], means[l - 1]
    return (beta / up.shape[1] * up @ low.T).ravel()


# ---------------------------------------------------------------------------------------------
# The top eigenspace of Hess_l = AᵀA ⊗ Σ (linear model) and Gur-Ari et al.'s f_top
# ---------------------------------------------------------------------------------------------


def top_eigenvectors(H1, Ws, l, k: int | None = None):
    """(left, right, values): the top k eigenpairs of Hess_l = A^(l+1)ᵀA^(l+1) ⊗ Σ, Σ = Av{h hᵀ}.

    Eigenvector m is left[m] ⊗ right[m], with left[m] an eigenvector of AᵀA (length d_l) and right[m]
    one of Σ (length d_{l−1}); its eigenvalue is the product of theirs. k defaults to K².
    Linear model only; no d_l d_{l−1} matrix is formed.
    """
    At, X = jacobian_factors(H1, Ws, l, "linear")
    return _top_factors(At[0], X, k)


def _top_factors(A, X, k: int | None):
    """:func:`dnc.spectra.hessian.kronecker_top_factors` with k defaulting to K² and checked."""
    K = A.shape[0]
    k = K * K if k is None else int(k)
    if not 1 <= k <= A.shape[1] * X.shape[0]:
        raise ValueError(f"k must be in 1..{A.shape[1] * X.shape[0]}, got {k}")
    return kronecker_top_factors(A, X, k)


def top_eigenvector_coefficients(H1, Ws, l, lambda_W: float = 0.0, k: int | None = None):
    """Squared coefficients (u_m ⊗ v_m)ᵀg / ‖g‖ of g = λ w^(l) + g̃^(l) on the top k eigenvectors of
    Hess_l (:func:`top_eigenvectors`), using (u ⊗ v)ᵀ vec(G) = uᵀ G v. ``lambda_W = 0`` gives g̃^(l).
    """
    lam = _lambda(lambda_W)
    point = Point(H1, Ws)
    l = point.layer(l)
    At, X = point.factors(l)  # once, for the gradient and the eigenvectors
    G = data_gradient_matrix_at(point, l) + lam * point.Ws[l - 1]
    total = np.sum(G**2)
    if total == 0:
        raise ValueError("the gradient is exactly zero; its coefficients are undefined")
    left, right, _ = _top_factors(At[0], X, k)
    return np.einsum("ma,ab,mb->m", left, G, right) ** 2 / total


def top_fraction(H1, Ws, l, lambda_W: float = 0.0, k: int | None = None) -> float:
    """Gur-Ari et al.'s f_top = ‖P_top g‖² / ‖g‖², P_top the projector onto the top k (= K²)
    eigenvectors of Hess_l; ``lambda_W = 0`` measures the data part g̃^(l)."""
    return float(np.sum(top_eigenvector_coefficients(H1, Ws, l, lambda_W, k)))
