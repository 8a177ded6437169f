"""Recursive Feature Machines: kernel regression with k_M(x, z) = exp(−‖x − z‖_M / L), M ← AGOP.

‖v‖_M = √(vᵀMv). Kernel regression: α = (k(X, X) + μI)⁻¹ T (N×K targets T), f(x) = αᵀ k(X, x).
Deep RFM (paper B, Algorithm 1) repeats: normalise X_l, fit f_l, M_l = AGOP(f_l, X_l),
X_{l+1} = σ(W_l M_l^{1/2} X_l) with a fresh Gaussian W_l and σ = ReLU.

Defaults follow the authors' code (github dmbeaglehole/neural_collapse_rfm with the RFM library
aradha/recursive_feature_machines): bandwidth L = 2, targets ±1 (1 for the class, −1 elsewhere),
and ridge μ = 1e-3. Their script passes ``reg=-1`` to ``fit``, which does not reach the solver:
the solve uses the ridge set in the model's constructor, whose default is 1e-3. Paper B's text
says ridgeless; ``ridge=0`` gives that, and a singular ridgeless system is an error (or, with
``singular="lstsq"``, a warning and the minimum-norm least-squares solution).

Rows are samples here (X is N×D) as for torch callables; transpose for :mod:`dnc.metrics`.
Computations run on the GPU when one is present; float64 unless ``dtype=torch.float32``. In
float32 a Laplace kernel of a few thousand clustered points need not be positive definite even
with the ridge 1e-3: its distances ‖x − z‖ = √(‖x‖² + ‖z‖² − 2xᵀz) lose half their digits to
cancellation (paper B's 2000-point MNIST system failed its Cholesky at row 473).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from dnc import metrics
from dnc._checks import as_matrix, class_labels, positive, positive_int
from dnc.agop.core import psd_power
from dnc.data import normalize_rows, one_hot
from dnc.device import choose_device
from dnc.progress import bar as progress_bar

BANDWIDTH = 2.0  # authors' code, deep_rfm.py argument -bw
RIDGE = 1e-3  # authors' RFM library, RecursiveFeatureMachine(reg=1e-3)
TARGET_OFF = -1.0  # authors' code: one-hot targets shifted to ±1


def device() -> torch.device:
    """Where the kernel solves run: :func:`dnc.device.choose_device`.

    That is ``$DNC_DEVICE``, else CUDA when available, else CPU.
    """
    return choose_device()


def _dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float64, torch.float32):
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype!r}")
    return dtype


def _t(A, dtype=torch.float64) -> torch.Tensor:
    if isinstance(A, torch.Tensor):
        return A.to(device=device(), dtype=dtype)
    return torch.as_tensor(np.asarray(A), dtype=dtype, device=device())


def _feature_matrix(M, D: int) -> np.ndarray | None:
    """None stands for M = I (no product needed)."""
    if M is None:
        return None
    M = as_matrix(M, "M")
    if M.shape != (D, D):
        raise ValueError(f"M must be {D}×{D} to match the data dimension, got {M.shape}")
    psd_power(M, 1.0)  # raises unless M is symmetric positive semi-definite: ‖·‖_M is a norm
    return M


def targets(y, off: float = TARGET_OFF) -> np.ndarray:
    """N×K regression targets: 1 in the label's column, ``off`` elsewhere (labels 0..K−1).

    Args:
        y: Length-N labels holding exactly the classes 0..K−1, each at least once.
        off: Value of the entries outside the label's column (−1 in the authors' code).

    Returns:
        N×K float64 target matrix T, one row per sample.

    Raises:
        ValueError: ``y`` is not 1D, is not integer-valued, or does not hold every class
            0..K−1.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1D array of labels, got shape {y.shape}")
    return one_hot(class_labels(y, y.shape[0], "y"), off=off)


def _pair(X, Z, nx: str, nz: str):
    X, Z = as_matrix(X, nx), as_matrix(Z, nz)
    if X.shape[1] != Z.shape[1]:
        raise ValueError(
            f"{nx} and {nz} need the same dimension D, got {nx} {X.shape} and {nz} {Z.shape}"
        )
    return X, Z


