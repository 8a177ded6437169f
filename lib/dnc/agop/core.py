"""Average gradient outer product AGOP(f, X) = (1/N) Σ_i J_f(x_i)ᵀ J_f(x_i) ∈ R^{D×D}.

J_f(x) ∈ R^{K×D} is the input Jacobian of a predictor f: R^D → R^K; X holds one ROW per sample
(N×D, batch-first as torch models take it). The Neural Feature Ansatz (NFA) says that the Gram
matrix W_lᵀW_l of a trained network's l-th weight matrix is close to a power of the AGOP taken
with respect to that layer's input; :func:`nfa_correlation` measures how close.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.func import jacrev, vmap

from dnc._checks import as_matrix, positive, positive_int


def _rows(X, name: str = "X") -> torch.Tensor:
    if isinstance(X, torch.Tensor):
        if X.ndim != 2:
            raise ValueError(f"{name} must be a 2D N×D batch, got shape {tuple(X.shape)}")
        if X.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(X.shape)}): it needs at least one row")
        if not torch.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinite entries")
        return X.detach()
    return torch.as_tensor(as_matrix(X, name))


def jacobians(f: Callable, X, chunk_size: int = 256) -> torch.Tensor:
    """The N×K×D stack of input Jacobians J_f(x_i), by ``vmap(jacrev)`` in chunks of rows.

    ``f`` must map an N×D batch to N×K outputs and treat rows independently (no batch norm).

    Args:
        f: Torch callable from an n×D batch to n×K outputs, rows processed independently.
        X: N×D inputs, one row per sample (numpy array or tensor; a numpy array becomes a
            float64 CPU tensor, a tensor keeps its dtype and device and is detached).
        chunk_size: Number of rows differentiated in one ``vmap`` call.

    Returns:
        Tensor of shape N×K×D whose i-th slice is J_f(x_i) = ∂f(x_i)/∂x_i.

    Raises:
        ValueError: ``X`` is not 2D, empty or has non-finite entries, ``chunk_size`` is not a
            positive integer, ``f`` fails on a row of ``X``, or ``f`` does not return a 1×K output
            for a single row.
    """
    X = _rows(X)
    chunk_size = positive_int(chunk_size, "chunk_size")

    try:
        f(X[:1])
    except RuntimeError as err:  # torch's message from inside f: say which input it was
        raise ValueError(
            f"f fails on a 1×{X.shape[1]} row of X (is X's dimension D = {X.shape[1]} the input "
            f"size f expects?): {err}"
        ) from err

    def single(x):
        out = f(x.unsqueeze(0))
        if out.ndim != 2 or out.shape[0] != 1:
            raise ValueError(
                f"f must map an N×D batch to N×K outputs, got shape {tuple(out.shape)}"
            )
        return out[0]

    jac = vmap(jacrev(single))
    return torch.cat([jac(X[i : i + chunk_size]) for i in range(0, X.shape[0], chunk_size)])


def agop(f: Callable, X, chunk_size: int = 256) -> np.ndarray:
    """AGOP(f, X) = (1/N) Σ_i J_f(x_i)ᵀ J_f(x_i), returned as a float64 D×D numpy array.

    Memory is bounded by ``chunk_size``: only one chunk of Jacobians is held at a time.

    Args:
        f: Torch callable from an n×D batch to n×K outputs, rows processed independently
            (as for :func:`jacobians`).
        X: N×D inputs, one row per sample.
        chunk_size: Number of rows whose Jacobians are held at once.

    Returns:
        The D×D float64 matrix (1/N) Σ_i J_f(x_i)ᵀ J_f(x_i), symmetric positive semi-definite.

    Raises:
        ValueError: ``X`` is not 2D or has non-finite entries, ``chunk_size`` is not a positive
            integer, or ``f`` has the wrong output shape.
    """
    X = _rows(X)
    chunk_size = positive_int(chunk_size, "chunk_size")
    D = X.shape[1]
    total = torch.zeros(D, D, dtype=torch.float64, device=X.device)
    for i in range(0, X.shape[0], chunk_size):
        J = jacobians(f, X[i : i + chunk_size], chunk_size).detach().to(torch.float64)
        total += torch.einsum("nkd,nke->de", J, J)
    return (total / X.shape[0]).cpu().numpy()


def layer_agops(model, X, chunk_size: int = 256) -> list[np.ndarray]:
    """AGOP of the network with respect to the input of each weight layer l.

    AGOP_l = (1/N) Σ_i J_l(h_{l−1,i})ᵀ J_l(h_{l−1,i}), where J_l is the Jacobian of the map from
    layer l's input h_{l−1} to the network output. ``model`` must offer ``layer_inputs(X)`` (the
    list of h_{l−1}, each N×d_{l−1}) and ``forward_from(l, h)`` (the network from layer l on), as
    :class:`dnc.agop.mlp.MLP` does.

    Args:
        model: Torch module with ``parameters()``, ``layer_inputs`` and ``forward_from``; ``X`` is
            cast to the dtype of its first parameter.
        X: N×D network inputs, one row per sample.
        chunk_size: Number of rows whose Jacobians are held at once.

    Returns:
        One float64 d_{l−1}×d_{l−1} matrix AGOP_l per weight layer, in layer order.

    Raises:
        ValueError: ``X`` is not 2D or has non-finite entries, or ``chunk_size`` is not a
            positive integer.
    """
    X = _rows(X).to(next(model.parameters()).dtype)
    with torch.no_grad():
        inputs = model.layer_inputs(X)
    return [
        agop(lambda h, l=l: model.forward_from(l, h), H, chunk_size) for l, H in enumerate(inputs)
    ]


# Negative eigenvalues down to −PSD_RTOL·max|λ| are rounding (of float32 products, say) and are
# clipped to 0; anything more negative means M is not positive semi-definite.
PSD_RTOL = 1e-6


def psd_power(M, power: float, name: str = "M") -> np.ndarray:
    """M^p = V diag(max(λ, 0)^p) Vᵀ for a symmetric PSD matrix M = V diag(λ) Vᵀ.

    M must be symmetric to rounding (‖M − Mᵀ‖_F ≤ 1e-8 ‖M‖_F): eigh would silently use one
    triangle only. The eigendecomposition is taken of (M + Mᵀ)/2, and negative eigenvalues of
    rounding size (down to −:data:`PSD_RTOL` · max|λ|) are clipped to 0.

    Args:
        M: n×n symmetric positive semi-definite matrix (numpy array or tensor).
        power: Exponent p > 0 (p = 1/2 gives the PSD square root).
        name: The argument's name in error messages.

    Returns:
        The n×n float64 matrix M^p.

    Raises:
        ValueError: ``M`` is not a finite square matrix, ``power`` is not a positive finite
            number, ‖M − Mᵀ‖_F > 1e-8 ‖M‖_F, or an eigenvalue is below −PSD_RTOL · max|λ|.
    """
    M = as_matrix(M, name)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be square, got shape {M.shape}")
    positive(power, "power")
    asym = float(np.linalg.norm(M - M.T))
    if asym > 1e-8 * max(float(np.linalg.norm(M)), 1e-300):
        raise ValueError(
            f"{name} must be symmetric, got ‖{name} − {name}ᵀ‖_F = {asym:.3g} against "
            f"‖{name}‖_F = {np.linalg.norm(M):.3g}"
        )
    vals, vecs = np.linalg.eigh((M + M.T) / 2)
    if vals[0] < -PSD_RTOL * max(float(np.abs(vals).max()), 1e-300):
        raise ValueError(
            f"{name} must be positive semi-definite: its smallest eigenvalue is {vals[0]:.3g} "
            f"against a largest |eigenvalue| of {np.abs(vals).max():.3g}"
        )
    return (vecs * np.clip(vals, 0.0, None) ** power) @ vecs.T


def pearson(A, B) -> float:
    """Pearson correlation of the entries: ⟨A − Ā, B − B̄⟩ / (‖A − Ā‖_F ‖B − B̄‖_F).

    Ā and B̄ are the means over all entries, so the matrices are compared as flattened vectors.

    Args:
        A: Matrix of any shape m×n.
        B: Matrix of the same shape as ``A``.

    Returns:
        The correlation, a float in [−1, 1].

    Raises:
        ValueError: either matrix is not a finite 2D array, the shapes differ, or either matrix
            is constant (its centred entries are all zero).
    """
    A, B = as_matrix(A, "A"), as_matrix(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {A.shape} and {B.shape}")
    a, b = A.ravel() - A.mean(), B.ravel() - B.mean()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    if denom == 0:
        raise ValueError("a constant matrix has no correlation")
    return float(a @ b / denom)


def nfa_correlation(W, G, power: float = 0.5) -> float:
    """NFA correlation ρ(WᵀW, G^p): Pearson correlation of the entries of WᵀW and G^p.

    ``W`` is a layer's d_out×d_in weight matrix, ``G`` the d_in×d_in AGOP w.r.t. its input;
    p = 1/2 and p = 1 are the two versions of the ansatz in the literature.

    Args:
        W: d_out×d_in weight matrix of the layer.
        G: d_in×d_in AGOP with respect to the layer's input (symmetric PSD).
        power: Exponent p of G^p, computed by :func:`psd_power`.

    Returns:
        :func:`pearson` (WᵀW, G^p), a float in [−1, 1].

    Raises:
        ValueError: ``G`` is not d_in×d_in, or the checks of :func:`psd_power` and
            :func:`pearson` fail (non-finite entries, asymmetric ``G``, a constant matrix).
    """
    W = as_matrix(W, "W")
    G = as_matrix(G, "G")
    if G.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"G must be {W.shape[1]}×{W.shape[1]} to match W {W.shape}, got {G.shape}")
    return pearson(W.T @ W, psd_power(G, power, name="G"))
