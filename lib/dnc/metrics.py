"""Neural-collapse metrics on a d×N feature matrix H (one column per sample) with N class labels.

Class means μ_c = Av_i h_ic, global mean μ_G = Av_c μ_c,
Σ_W = (1/N) Σ_ic (h_ic − μ_c)(h_ic − μ_c)ᵀ,  Σ_B = (1/K) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ.
Everything is computed in float64; pseudo-inverses are rank-aware (eigenvalues below
``rtol · λ_max`` are treated as zero), so NC1 can never come out negative.
"""

from __future__ import annotations

import numpy as np

from dnc._checks import as_labels, as_matrix

NC1_KINDS = ("trace", "frobenius", "trace_ratio")
FRAMES = ("etf", "orthogonal")
RTOL = 1e-10


def _features(H, labels):
    H = as_matrix(H, "H")
    lab = as_labels(labels, H.shape[1])
    classes = np.unique(lab)
    if classes.size < 2:
        raise ValueError(f"need at least 2 classes, labels contain {classes.size}")
    return H, lab, classes


def class_means(H, labels) -> np.ndarray:
    """The d×K matrix H̄ = [μ_1, …, μ_K], classes in increasing label order."""
    H, lab, classes = _features(H, labels)
    return np.stack([H[:, lab == c].mean(axis=1) for c in classes], axis=1)


def global_mean(H, labels) -> np.ndarray:
    """μ_G = Av_c μ_c, the mean of the class means (equal to the sample mean for balanced classes)."""
    return class_means(H, labels).mean(axis=1)


def within_class_covariance(H, labels) -> np.ndarray:
    """Σ_W = (1/N) Σ_ic (h_ic − μ_c)(h_ic − μ_c)ᵀ."""
    H, lab, classes = _features(H, labels)
    means = class_means(H, lab)
    index = np.searchsorted(classes, lab)
    centred = H - means[:, index]
    return centred @ centred.T / H.shape[1]


def between_class_covariance(H, labels) -> np.ndarray:
    """Σ_B = (1/K) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ."""
    means = class_means(H, labels)
    centred = means - means.mean(axis=1, keepdims=True)
    return centred @ centred.T / means.shape[1]


def _pinv_eig(S: np.ndarray, rtol: float = RTOL):
    """Nonzero eigenpairs of a symmetric PSD matrix (the pieces of its pseudo-inverse)."""
    vals, vecs = np.linalg.eigh(S)
    if vals.size == 0 or vals[-1] <= 0:
        return vals[:0], vecs[:, :0]
    keep = vals > rtol * vals[-1]
    return vals[keep], vecs[:, keep]


def nc1(H, labels, kind: str = "trace") -> float:
    """Within-class variability collapse.

    ``"trace"``: tr(Σ_W Σ_B^†)/K; ``"frobenius"``: ‖Σ_W Σ_B^†‖_F² (paper A's plots);
    ``"trace_ratio"``: tr Σ_W / tr Σ_B (paper B). Returns ``inf`` when the class means coincide.
    """
    if kind not in NC1_KINDS:
        raise ValueError(f"kind must be one of {NC1_KINDS}, got {kind!r}")
    H, lab, classes = _features(H, labels)
    sw = within_class_covariance(H, lab)
    sb = between_class_covariance(H, lab)
    if kind == "trace_ratio":
        tb = np.trace(sb)
        return float(np.trace(sw) / tb) if tb > 0 else float("inf")
    vals, vecs = _pinv_eig(sb)
    if vals.size == 0:
        return float("inf")
    if kind == "trace":
        # tr(Σ_W V Λ⁻¹ Vᵀ) = Σ_k v_kᵀ Σ_W v_k / λ_k: a sum of non-negative terms.
        quad = np.einsum("ik,ij,jk->k", vecs, sw, vecs)
        return float(np.sum(np.clip(quad, 0.0, None) / vals) / classes.size)
    product = (sw @ vecs) / vals @ vecs.T
    return float(np.sum(product**2))