def _distances(Xt, Zt, Mt) -> torch.Tensor:
    """‖x_i − z_j‖_M for rows of the tensors Xt, Zt; Mt None means the Euclidean norm.

    The expansion ‖x‖² + ‖z‖² − 2⟨x, z⟩ has rounding error about ε(‖x‖² + ‖z‖²); squared
    distances below 8ε(‖x‖²_M + ‖z‖²_M) are set to exactly 0, so a point's distance to itself is 0
    (not √ε) and the Laplace kernel's kink is recognised in float32 as in float64.
    """
    XM = Xt if Mt is None else Xt @ Mt
    ZM = Zt if Mt is None else Zt @ Mt
    nx, nz = (XM * Xt).sum(1)[:, None], (ZM * Zt).sum(1)[None, :]
    sq = nx + nz - 2 * XM @ Zt.T
    floor = 8 * torch.finfo(sq.dtype).eps * (nx + nz)
    return sq.masked_fill_(sq <= floor, 0.0).sqrt_()


def mahalanobis_distances(X, Z, M=None, dtype=torch.float64) -> np.ndarray:
    """N×P matrix of ‖x_i − z_j‖_M = √(x_iᵀMx_i + z_jᵀMz_j − 2x_iᵀMz_j), clipped at 0.

    Squared distances at or below the rounding level 8ε(‖x_i‖²_M + ‖z_j‖²_M) of the expansion
    are set to 0 before the square root, so a point's distance to itself is exactly 0.

    Args:
        X: N×D points, one row per sample.
        Z: P×D points, one row per sample.
        M: D×D feature matrix (symmetric PSD for a true distance); None means M = I.
        dtype: ``torch.float64`` or ``torch.float32``, the precision of the computation.

    Returns:
        N×P float64 numpy matrix of the distances.

    Raises:
        ValueError: ``X`` or ``Z`` is not a finite 2D matrix, their dimensions D differ, ``M``
            is not D×D, or ``dtype`` is neither float64 nor float32.
    """
    X, Z = _pair(X, Z, "X", "Z")
    M = _feature_matrix(M, X.shape[1])
    dt = _dtype(dtype)
    Mt = None if M is None else _t(M, dt)
    return _distances(_t(X, dt), _t(Z, dt), Mt).cpu().double().numpy()


def _kernel(Xt, Zt, Mt, L) -> torch.Tensor:
    return _distances(Xt, Zt, Mt).div_(-L).exp_()


def laplace_kernel(X, Z, M=None, bandwidth: float = BANDWIDTH, dtype=torch.float64) -> np.ndarray:
    """N×P matrix k_M(x_i, z_j) = exp(−‖x_i − z_j‖_M / L) for rows of X and Z, L the bandwidth.

    Args:
        X: N×D points, one row per sample.
        Z: P×D points, one row per sample.
        M: D×D feature matrix; None means M = I (the plain Laplace kernel).
        bandwidth: L > 0.
        dtype: ``torch.float64`` or ``torch.float32``, the precision of the computation.

    Returns:
        N×P float64 numpy kernel matrix.

    Raises:
        ValueError: ``bandwidth`` is not a positive finite number, ``X`` or ``Z`` is not a
            finite 2D matrix, their dimensions differ, ``M`` is not D×D, or ``dtype`` is invalid.
    """
    L = positive(bandwidth, "bandwidth")
    X, Z = _pair(X, Z, "X", "Z")
    M = _feature_matrix(M, X.shape[1])
    dt = _dtype(dtype)
    Mt = None if M is None else _t(M, dt)
    return _kernel(_t(X, dt), _t(Z, dt), Mt, L).cpu().double().numpy()


