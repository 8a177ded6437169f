"""Recursive Feature Machines: kernel regression with k_M(x, z) = exp(−‖x − z‖_M / L), M ← AGOP.

‖v‖_M = √(vᵀMv). Kernel regression: α = (k(X, X) + μI)⁻¹ T (N×K targets T), f(x) = αᵀ k(X, x).
Deep RFM (paper B, Algorithm 1) repeats: normalise X_l, fit f_l, M_l = AGOP(f_l, X_l),
X_{l+1} = σ(W_l M_l^{1/2} X_l) with a fresh Gaussian W_l and σ = ReLU.

Ridge. Paper B states ridgeless regression (μ = 0), which is this module's default. The
authors' public code passes a ridge value (1e-3) to a solver of a library that ignores that
argument, so their runs most likely used μ = 1e-3 in effect rather than μ = 0; pass ``ridge=1e-3``
to reproduce that instead. With μ = 0 and a singular kernel matrix (exactly repeated points)
the solve falls back to the minimum-norm least-squares solution.

Rows are samples here (X is N×D) as for torch callables; transpose for :mod:`dnc.metrics`.
Solves run on the GPU when one is present (float64 throughout).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import metrics
from ._checks import as_labels, as_matrix, positive, positive_int
from .agop import psd_power
from .data import normalize_rows, one_hot


def device() -> torch.device:
    """CUDA when available (kernel solves are the cost), else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _t(A) -> torch.Tensor:
    return torch.as_tensor(A, dtype=torch.float64, device=device())


def _feature_matrix(M, D: int) -> np.ndarray:
    if M is None:
        return np.eye(D)
    M = as_matrix(M, "M")
    if M.shape != (D, D):
        raise ValueError(f"M must be {D}×{D} to match the data dimension, got {M.shape}")
    return M


def mahalanobis_distances(X, Z, M=None) -> np.ndarray:
    """N×P matrix of ‖x_i − z_j‖_M = √(x_iᵀMx_i + z_jᵀMz_j − 2x_iᵀMz_j), clipped at 0."""
    X, Z = as_matrix(X, "X"), as_matrix(Z, "Z")
    if X.shape[1] != Z.shape[1]:
        raise ValueError(f"X and Z need the same dimension, got {X.shape[1]} and {Z.shape[1]}")
    Mt = _t(_feature_matrix(M, X.shape[1]))
    Xt, Zt = _t(X), _t(Z)
    XM, ZM = Xt @ Mt, Zt @ Mt
    sq = (XM * Xt).sum(1)[:, None] + (ZM * Zt).sum(1)[None, :] - 2 * XM @ Zt.T
    return torch.sqrt(sq.clamp_min(0)).cpu().numpy()


def laplace_kernel(X, Z, M=None, bandwidth: float = 10.0) -> np.ndarray:
    """N×P matrix k_M(x_i, z_j) = exp(−‖x_i − z_j‖_M / L) for rows of X and Z, L the bandwidth."""
    L = positive(bandwidth, "bandwidth")
    return np.exp(-mahalanobis_distances(X, Z, M) / L)


def solve_kernel(K, T, ridge: float = 0.0) -> np.ndarray:
    """α = (K + μI)⁻¹ T by a linear solve (never an explicit inverse); min-norm lstsq if singular."""
    K, T = as_matrix(K, "K"), as_matrix(T, "T")
    if K.shape[0] != K.shape[1] or T.shape[0] != K.shape[0]:
        raise ValueError(f"K must be N×N and T N×K, got {K.shape} and {T.shape}")
    ridge = float(ridge)
    if not math.isfinite(ridge) or ridge < 0:
        raise ValueError(f"ridge must be a non-negative number, got {ridge!r}")
    A = _t(K) + ridge * torch.eye(K.shape[0], dtype=torch.float64, device=device())
    try:
        sol = torch.linalg.solve(A, _t(T))
        if not torch.isfinite(sol).all():
            raise RuntimeError("non-finite solution")
    except RuntimeError:
        sol = torch.linalg.lstsq(A.cpu(), _t(T).cpu(), driver="gelsd").solution
    return sol.cpu().numpy()


def fit(X, T, M=None, bandwidth: float = 10.0, ridge: float = 0.0) -> np.ndarray:
    """Kernel regression coefficients α = (k_M(X, X) + μI)⁻¹ T (N×K)."""
    return solve_kernel(laplace_kernel(X, X, M, bandwidth), T, ridge)


