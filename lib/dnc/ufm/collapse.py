"""Deep neural collapse of a deep UFM, layer by layer (paper A Theorem 3.1).

For l = 1..L: class means H̄^(l) = [μ_1^(l), …, μ_K^(l)] of the layer input h^(l), the products
A^(l) = W_L⋯W_l, and α^(l) with A^(l) ≈ α^(l) H̄^(l)ᵀ (least squares: α = ⟨A, H̄ᵀ⟩_F / ‖H̄‖_F²).
"""

from __future__ import annotations

import numpy as np

from dnc import metrics
from dnc.ufm.point import Point


def layer_class_means(H1, Ws, activation: str = "linear") -> list[np.ndarray]:
    """[H̄^(1), …, H̄^(L+1)]: class means of every layer input, and of the output last."""
    return Point(H1, Ws, activation).means


def scaling_constant(A, means) -> tuple[float, float]:
    """(α, residual): the least-squares α in A ≈ α H̄ᵀ and ‖A − α H̄ᵀ‖_F / ‖A‖_F."""
    A, M = np.asarray(A, dtype=np.float64), np.asarray(means, dtype=np.float64)
    if A.shape != M.T.shape:
        raise ValueError(f"A has shape {A.shape} but the class means give {M.T.shape}")
    alpha = float(np.sum(A * M.T) / np.sum(M**2))
    return alpha, float(np.linalg.norm(A - alpha * M.T) / np.linalg.norm(A))


def proportionality_residual(X, Y) -> float:
    """‖X/‖X‖_F − Y/‖Y‖_F‖_F: zero iff X ∝ Y with a positive constant."""
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    return float(np.linalg.norm(X / np.linalg.norm(X) - Y / np.linalg.norm(Y)))


def dnc_report(H1, Ws, activation: str = "linear") -> dict[str, np.ndarray]:
    """:func:`report_at` of the model at (H1, Ws)."""
    return report_at(Point(H1, Ws, activation))


def report_at(point: Point) -> dict[str, np.ndarray]:
    """Deep neural collapse of the model at ``point``, layer by layer (Theorem 3.1's quantities).

    Per layer l = 1..L, arrays of length L: ``nc1`` (‖Σ_W Σ_B^†‖_F² of h^(l)), ``orthogonal``
    (NC2 distance of H̄^(l) to an orthogonal frame), ``norm_spread`` (max/min ‖μ_c^(l)‖ − 1),
    ``dnc3`` (relative residual of A^(l) ∝ H̄^(l)ᵀ) and ``alpha``; plus ``last_gram`` = residual
    of W_L W_Lᵀ ∝ H̄ᵀH̄ (H̄ = H̄^(1)).
    """
    lab = point.labels
    rows = {k: [] for k in ("nc1", "orthogonal", "norm_spread", "dnc3", "alpha")}
    for l in range(1, point.L + 1):
        x, means = point.inputs[l - 1], point.means[l - 1]
        norms = np.linalg.norm(means, axis=0)
        alpha, resid = scaling_constant(point.products[l - 1], means)
        rows["nc1"].append(metrics.nc1(x, lab, kind="frobenius"))
        rows["orthogonal"].append(metrics.nc2(x, lab, frame="orthogonal"))
        rows["norm_spread"].append(norms.max() / norms.min() - 1.0)
        rows["dnc3"].append(resid)
        rows["alpha"].append(alpha)
    out = {k: np.asarray(v) for k, v in rows.items()}
    means1, W_L = point.means[0], point.Ws[-1]
    out["last_gram"] = np.asarray(proportionality_residual(W_L @ W_L.T, means1.T @ means1))
    return out