def _solve(A: torch.Tensor, T: torch.Tensor, ridge: float, singular: str) -> torch.Tensor:
    """(A + μI)⁻¹T by Cholesky for a symmetric positive semi-definite kernel matrix A.

    Only A's lower triangle is read, and μ is added to A's diagonal in place. Singular systems
    raise or fall back to lstsq (warning).

    The Cholesky pivots L_ii² are the Schur complements' diagonals, each at least λ_min(A + μI)
    ≥ μ in exact arithmetic (an LU factorisation with row exchanges has no such bound). Singular
    means: the factorisation fails (not positive definite to working precision), or, with μ = 0,
    min L_ii² ≤ N·ε·max L_ii² (a cheap reciprocal-condition test), or a non-finite solution.
    """
    N = A.shape[0]
    A.diagonal().add_(ridge)
    L, info = torch.linalg.cholesky_ex(A)
    failed = int(info)
    pivot = L.diagonal()[: failed - 1 if failed else N].square()
    eps = torch.finfo(A.dtype).eps
    ok = not failed and (ridge > 0 or float(pivot.min()) > N * eps * float(pivot.max()))
    if ok:
        sol = torch.cholesky_solve(T, L)
        if bool(torch.isfinite(sol).all()):
            return sol
    where = f"fails at row {failed}" if failed else f"smallest pivot {float(pivot.min()):.3g}"
    message = (
        f"the {N}×{N} kernel system with ridge={ridge!r} is singular to {A.dtype} precision "
        f"(Cholesky {where}; exactly repeated points make a Laplace kernel matrix singular)"
    )
    if singular == "raise":
        raise np.linalg.LinAlgError(message + "; pass ridge > 0, or singular='lstsq'")
    warnings.warn(message + "; using the minimum-norm least-squares solution", RuntimeWarning, 3)
    del L
    A = A.tril() + A.tril(-1).mT  # the symmetric matrix that the Cholesky route reads
    return torch.linalg.lstsq(A.cpu().double(), T.cpu().double(), driver="gelsd").solution.to(
        A.device, A.dtype
    )


def _ridge(ridge) -> float:
    ridge = float(ridge)
    if not math.isfinite(ridge) or ridge < 0:
        raise ValueError(f"ridge must be a non-negative number, got {ridge!r}")
    return ridge


def _singular(singular: str) -> str:
    if singular not in ("raise", "lstsq"):
        raise ValueError(f"singular must be 'raise' or 'lstsq', got {singular!r}")
    return singular


def solve_kernel(K, T, ridge: float = RIDGE, singular: str = "raise") -> np.ndarray:
    """α = (K + μI)⁻¹ T by a Cholesky solve (never an explicit inverse), K symmetric.

    A non-symmetric K is an error. A singular system raises ``numpy.linalg.LinAlgError`` naming
    N and μ; with ``singular="lstsq"`` it warns (RuntimeWarning) and returns the minimum-norm
    lstsq solution.

    Args:
        K: N×N symmetric positive semi-definite kernel matrix.
        T: N×m right-hand sides (targets, one column per output).
        ridge: μ ≥ 0 added to the diagonal; 0 is the ridgeless solve.
        singular: ``"raise"`` or ``"lstsq"``, what to do with a singular system.

    Returns:
        The N×m coefficient matrix α (float64).

    Raises:
        ValueError: ``K`` is not square, ``T`` has a different number of rows, ``K`` is not
            symmetric (to rtol 1e-10), ``ridge`` is negative or not finite, or ``singular`` is
            not one of the two choices.
        numpy.linalg.LinAlgError: the system is singular and ``singular="raise"``.
    """
    K, T = as_matrix(K, "K"), as_matrix(T, "T")
    if K.shape[0] != K.shape[1] or T.shape[0] != K.shape[0]:
        raise ValueError(f"K must be N×N and T N×K, got {K.shape} and {T.shape}")
    if not np.allclose(K, K.T, rtol=1e-10, atol=1e-12 * np.abs(K).max()):
        raise ValueError("K must be symmetric (a kernel matrix)")
    # a copy: _solve adds the ridge to the diagonal in place, and _t shares a CPU array's memory
    return _solve(_t(K).clone(), _t(T), _ridge(ridge), _singular(singular)).cpu().numpy()


