"""The layer Hessian Hess_l = ∂²ℓ/∂W_l² of a network's data term, and its top eigenpairs.

ℓ = Av_i loss(f(x_i), y_i) with loss ½‖f − e_y‖² (``"mse"``, the UFM's data term) or the
cross-entropy (``"ce"``). Three routes, all exact:

- **Affine tail, MSE** (f = A z + c after the layer): Hess_l = S ⊗ Σ with S = AᵀA and
  Σ = Av_i h_i h_iᵀ, so its eigenvalues are the products of the factors' and its eigenvectors
  the Kronecker products of theirs (chapter "The layer Hessian is a Kronecker product").
- **Affine tail, CE**: Hess_l = Av_i AᵀS_iA ⊗ h_i h_iᵀ, S_i = diag p_i − p_i p_iᵀ (chapter
  "Cross-entropy"); its eigenvalues come from the book's Gram route and its top eigenvectors
  from Lanczos on V ↦ Aᵀ·Av_i[S_i(AVh_i) h_iᵀ], from the layer's inputs and softmax outputs.
- **Any other tail**: Hessian-vector products of the loss by forward-over-reverse automatic
  differentiation (``torch.func.jvp`` of ``torch.func.grad``), through the tail alone when it is a
  chain of modules and through the whole network otherwise.

The top eigenpairs come from the certified solver of :mod:`dnc.spectra.top_eigen` on the D×D
matrix when D = d_out·d_in is small enough to build it from D products (:data:`DENSE_MAX`), and
from Lanczos on the products (``eigsh``, float64) otherwise, with the residual
max_j ‖Hv_j − λ_j v_j‖/λ_1 reported: by Kahan's theorem each λ_j is within that of an eigenvalue.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from dnc.spectra.hessian import gram_spectrum
from dnc.spectra.top_eigen import matrix_top_eigenpairs

# Build the D×D matrix from D products when D is at most this (tiny layers, tests).
DENSE_MAX = 600


def data_term(out: torch.Tensor, y: torch.Tensor, loss: str, N: int) -> torch.Tensor:
    """Σ_{i in batch} loss(f(x_i), y_i) / N: one batch's share of the data term ℓ."""
    if loss == "mse":
        target = torch.nn.functional.one_hot(y, out.shape[1]).to(out.dtype)
        return (out - target).square().sum() / (2 * N)
    return torch.nn.functional.cross_entropy(out, y, reduction="sum") / N