def frame_gram(K: int, frame: str) -> np.ndarray:
    """Target Gram matrix: I_K for an orthogonal frame, I_K − 1 1ᵀ/K for a simplex ETF."""
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    eye = np.eye(K)
    return eye if frame == "orthogonal" else eye - np.ones((K, K)) / K


def _frame_means(H, labels, frame: str) -> np.ndarray:
    means = class_means(H, labels)
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    if frame == "etf":
        means = means - means.mean(axis=1, keepdims=True)
    return means


def class_mean_cosines(H, labels, frame: str = "etf") -> np.ndarray:
    """K×K cosines between class means (globally centred for ``"etf"``, raw for ``"orthogonal"``)."""
    means = _frame_means(H, labels, frame)
    norms = np.linalg.norm(means, axis=0)
    if np.any(norms == 0):
        raise ValueError("a class mean is zero, so its direction (and NC2) is undefined")
    unit = means / norms
    return unit.T @ unit


def nc2(H, labels, frame: str = "etf") -> float:
    """‖ MᵀM/‖MᵀM‖_F − T/‖T‖_F ‖_F with M the class means and T = :func:`frame_gram`.

    Zero exactly when the means form the frame up to scale: equal norms and the frame's angles.
    ``"etf"`` centres the means by μ_G first; ``"orthogonal"`` (bias-free MSE models) does not.
    """
    means = _frame_means(H, labels, frame)
    gram = means.T @ means
    scale = np.linalg.norm(gram)
    if scale == 0:
        return float("inf")
    target = frame_gram(means.shape[1], frame)
    return float(np.linalg.norm(gram / scale - target / np.linalg.norm(target)))


def nc3(W, H, labels, frame: str = "etf") -> float:
    """Self-duality ‖ Wᵀ/‖W‖_F − M/‖M‖_F ‖_F for a K×d classifier W and class means M (d×K)."""
    W = as_matrix(W, "W")
    means = _frame_means(H, labels, frame)
    if W.shape != means.T.shape:
        raise ValueError(
            f"W must have shape (K, d) = {means.T.shape} to match the class means, got {W.shape}"
        )
    nw, nm = np.linalg.norm(W), np.linalg.norm(means)
    if nw == 0 or nm == 0:
        return float("inf")
    return float(np.linalg.norm(W.T / nw - means / nm))


def nc4(W, H, labels) -> float:
    """Fraction of samples where the classifier's choice argmax_c (W h)_c differs from the
    nearest class mean argmin_c ‖h − μ_c‖ (NC4: the classifier becomes nearest-class-centre)."""
    W = as_matrix(W, "W")
    H, lab, _ = _features(H, labels)
    means = class_means(H, lab)
    if W.shape != means.T.shape:
        raise ValueError(f"W must have shape (K, d) = {means.T.shape}, got {W.shape}")
    chosen = np.argmax(W @ H, axis=0)
    dists = ((H[:, None, :] - means[:, :, None]) ** 2).sum(axis=0)
    return float(np.mean(chosen != np.argmin(dists, axis=0)))


def collapse_summary(W, H, labels) -> dict[str, float]:
    """The four NC measures of a last layer in one dict: ``nc1`` (trace form), ``nc2_orthogonal``,
    ``nc2_etf``, ``nc3`` (orthogonal frame, bias-free), ``nc4``, and the mean and spread
    (max − min) of the off-diagonal cosines between centred class means, ``etf_cosine`` and
    ``etf_cosine_spread`` (a simplex ETF has all of them −1/(K−1))."""
    cosines = class_mean_cosines(H, labels, "etf")
    off = cosines[~np.eye(len(cosines), dtype=bool)]
    return {
        "nc1": nc1(H, labels),
        "nc2_orthogonal": nc2(H, labels, "orthogonal"),
        "nc2_etf": nc2(H, labels, "etf"),
        "nc3": nc3(W, H, labels, "orthogonal"),
        "nc4": nc4(W, H, labels),
        "etf_cosine": float(off.mean()),
        "etf_cosine_spread": float(off.max() - off.min()),
    }