def fit(
    X,
    T,
    M=None,
    bandwidth: float = BANDWIDTH,
    ridge: float = RIDGE,
    singular: str = "raise",
    dtype=torch.float64,
) -> np.ndarray:
    """Kernel regression coefficients α = (k_M(X, X) + μI)⁻¹ T (N×K), float64 on return.

    The Laplace kernel matrix k_M(X, X) is built and solved in ``dtype`` on the GPU when one is
    present (see :func:`solve_kernel` for the singular cases).

    Args:
        X: N×D training inputs, one row per sample.
        T: N×K targets, one row per sample (e.g. :func:`targets`).
        M: D×D feature matrix; None means M = I.
        bandwidth: Laplace kernel bandwidth L > 0.
        ridge: μ ≥ 0; 0 is the ridgeless fit of paper B's text.
        singular: ``"raise"`` or ``"lstsq"``, what to do with a singular kernel system.
        dtype: ``torch.float64`` or ``torch.float32``, the precision of the kernel and solve.

    Returns:
        N×K float64 coefficient matrix α.

    Raises:
        ValueError: ``X`` or ``T`` is not a finite 2D matrix, ``T`` does not have N rows, ``M``
            is not D×D, or ``bandwidth``, ``ridge``, ``singular`` or ``dtype`` is invalid.
        numpy.linalg.LinAlgError: the kernel system is singular and ``singular="raise"``.
    """
    X, T = as_matrix(X, "X"), as_matrix(T, "T")
    if T.shape[0] != X.shape[0]:
        raise ValueError(f"T must have one row per sample ({X.shape[0]}), got shape {T.shape}")
    L, dt = positive(bandwidth, "bandwidth"), _dtype(dtype)
    M = _feature_matrix(M, X.shape[1])
    Xt = _t(X, dt)
    Kt = _kernel(Xt, Xt, None if M is None else _t(M, dt), L)
    sol = _solve(Kt, _t(T, dt), _ridge(ridge), _singular(singular))
    return sol.cpu().double().numpy()


def predict(X_train, alpha, X_eval, M=None, bandwidth: float = BANDWIDTH) -> np.ndarray:
    """f(x) = αᵀ k_M(X, x) for every row x of X_eval: the P×K matrix k_M(X_eval, X) α.

    Args:
        X_train: N×D training inputs X, one row per sample.
        alpha: N×K coefficients from :func:`fit`.
        X_eval: P×D evaluation points, one row per sample.
        M: D×D feature matrix used in the fit; None means M = I.
        bandwidth: Laplace kernel bandwidth L > 0 used in the fit.

    Returns:
        P×K float64 matrix of predictions (the kernel is evaluated in float64).

    Raises:
        ValueError: an input is not a finite 2D matrix, ``X_train`` and ``X_eval`` differ in
            dimension, ``alpha`` does not have N rows, ``M`` is not D×D, or ``bandwidth`` is not
            positive.
    """
    X_train, X_eval = _pair(X_train, X_eval, "X_train", "X_eval")
    alpha = as_matrix(alpha, "alpha")
    if alpha.shape[0] != X_train.shape[0]:
        raise ValueError(
            f"alpha must have {X_train.shape[0]} rows (one per training sample), got {alpha.shape}"
        )
    return laplace_kernel(X_eval, X_train, M, bandwidth) @ alpha