def hvp_operator(loss_of_weight, batches, W: torch.Tensor):
    """V ↦ Hess V at the weight W, summed over the batches of ``batches()``.

    ``loss_of_weight(W, batch)`` is the batch's share of ℓ as a function of the layer's weight;
    the product is forward-over-reverse, jvp(grad(ℓ), W; V).
    """
    W = W.detach()

    def product(V: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(W)
        for batch in batches():
            grad = torch.func.grad(lambda w, b=batch: loss_of_weight(w, b))
            with torch.no_grad():
                total += torch.func.jvp(grad, (W,), (V,))[1]
        return total

    return product


def top_eigenpairs(product, W: torch.Tensor, k: int):
    """(values descending, vectors D × k, residual) of the top k eigenpairs of V ↦ product(V).

    The vectors are row-major vec of d_out × d_in matrices. ``W`` is the layer's weight, at which
    the product is taken; k is cut to D − 2 for Lanczos (to D for the dense route).
    """
    shape, D = tuple(W.shape), W.numel()
    count = [0]

    def matvec(v):
        count[0] += 1
        V = torch.as_tensor(np.ravel(v), dtype=W.dtype, device=W.device).reshape(shape)
        return product(V).reshape(-1).cpu().numpy().astype(np.float64)

    if D <= DENSE_MAX:
        dense = np.column_stack([matvec(e) for e in np.eye(D)])
        vals, vecs = matrix_top_eigenpairs((dense + dense.T) / 2, min(k, D))
        return vals, vecs, 0.0, count[0]
    k = min(k, D - 2)
    op = LinearOperator((D, D), matvec=matvec, dtype=np.float64)
    start = np.random.default_rng(0).standard_normal(D)
    vals, vecs = eigsh(op, k=k, which="LA", v0=start, tol=1e-10, ncv=min(D, max(2 * k + 1, 20)))
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    scale = max(abs(vals[0]), 1e-300)
    residual = max(np.linalg.norm(matvec(vecs[:, j]) - vals[j] * vecs[:, j]) for j in range(k))
    return vals, vecs, float(residual / scale), count[0]


def kronecker_top(S: np.ndarray, Sigma: np.ndarray, k: int):
    """Top k eigenpairs of S ⊗ Σ from the factors' (MSE, affine tail).

    Returns (values descending, factor indices (k, 2) of the pairs (a, b) giving u_a ⊗ w_b, the
    factors' eigenvectors U (d_out × d_out) and Wv (d_in × d_in), tr(S ⊗ Σ) = tr S · tr Σ).
    """
    s_vals, s_vecs = np.linalg.eigh((S + S.T) / 2)
    w_vals, w_vecs = np.linalg.eigh((Sigma + Sigma.T) / 2)
    s_vals, w_vals = np.clip(s_vals, 0.0, None), np.clip(w_vals, 0.0, None)
    products = np.outer(s_vals, w_vals).ravel()
    k = min(k, products.size)
    top = np.argpartition(-products, k - 1)[:k]
    top = top[np.argsort(-products[top], kind="stable")]
    pairs = np.stack(np.unravel_index(top, (s_vals.size, w_vals.size)), axis=1)
    return products[top], pairs, s_vecs, w_vecs, float(s_vals.sum() * w_vals.sum())


def orthonormal_basis(M: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis of the column span of M (singular values below rtol·σ_1 dropped)."""
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return U[:, :0]
    return U[:, s > rtol * s[0]]


def subspace_overlap(vectors: np.ndarray, upper: np.ndarray, lower: np.ndarray, shape) -> float:
    """Av_j ‖P v_j‖², P the projector on span(upper) ⊗ span(lower), v_j the unit columns.

    1 when every vector lies in the predicted space, about dim/D for random vectors.
    """
    U, L = orthonormal_basis(upper), orthonormal_basis(lower)
    V = vectors.T.reshape(-1, *shape)
    return float(np.mean(np.sum((U.T @ V @ L) ** 2, axis=(1, 2))))


def factor_alignment(M: np.ndarray, X: np.ndarray) -> np.ndarray:
    """f_M(x) = (xᵀMx)²/(‖x‖²‖Mx‖²) for each column x of X."""
    MX = M @ X
    return np.sum(X * MX, axis=0) ** 2 / (np.sum(X**2, axis=0) * np.sum(MX**2, axis=0))


def alignments(product, upper: np.ndarray, lower: np.ndarray, like: torch.Tensor) -> np.ndarray:
    """K×K f_cc' = (vᵀHv)²/(‖v‖²‖Hv‖²) for v = μ_c^(l+1) ⊗ μ_c'^(l), one product each."""
    K = upper.shape[1]
    out = np.empty((K, K))
    for c in range(K):
        for e in range(K):
            V = torch.as_tensor(
                np.outer(upper[:, c], lower[:, e]), dtype=like.dtype, device=like.device
            )
            HV = product(V)
            out[c, e] = float((V * HV).sum()) ** 2 / float(V.square().sum() * HV.square().sum())
    return out


def ce_product(A: torch.Tensor, H: torch.Tensor, P: torch.Tensor):
    """V ↦ Aᵀ·Av_i[S_i(AVh_i)h_iᵀ], S_i = diag p_i − p_i p_iᵀ: the CE Hess_l of an affine tail.

    A is K × d_out, H the N × d_in layer inputs, P the N × K softmax outputs.
    """
    N = H.shape[0]

    def product(V: torch.Tensor) -> torch.Tensor:
        U = H @ (A @ V).T  # rows u_i = A V h_i
        T = P * U - P * (P * U).sum(1, keepdim=True)  # rows S_i u_i
        return A.T @ (T.T @ H) / N

    return product


def ce_spectrum(A: torch.Tensor, H: torch.Tensor, P: torch.Tensor) -> np.ndarray:
    """Every eigenvalue of the CE Hess_l of an affine tail, descending: the book's Gram route.

    Hess_l = (1/N) JᵀJ with rows (B_iA)_c ⊗ h_i, B_i = diag(√p_i)(I − 1p_iᵀ); the eigenvalues
    come from the smaller of JᵀJ and JJᵀ (:func:`dnc.spectra.hessian.gram_spectrum`).
    """
    A, H, P = (t.detach().cpu().numpy() for t in (A, H, P))
    mixed = A[None] - np.einsum("ik,kd->id", P, A)[:, None, :]  # a_c − Σ_k p_ik a_k
    factors = np.sqrt(P)[:, :, None] * mixed
    return gram_spectrum(
        np.ascontiguousarray(factors), np.ascontiguousarray(H.T), A.shape[1] * H.shape[1]
    )
