"""Paper B's theory of Deep RFM on Gram matrices: G_{l+1} = s_l G_l α_l α_lᵀ G_l + λ_Φ I.

Theorem 5.4 (asymptotic): with a near-linear kernel k(X_l) = G_l + λ_k I (G_l = X_lᵀX_l) the
ridgeless solution is α_l = (G_l + λ_k I)⁻¹ Yᵀ, the AGOP of x ↦ α_lᵀX_lᵀx is X_l α_l α_lᵀ X_lᵀ, so
the AGOP-projected Gram is G_l α_l α_lᵀ G_l, and a near-linear feature map adds λ_Φ I.
Theorem 5.5 (non-asymptotic): over kernel matrices k, the relaxed kernel ridge objective
min_α ‖y − kα‖² + μ αᵀkα = μ yᵀ(k + μI)⁻¹y is smallest at the collapsed kernel.
"""

from __future__ import annotations

import numpy as np

from dnc import cache, data, metrics
from dnc._checks import as_labels, as_matrix, positive, positive_int
from dnc.agop import rfm
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


def mixture_gram(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(G_0, labels): a Gaussian class mixture (K = 3, 20 per class, D = 100) as a start Gram.

    G_0 = XXᵀ scaled to trace N, plus 0.1 I (the smallest eigenvalue the recursion keeps).
    """
    X, y = data.gaussian_mixture(K=3, n_per_class=20, D=100, separation=1.0, seed=seed)
    return X @ X.T * len(y) / np.trace(X @ X.T) + 0.1 * np.eye(len(y)), y


def ratio_sweep(G0, labels, ratios, lambda_phi: float = 0.1, layers: int = 12) -> np.ndarray:
    """NC1 of G̃_l (ratios × layers) from :func:`simplified_deep_rfm` at λ_k = ratio · λ_Φ."""
    return np.array([
        simplified_deep_rfm(G0, labels, r * lambda_phi, lambda_phi, layers)["nc1_agop"]
        for r in np.asarray(ratios, dtype=np.float64)
    ])  # fmt: skip


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


def agop_gram_step(G, labels, lambda_k: float) -> np.ndarray:
    """One AGOP step of the simplified Deep RFM: G̃ = s G α αᵀ G, α = (G + λ_k I)⁻¹Yᵀ, tr G̃ = N.

    Lemma A.2 of paper B: at G = c YᵀY + λ_Φ I the columns of Yᵀ are eigenvectors of G (value
    c n + λ_Φ), so G α = Yᵀ (c n + λ_Φ)/(c n + λ_Φ + λ_k) and G̃ ∝ YᵀY: collapse is a fixed point.
    """
    G = _gram(G)
    lab = as_labels(labels, G.shape[0])
    Ga = G @ np.linalg.solve(G + positive(lambda_k, "lambda_k") * np.eye(G.shape[0]), one_hot(lab))
    Gt = Ga @ Ga.T
    return Gt * G.shape[0] / np.trace(Gt)


def collapse_distance(G, labels) -> float:
    """Relative distance of a Gram from the collapsed ones: min ‖G − a YᵀY − b 11ᵀ‖_F / ‖G‖_F.

    Zero exactly when G(i, j) depends only on whether i and j share a class (the columns of the
    features sit at their class means); the 11ᵀ term absorbs a common offset (uncentred data).
    """
    G = _gram(G)
    lab = as_labels(labels, G.shape[0])
    Y = one_hot(lab)
    basis = np.stack([(Y @ Y.T).ravel(), np.ones(G.size)], axis=1)
    coef = np.linalg.lstsq(basis, G.ravel(), rcond=None)[0]
    return float(np.linalg.norm(G.ravel() - basis @ coef) / np.linalg.norm(G))


def linearisation(kernel_matrix, G) -> dict:
    """Fit k(i, j) ≈ a + b G(i, j) + λ [i = j] (El Karoui's linearisation) to a kernel matrix.

    a, b by least squares over the off-diagonal entries; λ = mean_i (k(i, i) − a − b G(i, i)),
    the identity part left on the diagonal. Returns a, b, λ, the relative deviation λ/b (the
    λ_k or λ_Φ of Theorem 5.4 when tr G = N) and the R² of the off-diagonal fit.
    """
    Km, G = _gram(kernel_matrix, "kernel_matrix"), _gram(G)
    if Km.shape != G.shape:
        raise ValueError(f"kernel_matrix and G must have the same shape, got {Km.shape}, {G.shape}")
    off = ~np.eye(G.shape[0], dtype=bool)
    b, a = np.polyfit(G[off], Km[off], 1)
    resid = Km[off] - (a + b * G[off])
    r2 = 1 - resid @ resid / np.sum((Km[off] - Km[off].mean()) ** 2)
    lam = float(np.mean(np.diag(Km) - a - b * np.diag(G)))
    return {"a": float(a), "b": float(b), "lam": lam, "relative": lam / float(b), "r2": float(r2)}


def linear_interpolator_agop(X, labels) -> np.ndarray:
    """AGOP BBᵀ of the minimum-norm linear interpolator x ↦ Bᵀx, B = X⁺Y_oh (rows of X are samples).

    A linear map has the constant Jacobian Bᵀ, so its AGOP is BBᵀ; if X has full row rank,
    XB = Y_oh and the dot-product kernel k_M(x, z) = xᵀMz with M = BBᵀ gives
    k_M(X, X) = X BBᵀ Xᵀ = Y_oh Y_ohᵀ = I_K ⊗ 1_n1_nᵀ = k* (samples ordered by class).
    """
    X = as_matrix(X, "X")
    B = np.linalg.pinv(X) @ one_hot(as_labels(labels, X.shape[0]))
    return B @ B.T


def distance_ratio(X, labels, M=None) -> float:
    """Smallest between-class ‖x_i − x_j‖²_M over the largest within-class one (rows of X)."""
    X = as_matrix(X, "X")
    lab = as_labels(labels, X.shape[0])
    Z = X if M is None else X @ psd_power(M, 0.5)
    sq = np.sum(Z**2, axis=1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * Z @ Z.T, 0, None)
    same = lab[:, None] == lab[None, :]
    return float(d2[~same].min() / d2[same].max())


def random_feature_products(x, z, width: int, draws: int, seed: int = 0) -> np.ndarray:
    """``draws`` samples of Φ(x)ᵀΦ(z) = Σ_j ReLU(w_jᵀx) ReLU(w_jᵀz), w_j ~ N(0, I/p), p = width.

    The W of Deep RFM's random-feature step. Each sample is a mean of p i.i.d. terms of mean
    κ(x, z)/p·p = κ (the arc-cosine kernel), so its standard deviation is σ₁/√p, σ₁ that of
    one term ReLU(gᵀx) ReLU(gᵀz), g ~ N(0, I) (Proposition 5.1's concentration).
    """
    x, z = np.asarray(x, dtype=np.float64).ravel(), np.asarray(z, dtype=np.float64).ravel()
    p, R = positive_int(width, "width"), positive_int(draws, "draws")
    rng = np.random.default_rng(seed)
    out = np.empty(R)
    for r in range(R):
        W = rng.standard_normal((p, x.size)) / np.sqrt(p)
        out[r] = np.maximum(W @ x, 0) @ np.maximum(W @ z, 0)
    return out


def top_alignment(k, y) -> tuple[float, float, bool]:
    """(λ₁, (v₁ᵀy)²/‖y‖², v₁ of one sign) for the top eigenpair (λ₁, v₁) of a kernel matrix k.

    Perron–Frobenius: for entry-wise positive k, v₁ can be taken positive, so for balanced ±1
    labels (v₁ᵀy)² ≤ max_{v ≥ 0, ‖v‖ = 1} (vᵀy)² = ‖y_+‖² = N/2: the alignment is at most 1/2.
    "One sign" allows entries down to −1e−10 (round-off where k is nearly block diagonal).
    """
    k = _gram(k, "k")
    y = np.asarray(y, dtype=np.float64).ravel()
    w, V = np.linalg.eigh(k)
    v = V[:, -1] * np.sign(V[:, -1].sum())
    return float(w[-1]), float((v @ y) ** 2 / (y @ y)), bool(v.min() > -1e-10)


def near_collapsed_kernel(n_per_class: int, noise: float, seed: int = 0, bandwidth: float = 0.5):
    """Laplace kernel exp(−‖x_i − x_j‖/L) on two tight clusters: x_i = e_{y_i} + noise·g_i.

    g_i ~ N(0, I/D) in D = 2n dimensions; as noise → 0 the kernel tends to
    I_2 ⊗ 1_n1_nᵀ + e^{−√2/L}(11ᵀ − I_2 ⊗ 1_n1_nᵀ), and to k* as L → 0 as well.
    """
    n = positive_int(n_per_class, "n_per_class")
    rng = np.random.default_rng(seed)
    D = 2 * n
    X = np.repeat(np.eye(2, D), n, axis=0) + noise * rng.standard_normal((2 * n, D)) / np.sqrt(D)
    sq = np.sum(X**2, axis=1)
    dist = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0, None))
    np.fill_diagonal(dist, 0.0)
    return np.exp(-dist / positive(bandwidth, "bandwidth"))


def measured_hypotheses(
    dataset: str = "mnist",
    n_per_class: int = 15,
    layers: int = 4,
    seed: int = 0,
    width: int = 512,
    bandwidth: float = rfm.BANDWIDTH,
) -> dict:
    """Theorem 5.4's quantities measured on a real Deep RFM (:func:`dnc.agop.rfm.deep_rfm`), cached.

    Per layer l (rows of X_l unit norm, G_l = X_l X_lᵀ, tr G_l = N): ``lambda_k`` =
    :func:`linearisation` of the Laplace kernel matrix in G_l, relative; ``lambda_phi`` = that of
    the realised random-feature Gram (scaled to trace N) in the AGOP-projected Gram G̃_l (scaled to
    trace N); ``min_eig`` = λ_min(G_l) (Assumption 5.3 asks ≥ λ_Φ); ``collapse_agop`` =
    :func:`collapse_distance` of G̃_l; ``r2_k``, ``r2_phi`` the fits' R²; ``D``, ``N``.
    """
    cfg = dict(dataset=dataset, n_per_class=int(n_per_class), layers=int(layers), seed=int(seed),
               width=int(width), bandwidth=float(bandwidth))  # fmt: skip

    def compute(_checkpoint):
        X, y = data.load(dataset, n_per_class=cfg["n_per_class"], seed=cfg["seed"])
        out = rfm.deep_rfm(X, y, layers=cfg["layers"], width=cfg["width"],
                           bandwidth=cfg["bandwidth"], seed=cfg["seed"], progress=False)  # fmt: skip
        N = len(y)
        rows = {k: [] for k in ("lambda_k", "lambda_phi", "r2_k", "r2_phi", "min_eig",
                                "collapse_agop")}  # fmt: skip
        for l in range(cfg["layers"]):
            Xl, Xa, Xn = out["X"][l], out["agop_out"][l], out["rf_out"][l]
            G = Xl @ Xl.T
            lin_k = linearisation(rfm.laplace_kernel(Xl, Xl, bandwidth=cfg["bandwidth"]), G)
            Ga, Gn = Xa @ Xa.T, Xn @ Xn.T
            lin_p = linearisation(Gn * N / np.trace(Gn), Ga * N / np.trace(Ga))
            rows["lambda_k"].append(lin_k["relative"])
            rows["lambda_phi"].append(lin_p["relative"])
            rows["r2_k"].append(lin_k["r2"])
            rows["r2_phi"].append(lin_p["r2"])
            rows["min_eig"].append(np.linalg.eigvalsh(G)[0])
            rows["collapse_agop"].append(collapse_distance(Ga, y))
        arrays = {k: np.array(v) for k, v in rows.items()}
        arrays["D"], arrays["N"] = np.array(X.shape[1]), np.array(N)
        return arrays, {}

    arrays, _ = cache.cached("agop_theory_hypotheses", cfg, compute)
    return arrays


def exponential_curve(values, skip: int = 1) -> np.ndarray:
    """The fitted e^{a − r·l} of :func:`exponential_rate` (same fit), at every layer l."""
    v = np.asarray(values, dtype=np.float64)
    idx = np.arange(v.size)
    slope, intercept = np.polyfit(idx[skip:], np.log(v[skip:]), 1)
    return np.exp(intercept + slope * idx)


def exponential_floor_fit(values, skip: int = 1, grid: int = 400) -> tuple[float, float, float]:
    """Fit v_l ≈ A e^{−r l} + ε over l ≥ ``skip``: (r, ε, R² of log(v_l − ε) linear in l).

    ε is chosen on a grid of ``grid`` values in [0, min v) to maximise the R² of
    :func:`exponential_rate` on v − ε (ε = 0 is the plain exponential fit); the floor ε of
    Theorem 5.4 shows as ε > 0 with a faster rate r.
    """
    v = np.asarray(values, dtype=np.float64)
    tail = v[skip:]
    if tail.size < 3 or np.any(tail <= 0):
        raise ValueError("need at least 3 positive values after skip")
    best = (*exponential_rate(v, skip=skip), 0.0)
    for eps in np.linspace(0, tail.min(), positive_int(grid, "grid"), endpoint=False)[1:]:
        rate, r2 = exponential_rate(v - eps, skip=skip, floor=0.0)
        if r2 > best[1]:
            best = (rate, r2, float(eps))
    return best[0], best[2], best[1]