def laplace_agop(
    X_train,
    alpha,
    M=None,
    bandwidth: float = BANDWIDTH,
    X_eval=None,
    chunk: int = 1024,
    dtype=torch.float64,
) -> np.ndarray:
    """Closed-form AGOP of f(x) = Σ_i α_iᵀ k_M(x_i, x) over the rows x_j of X_eval (or X_train).

    ∇_x k_M(x_i, x) = −(1/L) k_M(x_i, x) M(x − x_i)/‖x − x_i‖_M, so with c_ij = k_ij/‖x_j − x_i‖_M
    (set to 0 where x_j = x_i, the kink of the Laplace kernel), row k of J_f(x_j) is
    −(1/L) g_jkᵀ M with g_jk = Σ_i α_ik c_ij (x_j − x_i) = a_jk x_j − Σ_i c_ij α_ik x_i,
    a_jk = Σ_i c_ij α_ik. Stacking over the P evaluation rows E, class k contributes
    G_k = diag(a_k) E − Cᵀ diag(α_k) X (P×D), and
    AGOP = M S M / (P L²),  S = Σ_k G_kᵀ G_k,  C = (c_ij) ∈ R^{N×P}.
    Evaluation rows go in chunks, so memory is the N×chunk block of C and K chunk×D blocks,
    never N×N; cost O(K N P D).

    Args:
        X_train: N×D training inputs x_i, one row per sample.
        alpha: N×K coefficients α of the fitted predictor.
        M: D×D feature matrix of the kernel; None means M = I.
        bandwidth: Laplace kernel bandwidth L > 0.
        X_eval: P×D points x_j at which the Jacobians are averaged; None means ``X_train``.
        chunk: Number of evaluation rows processed at once.
        dtype: ``torch.float64`` or ``torch.float32``, the precision of the accumulation.

    Returns:
        The D×D float64 AGOP matrix.

    Raises:
        ValueError: an input is not a finite 2D matrix, ``X_train`` and ``X_eval`` differ in
            dimension, ``alpha`` does not have N rows, ``M`` is not D×D, or ``bandwidth``,
            ``chunk`` or ``dtype`` is invalid.
    """
    X_train, alpha = as_matrix(X_train, "X_train"), as_matrix(alpha, "alpha")
    X_eval = X_train if X_eval is None else X_eval
    X_train, X_eval = _pair(X_train, X_eval, "X_train", "X_eval")
    if alpha.shape[0] != X_train.shape[0]:
        raise ValueError(
            f"alpha must have {X_train.shape[0]} rows (one per sample), got {alpha.shape}"
        )
    L, dt = positive(bandwidth, "bandwidth"), _dtype(dtype)
    chunk = positive_int(chunk, "chunk")
    D = X_train.shape[1]
    M = _feature_matrix(M, D)
    Mt = None if M is None else _t(M, dt)
    # row-major α: torch's CPU product Cᵀ α with a column-major α (as a solve returns it) was
    # ~15x slower (measured at N = 5,000, benchmarks/run.py)
    Xt, At = _t(X_train, dt), _t(alpha, dt).contiguous()
    S = torch.zeros(D, D, dtype=dt, device=Xt.device)
    for s in range(0, X_eval.shape[0], chunk):
        Et = _t(X_eval[s : s + chunk], dt)
        C = _distances(Xt, Et, Mt)  # N×P, overwritten by c_ij
        C = torch.where(C > 0, torch.exp(-C / L) / C.clamp_min(1e-300), 0.0)
        A = C.T @ At  # P×K, a_jk
        for k in range(At.shape[1]):
            G = A[:, k, None] * Et - C.T @ (At[:, k, None] * Xt)
            S += G.T @ G
        del C
    S = S.double()
    if Mt is not None:
        Md = Mt.double()
        S = Md @ S @ Md
    out = (S / (X_eval.shape[0] * L**2)).cpu().numpy()
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"the AGOP is not finite for bandwidth={bandwidth!r}: exp(−‖x − x_i‖/L)/L² over- or "
            "underflows; choose a bandwidth comparable to the distances between the points"
        )
    return out