def predict(X_train, alpha, X_eval, M=None, bandwidth: float = 10.0) -> np.ndarray:
    """f(x) = αᵀ k_M(X, x) for every row x of X_eval: the P×K matrix k_M(X_eval, X) α."""
    return laplace_kernel(X_eval, X_train, M, bandwidth) @ as_matrix(alpha, "alpha")


def laplace_agop(X_train, alpha, M=None, bandwidth: float = 10.0, X_eval=None, chunk: int = 1024):
    """Closed-form AGOP of f(x) = Σ_i α_iᵀ k_M(x_i, x) over the rows x_j of X_eval (default X_train).

    ∇_x k_M(x_i, x) = −(1/L) k_M(x_i, x) M(x − x_i)/‖x − x_i‖_M, so with c_ij = k_ij/‖x_j − x_i‖_M
    (set to 0 where x_j = x_i, the kink of the Laplace kernel),
    J_f(x_j) = −(1/L) G_j M,  G_j = Σ_i α_i c_ij (x_j − x_i)ᵀ = a_j x_jᵀ − Σ_i c_ij α_i x_iᵀ,
    a_j = Σ_i c_ij α_i, and AGOP = (1/P) Σ_j J_jᵀJ_j = M S M / (P L²) with
    S = Σ_j G_jᵀG_j = Eᵀ diag(‖a_j‖²) E − Eᵀ R X − Xᵀ Rᵀ E + Xᵀ (ααᵀ ⊙ C Cᵀ) X,
    E the P×D evaluation rows, X the N×D training rows, C = (c_ij) ∈ R^{N×P},
    R = (A αᵀ) ⊙ Cᵀ ∈ R^{P×N}, A = Cᵀα. Cost O(N²P + N²D + ND²); memory O(N²).
    """
    X_train, alpha = as_matrix(X_train, "X_train"), as_matrix(alpha, "alpha")
    X_eval = X_train if X_eval is None else as_matrix(X_eval, "X_eval")
    if alpha.shape[0] != X_train.shape[0]:
        raise ValueError(
            f"alpha must have {X_train.shape[0]} rows (one per sample), got {alpha.shape}"
        )
    if X_eval.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_eval must have {X_train.shape[1]} columns, got {X_eval.shape[1]}")
    L = positive(bandwidth, "bandwidth")
    chunk = positive_int(chunk, "chunk")
    D, N = X_train.shape[1], X_train.shape[0]
    Mt = _t(_feature_matrix(M, D))
    Xt, At = _t(X_train), _t(alpha)
    S = torch.zeros(D, D, dtype=torch.float64, device=Xt.device)
    CCt = torch.zeros(N, N, dtype=torch.float64, device=Xt.device)
    for s in range(0, X_eval.shape[0], chunk):
        Et = _t(X_eval[s : s + chunk])
        dist = _t(mahalanobis_distances(X_train, X_eval[s : s + chunk], M))  # N×P
        C = torch.where(dist > 1e-10, torch.exp(-dist / L) / dist.clamp_min(1e-300), 0.0)
        A = C.T @ At  # P×K, rows a_j
        R = (A @ At.T) * C.T  # P×N
        ER = Et.T @ R @ Xt  # Eᵀ R X
        S += (Et * (A**2).sum(1, keepdim=True)).T @ Et - ER - ER.T
        CCt += C @ C.T
    S += Xt.T @ ((At @ At.T) * CCt) @ Xt
    return (Mt @ S @ Mt / (X_eval.shape[0] * L**2)).cpu().numpy()


def rfm(X, y, iterations: int = 3, bandwidth: float = 10.0, ridge: float = 0.0, M0=None):
    """Recursive Feature Machine: M_0 = I (or M0); for t < T: α_t = fit(X, M_t), M_{t+1} = AGOP.

    Returns (alphas, Ms) with Ms = [M_0, …, M_T].
    """
    X = as_matrix(X, "X")
    T = one_hot(as_labels(y, X.shape[0], "y"))
    Ms = [_feature_matrix(M0, X.shape[1])]
    alphas = []
    for _ in range(positive_int(iterations, "iterations")):
        alphas.append(fit(X, T, Ms[-1], bandwidth, ridge))
        Ms.append(laplace_agop(X, alphas[-1], Ms[-1], bandwidth))
    return alphas, Ms


