"""Layer-wise Hessian of the deep UFM's data term with respect to W_l (paper A §4.1, App. A, B, F).

    Hess_l = (1/N) Σ_i Ã_iᵀ Ã_i ⊗ x_i x_iᵀ,   Ã_i = ∂f(x_i)/∂(W_l x_i) ∈ R^{K×d_l},  x_i = h_i^(l),

flattened row-major ((W_l)_{ab} is entry a·d_{l−1} + b of w_l). For the linear model Ã_i = A^(l+1)
for every sample, so Hess_l = A^(l+1)ᵀA^(l+1) ⊗ Av{h h ᵀ} (Theorem 4.1's starting point). The MSE
loss has identity output Hessian and f is linear in W_l, so E_l = 0 and Hess_l = G_l = (1/N) JᵀJ,
J having one row v_icc' = ã_ic' ⊗ x_i per (sample, output): the Gauss–Newton form that gives
Papyan's class/cross-class decomposition.

Cross-entropy (``loss="ce"``, the later version of paper A): f is still (piecewise) linear in W_l,
so E_l = 0 and Hess_l = (1/N) Σ_i J_iᵀ S_i J_i with S_i = diag p_i − p_i p_iᵀ, p_i = softmax(z_i).
With S_i = B_iᵀB_i, B_i = diag(√p_i)(I − 1 p_iᵀ), every MSE formula below holds with Ã_i replaced
by B_i Ã_i, whose row c' is √p_ic' (ã_ic' − Σ_k p_ik ã_ik): Papyan's weighted extended gradients.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import eigh

from dnc._checks import as_vector, positive_int
from dnc.device import one_blas_thread
from dnc.spectra import top_eigen
from dnc.spectra._linalg import alignments, eigvalsh, hessian_matvecs, pad_descending
from dnc.ufm import check_loss
from dnc.ufm.point import Point


def jacobian_factors(H1, Ws, l, activation: str = "linear", loss: str = "mse"):
    """(Ã, X): Ã_i = ∂f(x_i)/∂(W_l x_i) stacked as (N, K, d_l), and X = h^(l) (d_{l−1} × N).

    Every Hess_l quantity of this module is computed from these factors.
    :meth:`dnc.ufm.point.Point.factors` states the formulas for ReLU and cross-entropy.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the factors B_iÃ_i of the cross-entropy Hessian.

    Returns:
        (Ã, X) as float64 arrays of shapes (N, K, d_l) and d_{l−1} × N.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            or an unknown loss.
    """
    return Point(H1, Ws, activation).factors(l, loss)


def layer_hessian(H1, Ws, l, activation: str = "linear", loss: str = "mse") -> np.ndarray:
    """Dense Hess_l (d_l d_{l−1} × d_l d_{l−1}) of the data term, no regularisation.

    Linear MSE: A^(l+1)ᵀA^(l+1) ⊗ X Xᵀ/N; otherwise (1/N) JᵀJ with J's NK rows ã_ic ⊗ x_i. The
    whole matrix is formed, so this is for small layers; :func:`layer_hessian_spectrum` and
    :func:`top_eigenpairs` avoid it.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        Float64 array, rows and columns in the row-major flattening of W_l.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            or an unknown loss.
    """
    At, X = jacobian_factors(H1, Ws, l, activation, loss)
    N = X.shape[1]
    if activation == "linear" and loss == "mse":
        A = At[0]
        return np.kron(A.T @ A, X @ X.T / N)
    J = np.einsum("ica,bi->icab", At, X).reshape(N * At.shape[1], -1)
    return J.T @ J / N


def autograd_layer_hessian(H1, Ws, l, activation: str = "linear", loss: str = "mse") -> np.ndarray:
    """Reference Hess_l by ``torch.func.hessian`` of the data term (tests and benchmarks only).

    The data term is written out again in torch, independently of the Jacobian factors, so that
    the two computations check each other.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        Dense float64 array (d_l d_{l−1} × d_l d_{l−1}), row-major flattening of W_l.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), an unknown loss,
            or l outside 1..L.
    """
    point = Point(H1, Ws, activation)  # the same checks as the fast routes
    check_loss(loss)
    H1, Ws, l = point.H1, point.Ws, point.layer(l)
    Ht, Wt = torch.tensor(H1), [torch.tensor(W) for W in Ws]
    K, N = Ws[-1].shape[0], H1.shape[1]
    Y = torch.tensor(np.kron(np.eye(K), np.ones((1, N // K))))

    def data_term(w):
        x = Ht
        for m, W in enumerate(Wt):
            x = (w.reshape(W.shape) if m == l - 1 else W) @ x
            if activation == "relu" and m < len(Wt) - 1:
                x = x.clamp_min(0.0)
        if loss == "ce":
            return -(torch.log_softmax(x, dim=0) * Y).sum() / N
        return ((x - Y) ** 2).sum() / (2 * N)

    return torch.func.hessian(data_term)(Wt[l - 1].reshape(-1)).numpy()


def layer_gram(At, X) -> np.ndarray:
    """The NK×NK Gram (1/N) J Jᵀ of the layer Jacobian J, from its factors (Ã, X).

    The factors are those of :func:`jacobian_factors`. Entry (ic, je) = (ã_ic · ã_je)(x_i · x_j)/N;
    its nonzero eigenvalues are those of Hess_l.

    Args:
        At: Ã, shape (N, K, d_l).
        X: h^(l), shape d_{l−1} × N.

    Returns:
        Float64 array NK × NK, row and column ic at index i·K + c.
    """
    N, K, d = At.shape
    rows = At.reshape(N * K, d)
    gram = rows @ rows.T  # (ã_ic · ã_je), scaled in place by (x_i · x_j)/N below
    gram.reshape(N, K, N, K)[...] *= (X.T @ X / N)[:, None, :, None]
    return gram


def gram_spectrum(At, X, dim: int) -> np.ndarray:
    """Eigenvalues of (1/N) JᵀJ, descending, from the smaller of (1/N) JᵀJ and (1/N) J Jᵀ.

    Usually from the NK×NK Gram (1/N) J Jᵀ, padded with zeros to ``dim``; when the Hessian is the
    smaller of the two (D = d_l d_{l−1} < NK, e.g. many samples through a narrow layer) from
    (1/N) JᵀJ itself, formed by one product of J's NK rows ã_ic ⊗ x_i.
    """
    N, K, d = At.shape
    if dim < N * K:
        J = np.einsum("ica,bi->icab", At, X).reshape(N * K, dim)
        with one_blas_thread():
            hess = J.T @ J / N
            vals = eigvalsh(hess, overwrite=True)
        return np.sort(np.clip(vals, 0.0, None))[::-1]
    with one_blas_thread():
        vals = eigvalsh(layer_gram(At, X), overwrite=True)
    vals = np.clip(vals, 0.0, None)
    return pad_descending(vals, dim)


def layer_hessian_spectrum(H1, Ws, l, activation: str = "linear", loss: str = "mse") -> np.ndarray:
    """All d_l d_{l−1} eigenvalues of Hess_l, descending, without forming Hess_l.

    This is :func:`spectrum_at` of the model at (H1, Ws), which states how.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        Float64 array of length d_l d_{l−1}, descending, negative round-off clipped to 0.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            or an unknown loss.
    """
    return spectrum_at(Point(H1, Ws, activation), l, loss)


def spectrum_at(point: Point, l, loss: str = "mse") -> np.ndarray:
    """All d_l d_{l−1} eigenvalues of Hess_l at ``point``, descending, without forming Hess_l.

    Linear MSE: eig(A ᵀA ⊗ Σ) = {α_i σ_j}, products of the factors' eigenvalues (O(d³)).
    ReLU or CE: the nonzero eigenvalues of (1/N) JᵀJ are those of the NK×NK Gram (1/N) JJᵀ with
    entries (ã_ic·ã_je)(x_i·x_j)/N (ã rows of B_iÃ_i for CE); the rest are zero. When
    D = d_l d_{l−1} < NK, the D×D matrix (1/N) JᵀJ is the smaller and is formed instead.

    Args:
        point: the model, checked once.
        l: the layer, 1-based (1..L).
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        Float64 array of length d_l d_{l−1}, descending, negative round-off clipped to 0.

    Raises:
        ValueError: l outside 1..L, or an unknown loss.
    """
    At, X = point.factors(l, loss)
    dim = At.shape[2] * X.shape[0]
    if point.activation == "linear" and loss == "mse":
        A = At[0]
        left = np.clip(eigvalsh(A.T @ A), 0.0, None)
        right = np.clip(eigvalsh(X @ X.T / X.shape[1]), 0.0, None)
        return pad_descending(np.outer(left, right).ravel(), dim)
    return gram_spectrum(At, X, dim)


def hessian_matvec(H1, Ws, l, v, activation: str = "linear", loss: str = "mse") -> np.ndarray:
    """Hess_l v for a flattened v (length d_l d_{l−1}), without forming Hess_l.

    Hess_l v = (1/N) Σ_i vec(Ã_iᵀ Ã_i V x_i x_iᵀ) with V = unvec(v), row-major.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        v: d_l d_{l−1} numbers, in any shape that flattens row-major to vec V.
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        Float64 vector of length d_l d_{l−1}.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            an unknown loss, or a v without d_l d_{l−1} finite entries.
    """
    At, X = jacobian_factors(H1, Ws, l, activation, loss)
    V = as_vector(v, At.shape[2] * X.shape[0]).reshape(1, At.shape[2], X.shape[0])
    return hessian_matvecs(At, X, V)[0].ravel()


def rayleigh_alignment(H1, Ws, l, v, activation: str = "linear", loss: str = "mse") -> float:
    """|vᵀ Hess_l v|² / (‖v‖² ‖Hess_l v‖²) ∈ [0, 1], paper A's f_cc' for a direction v.

    It equals 1 iff v is an eigenvector of Hess_l, and is 0 where v or Hess_l v vanishes.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        v: d_l d_{l−1} numbers, in any shape that flattens row-major to vec V.
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        The alignment, a float in [0, 1].

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            an unknown loss, or a v without d_l d_{l−1} finite entries.
    """
    hv = hessian_matvec(H1, Ws, l, v, activation, loss)  # checks v
    v = np.asarray(v, dtype=np.float64).ravel()
    return float(alignments(v[None], hv[None])[0])


# ---------------------------------------------------------------------------------------------
# Papyan's decomposition G_l = G_class + G_cross + G_within (paper A eq. 3, App. B)
# ---------------------------------------------------------------------------------------------

COMPONENTS = ("class", "cross", "within")


def papyan_vectors(
    H1, Ws, l, activation: str = "linear", K: int | None = None, loss: str = "mse"
) -> np.ndarray:
    """v_icc' = ã_ic' ⊗ x_ic as an array (K, n, K, D): class c, sample i, output c'.

    D = d_l d_{l−1} is the flattened dimension. CE: ã_ic' = √p_icc' (ã_ic' − Σ_k p_ick ã_ick),
    Papyan's weighted extended gradients. The columns of H1 must be ordered by class, n per class
    (as in the UFM).

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        K: number of classes (default: the number of outputs, the rows of W_L).
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        Float64 array (K, n, K_out, D), K_out the number of outputs.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            an unknown loss, or N not a multiple of the given ``K``.
    """
    At, X = jacobian_factors(H1, Ws, l, activation, loss)
    N, Kout, dl = At.shape
    K = Kout if K is None else K
    if N % K:
        raise ValueError(f"N = {N} columns cannot be split into K = {K} equal classes")
    n = N // K
    V = np.einsum("ica,bi->icab", At, X).reshape(N, Kout, dl * X.shape[0])
    return V.reshape(K, n, Kout, -1)


def papyan_components(
    H1, Ws, l, activation: str = "linear", loss: str = "mse"
) -> dict[str, np.ndarray]:
    """Papyan's three components of Hess_l = G_class + G_cross + G_within, each as rows U, G = UᵀU.

    v_cc' = Av_i v_icc', v_c = Av_c' v_cc';  G_class = Σ_c v_c v_cᵀ,
    G_cross = Σ_{c,c'} (1/K)(v_cc' − v_c)(·)ᵀ,  G_within = Σ_{c,c'} (1/K) Av_i (v_icc' − v_cc')(·)ᵀ.

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        {``"class"``: U of shape K × D, ``"cross"``: K² × D, ``"within"``: K²n × D}, with
        D = d_l d_{l−1}; the three Gram matrices UᵀU sum to Hess_l.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            or an unknown loss.
    """
    V = papyan_vectors(H1, Ws, l, activation, loss=loss)
    K, n, Kout, D = V.shape
    v_cc = V.mean(axis=1)  # (K, Kout, D)
    v_c = v_cc.mean(axis=1)  # (K, D)
    return {
        "class": v_c,
        "cross": ((v_cc - v_c[:, None, :]) / np.sqrt(Kout)).reshape(-1, D),
        "within": ((V - v_cc[:, None]) / np.sqrt(Kout * n)).reshape(-1, D),
    }


def lowrank_spectrum(U: np.ndarray, dim: int | None = None) -> np.ndarray:
    """Eigenvalues of UᵀU (descending, padded with zeros to ``dim``) from the smaller Gram.

    The smaller of U Uᵀ and UᵀU is diagonalised; the two share their nonzero eigenvalues.

    Args:
        U: (m, D) rows.
        dim: length of the result (default: D).

    Returns:
        Float64 array of length ``dim``, descending, negative round-off clipped to 0.
    """
    U = np.asarray(U, dtype=np.float64)
    dim = U.shape[1] if dim is None else dim
    with one_blas_thread():
        small = U @ U.T if U.shape[0] <= U.shape[1] else U.T @ U
        vals = eigvalsh(small, overwrite=True)
    return pad_descending(np.clip(vals, 0.0, None), dim)


def knockout_spectra(
    H1, Ws, l, activation: str = "linear", loss: str = "mse"
) -> dict[str, np.ndarray]:
    """Spectra of Hess_l and of Hess_l minus each Papyan component (descending, full length).

    Since the three components sum to Hess_l exactly, each knockout is the spectrum of the other
    two together (:func:`papyan_components`, :func:`lowrank_spectrum`).

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        {``"Hess"``, ``"minus class"``, ``"minus cross"``, ``"minus within"``: float64 array of
        length d_l d_{l−1}, descending}.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            or an unknown loss.
    """
    parts = papyan_components(H1, Ws, l, activation, loss)
    dim = parts["class"].shape[1]
    out = {"Hess": lowrank_spectrum(np.vstack(list(parts.values())), dim)}
    for name in COMPONENTS:
        rest = np.vstack([parts[k] for k in COMPONENTS if k != name])
        out[f"minus {name}"] = lowrank_spectrum(rest, dim)
    return out


def outlier_count(eigenvalues, max_count: int, rtol: float = 1e-12) -> int:
    """Number of outliers: the position of the largest ratio λ_i/λ_{i+1} among the top eigenvalues.

    The top ``max_count + 1`` eigenvalues (descending) are compared, after lifting values below
    ``rtol · λ_max`` to it (so that round-off among zero eigenvalues cannot pose as a gap).

    Args:
        eigenvalues: a spectrum, in any order.
        max_count: the largest count that can be returned, at least 1.
        rtol: the floor, relative to the largest eigenvalue.

    Returns:
        An int in 1..``max_count``; 0 when there are fewer than two eigenvalues or the largest is
        not positive.

    Raises:
        ValueError: ``max_count`` is not a positive integer.
    """
    max_count = positive_int(max_count, "max_count")
    vals = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    if vals.size < 2 or vals[0] <= 0:
        return 0
    vals = np.maximum(vals, rtol * vals[0])
    m = min(int(max_count) + 1, vals.size)
    ratios = np.log(vals[: m - 1]) - np.log(vals[1:m])
    return int(np.argmax(ratios)) + 1


# ---------------------------------------------------------------------------------------------
# Eigenvectors of Hess_l and the share of a vector along them (paper A §4.2, App. F.3)
# ---------------------------------------------------------------------------------------------


def top_eigenpairs(H1, Ws, l, k: int, activation: str = "linear", loss: str = "mse"):
    """(eigenvalues, eigenvectors D×k) of the top k of Hess_l = (1/N) JᵀJ, without forming Hess_l.

    Through the Gram (1/N) J Jᵀ = W Λ Wᵀ (only its top k eigenpairs, by certified Lanczos or
    LAPACK's subset solver, :mod:`dnc.spectra.top_eigen`): the eigenvectors are
    Jᵀ w_j / √(N λ_j), i.e. vec(Σ_i (Σ_c w_ic,j ã_ic) x_iᵀ) / √(N λ_j). Linear MSE: from the
    eigenpairs of the two Kronecker factors instead (:func:`kronecker_top_factors`).

    Args:
        H1: H_1, the features entering W_1, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        l: the layer, 1-based (1..L).
        k: number of eigenpairs, 1..NK.
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"``, or ``"ce"`` for the cross-entropy Hessian.

    Returns:
        (values, vectors): the k largest eigenvalues, descending, and orthonormal eigenvectors as
        the columns of a D × k array, D = d_l d_{l−1}, rows in the row-major flattening of W_l.

    Raises:
        ValueError: the checks of :class:`~dnc.ufm.point.Point` (shapes that do not chain,
            non-finite entries, an unknown activation, N not a multiple of K), l outside 1..L,
            an unknown loss, k outside 1..NK, or fewer than k positive eigenvalues found.
    """
    At, X = jacobian_factors(H1, Ws, l, activation, loss)
    N, K, d = At.shape
    k = positive_int(k, "k")
    rank_bound = min(N * K, d * X.shape[0])
    if k > rank_bound:
        raise ValueError(
            f"k = {k} exceeds the rank bound of Hess_l, min(NK, d_l d_(l-1)) = {rank_bound}"
        )
    if activation == "linear" and loss == "mse":
        return _kronecker_top(At[0], X, k)
    with one_blas_thread():
        vals, vecs = top_eigen.matrix_top_eigenpairs(layer_gram(At, X), k, overwrite=True)
    if np.any(vals <= 1e-12 * max(float(vals.max()), 1e-300)):
        raise ValueError(f"Hess_l has fewer than k = {k} nonzero eigenvalues")
    left = np.matmul(At.transpose(0, 2, 1), vecs.reshape(N, K, k))  # (N, d_l, k): Σ_c w_ic,j ã_ic
    out = X @ left.reshape(N, d * k)  # (d_{l−1}, d_l k): Σ_i x_i ⊗ (Σ_c w_ic,j ã_ic)
    out = out.reshape(-1, d, k).transpose(1, 0, 2).reshape(-1, k)  # rows (a, b), row-major
    return vals, out / np.sqrt(N * vals)


def kronecker_top_factors(A, X, k: int):
    """The top k eigenpairs of AᵀA ⊗ Σ (Σ = X Xᵀ/N, the linear model's Hess_l) in factored form.

    Eigenvector m is left[m] ⊗ right[m], with eigenvalue α_i σ_j, the product of the factors'
    eigenvalues (negative round-off clipped to 0).

    Args:
        A: A^(l+1) = W_L ⋯ W_{l+1}, K × d_l.
        X: h^(l), d_{l−1} × N.
        k: number of eigenpairs; beyond d_l d_{l−1}, all of them are returned.

    Returns:
        (left k×d_l, right k×d_{l−1}, values k), the values descending and the factors unit
        vectors.
    """
    with one_blas_thread():
        a_vals, a_vecs = eigh(A.T @ A, driver="evr", check_finite=False)
        s_vals, s_vecs = eigh(X @ X.T / X.shape[1], driver="evr", check_finite=False)
    prods = np.outer(np.clip(a_vals, 0.0, None), np.clip(s_vals, 0.0, None))
    order = np.argsort(prods, axis=None, kind="stable")[::-1][:k]
    i, j = np.unravel_index(order, prods.shape)
    return a_vecs[:, i].T, s_vecs[:, j].T, prods[i, j]


def _kronecker_top(A, X, k: int):
    """:func:`kronecker_top_factors` with the eigenvectors formed (D×k).

    A ValueError when fewer than k eigenvalues are nonzero (above 10⁻¹⁴ of the largest).
    """
    left, right, vals = kronecker_top_factors(A, X, k)
    if np.any(vals <= 1e-14 * max(vals.max(), 1e-300)):
        raise ValueError(f"Hess_l has fewer than k = {k} nonzero eigenvalues")
    vecs = np.einsum("ma,mb->abm", left, right).reshape(-1, k)
    return vals, vecs


def coefficients(g, vectors) -> np.ndarray:
    """(vᵀg)² / (‖v‖² ‖g‖²) for each column v of ``vectors``: the share of g along v.

    Args:
        g: a vector of D entries, in any shape that flattens to it.
        vectors: D × m, one vector per column.

    Returns:
        m shares in [0, 1]; NaN where g or the column is zero.

    Raises:
        ValueError: the size of ``vectors`` is not a multiple of D (numpy's reshape error).
    """
    g = np.asarray(g, dtype=np.float64).ravel()
    V = np.asarray(vectors, dtype=np.float64).reshape(g.size, -1)
    return (V.T @ g) ** 2 / (np.sum(V**2, axis=0) * (g @ g))