def rfm(X, y, iterations: int = 3, bandwidth: float = BANDWIDTH, ridge: float = RIDGE, M0=None):
    """Recursive Feature Machine: M_0 = I (or M0); for t < T: α_t = fit(X, M_t), M_{t+1} = AGOP.

    Targets ±1 (:func:`targets`). Returns (alphas, Ms) with Ms = [M_0, …, M_T]. Here T is the
    number of ``iterations``, and the AGOP is :func:`laplace_agop` of the fit at α_t, M_t.

    Args:
        X: N×D training inputs, one row per sample.
        y: Length-N labels holding exactly the classes 0..K−1.
        iterations: Number T of fit/AGOP rounds.
        bandwidth: Laplace kernel bandwidth L > 0.
        ridge: μ ≥ 0 of every kernel solve.
        M0: D×D starting feature matrix; None means the identity.

    Returns:
        ``(alphas, Ms)``: T coefficient matrices α_t (N×K each) and T + 1 feature matrices M_t
        (D×D each).

    Raises:
        ValueError: ``X`` or ``y`` is malformed, ``M0`` is not D×D, or ``iterations``,
            ``bandwidth`` or ``ridge`` is invalid.
        numpy.linalg.LinAlgError: a kernel system is singular to working precision (in
            practice only with ``ridge=0``).
    """
    X = as_matrix(X, "X")
    T = targets(class_labels(y, X.shape[0], "y"))
    M0 = _feature_matrix(M0, X.shape[1])
    Ms = [np.eye(X.shape[1]) if M0 is None else M0]
    alphas = []
    for _ in range(positive_int(iterations, "iterations")):
        alphas.append(fit(X, T, Ms[-1], bandwidth, ridge))
        Ms.append(laplace_agop(X, alphas[-1], Ms[-1], bandwidth))
    return alphas, Ms


def deep_rfm(
    X,
    y,
    layers: int = 10,
    width: int = 512,
    bandwidth: float = BANDWIDTH,
    ridge: float = RIDGE,
    seed: int = 0,
    normalize: bool = True,
    keep=None,
    target_off: float = TARGET_OFF,
    dtype=torch.float64,
    progress: bool | None = None,
):
    """Deep RFM (paper B, Algorithm 1), one AGOP step per layer, on rows of X.

    For l = 1..layers: X_l ← X_l/‖·‖ row-wise (if ``normalize``); α_l = fit(X_l, T) with T the
    targets 1/``target_off``; M_l = AGOP(f_l, X_l); X̃_l = X_l M_l^{1/2} (rows: M_l^{1/2} x);
    X_{l+1} = ReLU(X̃_l W_lᵀ) with W_l ∈ R^{width×d} i.i.d. N(0, 1/width). Returns a dict with
    per-layer lists ``nc1_in/agop/rf`` (NC1 = tr Σ_W / tr Σ_B of X_l, X̃_l, X_{l+1}),
    ``nc2_in/agop/rf`` (NC2 against the simplex ETF) and ``train_accuracy``, and dicts ``X``
    (normalised X_l), ``agop_out`` (X̃_l), ``rf_out`` (X_{l+1}) and ``Ms`` (M_l) holding the full
    matrices only for the layer indices in ``keep`` (all when None).

    Args:
        X: N×D inputs, one row per sample.
        y: Length-N labels holding exactly the classes 0..K−1.
        layers: Number of layers (AGOP step plus random-feature step each).
        width: Number p of random features per layer, the row count of W_l.
        bandwidth: Laplace kernel bandwidth L > 0.
        ridge: μ ≥ 0 of every kernel solve.
        seed: Seed of the numpy generator that draws the W_l.
        normalize: Whether each layer's input rows are scaled to unit norm first.
        keep: 0-based layer indices whose full matrices are returned; None keeps all.
        target_off: Off-target value of the ±1 targets (−1 in the authors' code).
        dtype: ``torch.float64`` or ``torch.float32``, the precision of the fit and the AGOP.
        progress: False for none, else as ``$DNC_PROGRESS`` says (:func:`dnc.progress.bar`).

    Returns:
        Dict described above: per-layer metric lists and per-layer matrices keyed by layer.

    Raises:
        ValueError: ``X`` or ``y`` is malformed or empty, ``target_off`` equals the on-target
            value 1, ``keep`` names a layer outside 0..layers−1, or ``layers``, ``width``,
            ``bandwidth``, ``ridge`` or ``dtype`` is invalid.
        numpy.linalg.LinAlgError: a kernel system is singular to working precision (with
            ``ridge=0``, or in float32 for large clustered data).
    """
    X = as_matrix(X, "X")
    lab = class_labels(y, X.shape[0], "y")
    T = one_hot(lab, off=float(target_off))
    layers, width = positive_int(layers, "layers"), positive_int(width, "width")
    L = positive(bandwidth, "bandwidth")
    rng = np.random.default_rng(seed)
    keep = set(range(layers)) if keep is None else set(keep)
    outside = sorted(k for k in keep if not (isinstance(k, int | np.integer) and 0 <= k < layers))
    if outside:
        raise ValueError(f"keep must hold layer indices in 0..{layers - 1}, got {outside}")
    out = {"X": {}, "agop_out": {}, "rf_out": {}, "train_accuracy": [], "Ms": {}}
    out.update(
        {"nc1_in": [], "nc1_agop": [], "nc1_rf": [], "nc2_in": [], "nc2_agop": [], "nc2_rf": []}
    )
    bar = progress_bar(layers, f"Deep RFM N={X.shape[0]} width {width}", progress)
    for l in range(layers):
        if normalize:
            X = normalize_rows(X)
        alpha = fit(X, T, None, L, ridge, dtype=dtype)
        M = laplace_agop(X, alpha, None, L, dtype=dtype)
        Xa = X @ psd_power(M, 0.5)
        W = rng.standard_normal((width, X.shape[1])) / np.sqrt(width)
        Xn = np.maximum(Xa @ W.T, 0.0)
        pred = predict(X, alpha, X, None, L)
        out["train_accuracy"].append(float((pred.argmax(1) == lab).mean()))
        for key, H in (("in", X), ("agop", Xa), ("rf", Xn)):
            out[f"nc1_{key}"].append(metrics.nc1(H.T, lab, kind="trace_ratio"))
            out[f"nc2_{key}"].append(metrics.nc2(H.T, lab, frame="etf"))
        if l in keep:
            out["X"][l], out["agop_out"][l], out["rf_out"][l], out["Ms"][l] = X, Xa, Xn, M
        X = Xn
        bar.update(1)
    bar.close()
    return out


