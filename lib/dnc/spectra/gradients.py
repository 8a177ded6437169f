"""Layer-wise gradient of the deep UFM and its alignment with the top Hessian eigenspace.

Paper A §4.2 and App. C:

    g^(l) = λ_{W_l} w^(l) + g̃^(l),   g̃^(l) = Av_i{(A^(l+1)ᵀ u_i) ⊗ h_i^(l)} = vec((1/N) E Xᵀ),

with u_i = f(h_i) − y_i, E = [A^(l+1)ᵀu_1, …, A^(l+1)ᵀu_N] (d_l × N), X = h^(l) (d_{l−1} × N) and
row-major flattening ((W_l)_{ab} is entry a·d_{l−1}+b). For ReLU, A^(l+1) is replaced by the
per-sample Jacobian Ã_i of :func:`dnc.spectra.hessian.jacobian_factors`. At a collapsed optimum
(Theorem 4.3) g̃^(l) = (β^(l+1)/K) Σ_c μ_c^(l+1) ⊗ μ_c^(l) with
β^(l+1) = α^(l+1)² ‖μ_c^(l+1)‖² − α^(l+1).
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
    """(E, X): E[:, i] = Ã_iᵀ u_i ∈ R^{d_l} and X = h^(l) (d_{l−1} × N), u_i the output error.

    u_i = f(h_i) − y_i (MSE) or softmax(f(h_i)) − y_i (cross-entropy, ``loss="ce"``) is the
    output error of sample i. The per-sample gradient of the data term's i-th summand with
    respect to w^(l) is E[:, i] ⊗ X[:, i].

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy data term.

    Returns:
        (E, X) as float64 arrays, d_l × N and d_{l−1} × N.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside
            1..L, or an unknown loss.
    """
    return backprop_factors_at(Point(H1, Ws, activation), l, loss)


def backprop_factors_at(point: Point, l, loss: str = "mse") -> tuple[np.ndarray, np.ndarray]:
    """:func:`backprop_factors` at ``point``.

    Args:
        point: the model, checked once.
        l: the layer, 1-based (1..L).
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy data term.

    Returns:
        (E, X) as float64 arrays, d_l × N and d_{l−1} × N.

    Raises:
        ValueError: an unknown loss, or l outside 1..L.
    """
    check_loss(loss)
    At, X = point.factors(l)
    out = point.inputs[-1]
    U = (softmax(out) if loss == "ce" else out) - targets(point.K, point.n)  # K × N output errors
    return np.einsum("ica,ci->ai", At, U), X


def data_gradient_matrix(H1, Ws, l, activation: str = "linear", loss: str = "mse") -> np.ndarray:
    """G̃^(l) = (1/N) Σ_i (Ã_iᵀ u_i) h_i^(l)ᵀ = (1/N) E Xᵀ, the matrix form of g̃^(l).

    u_i is the MSE residual, or p_i − y_i for ``loss="ce"`` (:func:`backprop_factors`);
    :func:`data_gradient_matrix_at` computes it at a :class:`~dnc.ufm.point.Point`.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy data term.

    Returns:
        Float64 array d_l × d_{l−1}, the gradient of the data term with respect to W_l.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside
            1..L, or an unknown loss.
    """
    return data_gradient_matrix_at(Point(H1, Ws, activation), l, loss)


def data_gradient_matrix_at(point: Point, l, loss: str = "mse") -> np.ndarray:
    """:func:`data_gradient_matrix` at ``point``.

    Args:
        point: the model, checked once.
        l: the layer, 1-based (1..L).
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy data term.

    Returns:
        Float64 array d_l × d_{l−1}.

    Raises:
        ValueError: an unknown loss, or l outside 1..L.
    """
    E, X = backprop_factors_at(point, l, loss)
    return E @ X.T / X.shape[1]


def data_gradient(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """g̃^(l) = Av_i{(Ã_iᵀ u_i) ⊗ h_i^(l)}, flattened row-major (length d_l d_{l−1}).

    The gradient of the MSE data term with respect to w^(l) (:func:`data_gradient_matrix`).

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.

    Returns:
        Float64 vector of length d_l d_{l−1}.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), or l
            outside 1..L.
    """
    return data_gradient_matrix(H1, Ws, l, activation).ravel()


def layer_gradient(H1, Ws, l, lambda_W: float, activation: str = "linear") -> np.ndarray:
    """g^(l) = ∂L/∂w^(l) = λ_{W_l} w^(l) + g̃^(l) (paper A §4.2), flattened row-major.

    The data term is the MSE one (:func:`data_gradient`).

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        lambda_W: λ_{W_l}, finite and ≥ 0.
        activation: ``"linear"`` or ``"relu"``.

    Returns:
        Float64 vector of length d_l d_{l−1}.

    Raises:
        ValueError: ``lambda_W`` negative or not finite, the checks of
            :class:`~dnc.ufm.point.Point` (shapes that do not chain, non-finite entries, an
            unknown activation, N not a multiple of K), or l outside 1..L.
    """
    lam = _lambda(lambda_W)
    _, Ws_checked = check_params(H1, Ws)
    l = layer_index(Ws_checked, l)
    return lam * Ws_checked[l - 1].ravel() + data_gradient(H1, Ws, l, activation)


def natural_basis_shares(G, upper, lower) -> np.ndarray:
    """K×K shares of vec G along each μ_c^(l+1) ⊗ μ_c'^(l), without a d_l d_{l−1} vector.

    Entry (c, c') is (μ_c^(l+1)ᵀ G μ_c'^(l))² / (‖μ_c^(l+1)‖² ‖μ_c'^(l)‖² ‖G‖_F²), using
    v_cc'ᵀ vec G = μ_c^(l+1)ᵀ G μ_c'^(l) so that no d_l d_{l−1} vector is formed.

    Args:
        G: a d_l × d_{l−1} matrix (e.g. the data gradient G̃^(l)).
        upper: H̄^(l+1), the d_l × K class means of the layer's output.
        lower: H̄^(l), the d_{l−1} × K class means of its input.

    Returns:
        Float64 array K × K.

    Raises:
        ValueError: G is exactly zero.
    """
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
    """K×K matrix f̃_cc' = |v_cc'ᵀ g̃|² / (‖v_cc'‖² ‖g̃‖²), v_cc' = μ_c^(l+1) ⊗ μ_c'^(l).

    These are the coefficients of Figure 7: :func:`natural_basis_shares` of the data gradient
    of layer l (:func:`data_gradient_matrix`).

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy data term.

    Returns:
        Float64 array K × K, rows c (classes of h^(l+1)), columns c' (classes of h^(l)).

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside
            1..L, an unknown loss, or a data gradient that is exactly zero.
    """
    return natural_basis_coefficients_at(Point(H1, Ws, activation), l, loss)


def natural_basis_coefficients_at(point: Point, l, loss: str = "mse") -> np.ndarray:
    """:func:`natural_basis_coefficients` at ``point``.

    Args:
        point: the model, checked once.
        l: the layer, 1-based (1..L).
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy data term.

    Returns:
        Float64 array K × K.

    Raises:
        ValueError: l outside 1..L, an unknown loss, or a data gradient that is exactly zero.
    """
    l = point.layer(l)
    G = data_gradient_matrix_at(point, l, loss)
    return natural_basis_shares(G, point.means[l], point.means[l - 1])


def beta_from_alpha(alpha: float, mean_norm_sq: float) -> float:
    """β^(l+1) = α^(l+1)² ‖μ_c^(l+1)‖² − α^(l+1).

    β^(l+1) is the coefficient in A^(l+1)ᵀ u_c = β^(l+1) μ_c^(l+1).

    Args:
        alpha: α^(l+1), with A^(l+1) = α^(l+1) H̄^(l+1)ᵀ.
        mean_norm_sq: ‖μ_c^(l+1)‖².

    Returns:
        β^(l+1) as a float.
    """
    return float(alpha) ** 2 * float(mean_norm_sq) - float(alpha)


def theorem_beta(H1, Ws, l, activation: str = "linear") -> float:
    """β^(l+1) of Theorem 4.3 from the fitted α^(l+1) and the mean ‖μ_c^(l+1)‖² over classes.

    α^(l+1) is the least-squares fit of A^(l+1) ≈ α H̄^(l+1)ᵀ
    (:func:`dnc.ufm.collapse.scaling_constant`); :func:`beta_from_alpha` combines the two.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.

    Returns:
        β^(l+1) as a float.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), or l
            outside 1..L.
    """
    H1, Ws = check_params(H1, Ws)
    l = layer_index(Ws, l)
    means = layer_class_means(H1, Ws, activation)
    alpha, _ = scaling_constant(products(Ws)[l], means[l])
    return beta_from_alpha(alpha, np.mean(np.sum(means[l] ** 2, axis=0)))


def predicted_data_gradient(H1, Ws, l, activation: str = "linear") -> np.ndarray:
    """Theorem 4.3's g̃^(l) = (β^(l+1)/K) Σ_c μ_c^(l+1) ⊗ μ_c^(l), flattened row-major.

    β^(l+1) is that of :func:`theorem_beta`, and the class means are the model's own.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.

    Returns:
        Float64 vector of length d_l d_{l−1}.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), or l
            outside 1..L.
    """
    beta = theorem_beta(H1, Ws, l, activation)
    means = layer_class_means(H1, Ws, activation)
    up, low = means[l], means[l - 1]
    return (beta / up.shape[1] * up @ low.T).ravel()


# ---------------------------------------------------------------------------------------------
# The top eigenspace of Hess_l = AᵀA ⊗ Σ (linear model) and Gur-Ari et al.'s f_top
# ---------------------------------------------------------------------------------------------


def top_eigenvectors(H1, Ws, l, k: int | None = None):
    """(left, right, values): the top k eigenpairs of Hess_l = A^(l+1)ᵀA^(l+1) ⊗ Σ, Σ = Av{h hᵀ}.

    Eigenvector m is left[m] ⊗ right[m], with left[m] an eigenvector of AᵀA (length d_l) and
    right[m] one of Σ (length d_{l−1}); its eigenvalue is the product of theirs. k defaults to
    K². Linear model only; no d_l d_{l−1} matrix is formed.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        k: number of eigenpairs, 1..d_l d_{l−1} (default: K²).

    Returns:
        (left k × d_l, right k × d_{l−1}, values k), the values descending
        (:func:`dnc.spectra.hessian.kronecker_top_factors`).

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, N not a multiple of K), l outside 1..L, or k outside
            1..d_l d_{l−1}.
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
    """Squared coefficients ((u_m ⊗ v_m)ᵀg)² / ‖g‖² of g on the top k eigenvectors of Hess_l.

    g = λ w^(l) + g̃^(l), and u_m ⊗ v_m are the eigenvectors of :func:`top_eigenvectors`; the
    products use (u ⊗ v)ᵀ vec(G) = uᵀ G v. ``lambda_W = 0`` gives g̃^(l). Linear model, MSE.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        lambda_W: λ_{W_l}, finite and ≥ 0.
        k: number of eigenvectors, 1..d_l d_{l−1} (default: K²).

    Returns:
        Float64 array of k squared coefficients, in the order of the eigenvalues (descending).

    Raises:
        ValueError: ``lambda_W`` negative or not finite, the checks of
            :class:`~dnc.ufm.point.Point` (shapes that do not chain, non-finite entries, N not
            a multiple of K), l outside 1..L, a gradient that is exactly zero, or k outside
            1..d_l d_{l−1}.
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
    """Gur-Ari et al.'s f_top = ‖P_top g‖² / ‖g‖², the share of g in the top eigenspace.

    P_top is the projector onto the top k (= K²) eigenvectors of Hess_l, and
    g = λ w^(l) + g̃^(l); ``lambda_W = 0`` measures the data part g̃^(l). The sum of
    :func:`top_eigenvector_coefficients`; linear model, MSE.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        lambda_W: λ_{W_l}, finite and ≥ 0.
        k: dimension of the top eigenspace, 1..d_l d_{l−1} (default: K²).

    Returns:
        f_top, a float in [0, 1].

    Raises:
        ValueError: as for :func:`top_eigenvector_coefficients`.
    """
    return float(np.sum(top_eigenvector_coefficients(H1, Ws, l, lambda_W, k)))
