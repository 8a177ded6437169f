"""Orthonormal bases of the top eigenspace of Hess_l and the coefficients of a vector in them.

Paper A Theorem 4.3 and Appendix C: "K of K²" is a statement about a basis.

When the K² outlier eigenvalues of Hess_l = AᵀA ⊗ Σ are equal, every orthonormal basis B (D×K²)
of their eigenspace is an eigenbasis, and the squared coefficients (Bᵀg)² / ‖g‖² of a vector g
depend on the choice of B; only their sum, f_top = ‖P_top g‖² / ‖g‖², does not.
"""

from __future__ import annotations

import numpy as np

from dnc.spectra.gradients import top_eigenvectors
from dnc.spectra.predictions import predicted_eigenvectors


def squared_coefficients(g, basis) -> np.ndarray:
    """(bᵀg)² / ‖g‖² for each column b of an orthonormal ``basis`` (D×k).

    Raises:
        ValueError: ``basis`` is not D×k for a g of D entries, or g is exactly zero.
    """
    g = np.asarray(g, dtype=np.float64).ravel()
    B = np.asarray(basis, dtype=np.float64)
    if B.ndim != 2 or B.shape[0] != g.size:
        raise ValueError(
            f"basis must be a {g.size}×k matrix for a vector of length {g.size}, got {B.shape}"
        )
    total = g @ g
    if total == 0:
        raise ValueError("the vector is exactly zero; its coefficients are undefined")
    return (B.T @ g) ** 2 / total


def eigh_basis(H1, Ws, l) -> np.ndarray:
    """The top K² eigenvectors u_m ⊗ v_m that LAPACK returns for the two factors, as columns.

    The factors' eigenvectors come from :func:`dnc.spectra.hessian.kronecker_top_factors`. Within
    a degenerate eigenspace this is an arbitrary basis, which another LAPACK build or driver may
    choose differently.
    """
    left, right, _ = top_eigenvectors(H1, Ws, l)
    return np.einsum("ma,mb->abm", left, right).reshape(left.shape[1] * right.shape[1], -1)


def natural_basis(H1, Ws, l) -> np.ndarray:
    """Theorem 4.1's vectors μ_c^(l+1) ⊗ μ_c'^(l), normalised, as columns ordered (c, c').

    The columns are orthonormal when the class means of both layers are orthogonal frames.
    """
    V = predicted_eigenvectors(H1, Ws, l)
    V = V.reshape(-1, V.shape[-1]).T
    return V / np.linalg.norm(V, axis=0)


def _random_basis_of_span(vectors: np.ndarray, K: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthonormal basis (d × K) of the K-dimensional span of ``vectors``' rows.

    A Gaussian d × K matrix is projected onto the span and orthonormalised (QR, R's diagonal made
    positive). It depends on the span and ``rng`` only, not on which basis of a degenerate
    eigenspace the eigensolver returned.
    """
    U = np.linalg.svd(vectors.T, full_matrices=False)[0][:, :K]
    Q, R = np.linalg.qr(U @ (U.T @ rng.standard_normal((U.shape[0], K))))
    return Q * np.sign(np.diag(R))


def rotated_product_basis(H1, Ws, l, seed: int = 0) -> np.ndarray:
    """Products U_i ⊗ V_j of random orthonormal bases of the factors' top eigenspaces, as columns.

    U and V are random orthonormal bases (drawn from ``seed``, independent of the vector to be
    expanded) of the K-dimensional top eigenspaces of the two factors AᵀA and Σ: the natural
    basis's factors turned by Haar-random K×K rotations.
    """
    left, right, _ = top_eigenvectors(H1, Ws, l)
    K = int(round(np.sqrt(left.shape[0])))
    rng = np.random.default_rng(seed)
    U, V = _random_basis_of_span(left, K, rng), _random_basis_of_span(right, K, rng)
    return np.einsum("ai,bj->abij", U, V).reshape(U.shape[0] * V.shape[0], K * K)


def basis_through(g, basis) -> np.ndarray:
    """An orthonormal basis of span(``basis``) whose first column points along g's projection.

    The first column is the projection of g onto that span, normalised: ``basis`` times the
    Householder reflection taking c = basisᵀg to |c| e_1.

    Raises:
        ValueError: g is orthogonal to the span.
    """
    B = np.asarray(basis, dtype=np.float64)
    c = B.T @ np.asarray(g, dtype=np.float64).ravel()
    if not np.any(c):
        raise ValueError("g is orthogonal to the span; no basis vector can point along it")
    w = c / np.linalg.norm(c)
    w[0] -= 1.0
    if np.linalg.norm(w) < 1e-15:  # c already points along e_1
        return B.copy()
    w /= np.linalg.norm(w)
    return B - 2.0 * np.outer(B @ w, w)