def arccos_kernel(X, Y) -> np.ndarray:
    """N×M matrix E_w[ReLU(wᵀx) ReLU(wᵀy)], w ~ N(0, I), for the rows x of X and y of Y.

    The first-order arc-cosine kernel (Cho & Saul 2009):
    ‖x‖‖y‖ (sin θ + (π − θ) cos θ) / (2π), θ = arccos(xᵀy / (‖x‖‖y‖)); 0 if x or y is 0.

    Args:
        X: N×D points, one row per sample.
        Y: M×D points, one row per sample.

    Returns:
        N×M float64 kernel matrix.

    Raises:
        ValueError: ``X`` or ``Y`` is not a finite 2D matrix, or their dimensions differ.
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
    """Root-mean-square feature distance √E‖σ(Wx) − σ(Wy)‖² for unit x, y at distance δ = ‖x − y‖.

    With W ∈ R^{p×D}, entries N(0, v/p): E‖σ(Wx) − σ(Wy)‖² = v (1 − 2κ(θ)) where
    κ(θ) = (sin θ + (π − θ) cos θ)/(2π), cos θ = 1 − δ²/2 (Proposition 5.1 of paper B).
    Returns the square root (an RMS distance, which bounds the mean distance E‖·‖ from above by
    Jensen; v = 2: He scaling).

    Args:
        input_distance: δ, a scalar or array of distances in [0, 2] between unit vectors.
        weight_variance: v > 0, the variance of each weight times the number of features p.

    Returns:
        √(v (1 − 2κ(θ))), with the shape of ``input_distance``.

    Raises:
        ValueError: a distance lies outside [0, 2] or is not finite, or ``weight_variance`` is
            not a positive finite number.
    """
    delta = np.asarray(input_distance, dtype=np.float64)
    if np.any(delta < 0) or np.any(delta > 2) or not np.all(np.isfinite(delta)):
        raise ValueError("input_distance must lie in [0, 2] (distances between unit vectors)")
    v = positive(weight_variance, "weight_variance")
    cos = np.clip(1 - delta**2 / 2, -1.0, 1.0)
    theta = np.arccos(cos)
    kappa = (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    return np.sqrt(np.clip(v * (1 - 2 * kappa), 0.0, None))