def deep_rfm(
    X,
    y,
    layers: int = 10,
    width: int = 256,
    bandwidth: float = 10.0,
    ridge: float = 0.0,
    seed: int = 0,
    normalize: bool = True,
    keep=None,
):
    """Deep RFM (paper B, Algorithm 1), one AGOP step per layer, on rows of X.

    For l = 1..layers: X_l ← X_l/‖·‖ row-wise (if ``normalize``); α_l = fit(X_l, I); M_l =
    AGOP(f_l, X_l); X̃_l = X_l M_l^{1/2} (rows: M_l^{1/2} x); X_{l+1} = ReLU(X̃_l W_lᵀ) with
    W_l ∈ R^{width×d} i.i.d. N(0, 1/width). Returns a dict with per-layer lists
    ``nc1_in/agop/rf`` (NC1 = tr Σ_W / tr Σ_B of X_l, X̃_l, X_{l+1}), ``nc2_in/agop/rf`` (NC2
    against the simplex ETF) and ``train_accuracy``, and dicts ``X`` (normalised X_l),
    ``agop_out`` (X̃_l), ``rf_out`` (X_{l+1}) and ``Ms`` (M_l) holding the full matrices only for
    the layer indices in ``keep`` (all when None).
    """
    X = as_matrix(X, "X")
    lab = as_labels(y, X.shape[0], "y")
    T = one_hot(lab)
    layers, width = positive_int(layers, "layers"), positive_int(width, "width")
    rng = np.random.default_rng(seed)
    keep = set(range(layers)) if keep is None else set(keep)
    out = {"X": {}, "agop_out": {}, "rf_out": {}, "train_accuracy": [], "Ms": {}}
    out.update(
        {"nc1_in": [], "nc1_agop": [], "nc1_rf": [], "nc2_in": [], "nc2_agop": [], "nc2_rf": []}
    )
    for l in range(layers):
        if normalize:
            X = normalize_rows(X)
        alpha = fit(X, T, None, bandwidth, ridge)
        M = laplace_agop(X, alpha, None, bandwidth)
        Xa = X @ psd_power(M, 0.5)
        W = rng.standard_normal((width, X.shape[1])) / np.sqrt(width)
        Xn = np.maximum(Xa @ W.T, 0.0)
        pred = predict(X, alpha, X, None, bandwidth)
        out["train_accuracy"].append(float((pred.argmax(1) == lab).mean()))
        for key, H in (("in", X), ("agop", Xa), ("rf", Xn)):
            out[f"nc1_{key}"].append(metrics.nc1(H.T, lab, kind="trace_ratio"))
            out[f"nc2_{key}"].append(metrics.nc2(H.T, lab, frame="etf"))
        if l in keep:
            out["X"][l], out["agop_out"][l], out["rf_out"][l], out["Ms"][l] = X, Xa, Xn, M
        X = Xn
    return out


def arccos_kernel(X, Y) -> np.ndarray:
    """N×M matrix E_w[ReLU(wᵀx) ReLU(wᵀy)], w ~ N(0, I), for the rows x of X and y of Y.

    The first-order arc-cosine kernel (Cho & Saul 2009):
    ‖x‖‖y‖ (sin θ + (π − θ) cos θ) / (2π), θ = arccos(xᵀy / (‖x‖‖y‖)); 0 if x or y is 0.
    """
    X, Y = as_matrix(X, "X"), as_matrix(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y need the same dimension, got {X.shape[1]} and {Y.shape[1]}")
    nx, ny = np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1)
    norms = np.outer(nx, ny)
    safe = np.where(norms > 0, norms, 1.0)
    cos = np.clip(X @ Y.T / safe, -1.0, 1.0)
    theta = np.arccos(cos)
    value = norms * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    return np.where(norms > 0, value, 0.0)


def relu_feature_distance(input_distance, weight_variance: float = 2.0):
    """Expected feature distance √E‖σ(Wx) − σ(Wy)‖²/… for unit x, y at distance δ = ‖x − y‖.

    With W ∈ R^{p×D}, entries N(0, v/p): E‖σ(Wx) − σ(Wy)‖² = v (1 − 2κ(θ)) where
    κ(θ) = (sin θ + (π − θ) cos θ)/(2π), cos θ = 1 − δ²/2 (Proposition 5.1 of paper B).
    Returns the square root, the distance the features reach on average (v = 2: He scaling).
    """
    delta = np.asarray(input_distance, dtype=np.float64)
    if np.any(delta < 0) or np.any(delta > 2) or not np.all(np.isfinite(delta)):
        raise ValueError("input_distance must lie in [0, 2] (distances between unit vectors)")
    v = positive(weight_variance, "weight_variance")
    cos = np.clip(1 - delta**2 / 2, -1.0, 1.0)
    theta = np.arccos(cos)
    kappa = (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    return np.sqrt(np.clip(v * (1 - 2 * kappa), 0.0, None))
