"""Paper B's theory of Deep RFM on Gram matrices: G_{l+1} = s_l G_l α_l α_lᵀ G_l + λ_Φ I.

Theorem 5.4 (asymptotic): with a near-linear kernel k(X_l) = G_l + λ_k I (G_l = X_lᵀX_l) the
ridgeless solution is α_l = (G_l + λ_k I)⁻¹ Yᵀ, the AGOP of x ↦ α_lᵀX_lᵀx is X_l α_l α_lᵀ X_lᵀ, so
the AGOP-projected Gram is G_l α_l α_lᵀ G_l, and a near-linear feature map adds λ_Φ I.
Theorem 5.5 (non-asymptotic): over kernel matrices k, the relaxed kernel ridge objective
min_α ‖y − kα‖² + μ αᵀkα = μ yᵀ(k + μI)⁻¹y is smallest at the collapsed kernel.
"""

from __future__ import annotations

import numpy as np

from dnc import metrics
from dnc._checks import as_labels, as_matrix, positive, positive_int
from dnc.agop.core import psd_power
from dnc.data import one_hot


def _gram(G, name: str = "G") -> np.ndarray:
    G = as_matrix(G, name)
    if G.shape[0] != G.shape[1] or not np.allclose(G, G.T, atol=1e-10 * max(1, abs(G).max())):
        raise ValueError(f"{name} must be a symmetric N×N matrix, got shape {G.shape}")
    return (G + G.T) / 2


def nc1_from_gram(G, labels) -> float:
    """NC1 = tr Σ_W / tr Σ_B of any features H with HᵀH = G (it depends on G only); H = G^{1/2}."""
    G = _gram(G)
    return metrics.nc1(psd_power(G, 0.5), labels, kind="trace_ratio")


def simplified_deep_rfm(G0, labels, lambda_k: float, lambda_phi: float, layers: int = 10):
    """Gram recursion of the simplified Deep RFM of Theorem 5.4 (no normalisation, rescaling).

    α_l = (G_l + λ_k I)⁻¹ Yᵀ;  G̃_l = s_l G_l α_l α_lᵀ G_l with s_l making tr G̃_l = N;
    G_{l+1} = G̃_l + λ_Φ I. Returns a dict with ``nc1_agop`` (NC1 of G̃_l), ``nc1`` (NC1 of G_l,
    before layer l) and the last Gram ``G``.
    """
    G = _gram(G0, "G0")
    lab = as_labels(labels, G.shape[0])
    Y = one_hot(lab)
    lk, lp = positive(lambda_k, "lambda_k"), positive(lambda_phi, "lambda_phi")
    N = G.shape[0]
    out = {"nc1": [], "nc1_agop": []}
    for _ in range(positive_int(layers, "layers")):
        out["nc1"].append(nc1_from_gram(G, lab))
        alpha = np.linalg.solve(G + lk * np.eye(N), Y)
        Ga = G @ alpha
        Gt = Ga @ Ga.T
        Gt *= N / np.trace(Gt)
        out["nc1_agop"].append(nc1_from_gram(Gt, lab))
        G = Gt + lp * np.eye(N)
    return {"nc1": np.array(out["nc1"]), "nc1_agop": np.array(out["nc1_agop"]), "G": G}


def exponential_rate(values, skip: int = 1, floor: float = 1e-12) -> tuple[float, float]:
    """Least-squares fit log v_l ≈ a − r·l over l ≥ ``skip`` (values above ``floor``): (r, R²)."""
    v = np.asarray(values, dtype=np.float64)
    idx = np.arange(v.size)
    keep = (idx >= skip) & (v > floor)
    if keep.sum() < 3:
        raise ValueError("need at least 3 values above the floor to fit a rate")
    slope, intercept = np.polyfit(idx[keep], np.log(v[keep]), 1)
    resid = np.log(v[keep]) - (intercept + slope * idx[keep])
    total = np.sum((np.log(v[keep]) - np.log(v[keep]).mean()) ** 2)
    return float(-slope), float(1 - resid @ resid / total) if total > 0 else 1.0


def relaxed_objective(k, y, ridge: float = 1.0) -> float:
    """min_α ‖y − kα‖² + μ αᵀkα = μ yᵀ(k + μI)⁻¹y (α = (k + μI)⁻¹y), by a linear solve."""
    k = _gram(k, "k")
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != k.shape[0]:
        raise ValueError(f"y must have {k.shape[0]} entries to match k, got {y.shape[0]}")
    mu = positive(ridge, "ridge")
    return float(mu * y @ np.linalg.solve(k + mu * np.eye(k.shape[0]), y))


def collapsed_kernel(n_per_class: int, K: int = 2) -> np.ndarray:
    """k* = I_K ⊗ 1_n1_nᵀ: kernel value 1 within a class, 0 across (the collapsed limit)."""
    n, K = positive_int(n_per_class, "n_per_class"), positive_int(K, "K")
    return np.kron(np.eye(K), np.ones((n, n)))


def random_unit_diagonal_kernel(N: int, seed: int = 0, rank: int | None = None) -> np.ndarray:
    """A random positive definite matrix with unit diagonal and positive entries.

    k = exp(−‖x_i − x_j‖_M / L) for random Gaussian points, a random PSD M and a random
    bandwidth: exactly the Laplace kernels with a feature matrix that Problem (4) ranges over.
    """
    rng = np.random.default_rng(seed)
    N = positive_int(N, "N")
    D = rank or int(rng.integers(1, 6))
    X = rng.standard_normal((N, D)) * rng.uniform(0.1, 3.0)
    B = rng.standard_normal((D, D))
    M = B @ B.T / D
    diff = X[:, None, :] - X[None, :, :]
    dist = np.sqrt(np.clip(np.einsum("ijd,de,ije->ij", diff, M, diff), 0, None))
    return np.exp(-dist / rng.uniform(0.2, 5.0))
