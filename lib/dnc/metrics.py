"""Neural-collapse metrics on a d×N feature matrix H (one column per sample) with N class labels.

Class means μ_c = Av_i h_ic, global mean μ_G = Av_c μ_c,
Σ_W = (1/N) Σ_ic (h_ic − μ_c)(h_ic − μ_c)ᵀ,  Σ_B = (1/K) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ.
Everything is computed in float64; pseudo-inverses are rank-aware (eigenvalues below
``rtol · λ_max`` are treated as zero), so NC1 can never come out negative.
"""

from __future__ import annotations

import numpy as np

from dnc._checks import as_matrix, class_labels

NC1_KINDS = ("trace", "frobenius", "trace_ratio")
FRAMES = ("etf", "orthogonal")
RTOL = 1e-10


def _features(H, labels):
    H = as_matrix(H, "H")
    lab = class_labels(labels, H.shape[1], "labels")
    classes = np.unique(lab)
    if classes.size < 2:
        raise ValueError(f"need at least 2 classes, labels contain {classes.size}")
    return H, lab, classes


def class_means(H, labels) -> np.ndarray:
    """The d×K matrix H̄ = [μ_1, …, μ_K], classes in increasing label order.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        d×K float64 matrix whose c-th column is μ_c = Av_i h_ic, the mean of class c's columns.

    Raises:
        ValueError: ``H`` is not a finite 2D matrix, ``labels`` is not a length-N integer vector,
            or fewer than 2 classes are present.
    """
    H, lab, classes = _features(H, labels)
    return np.stack([H[:, lab == c].mean(axis=1) for c in classes], axis=1)


def global_mean(H, labels) -> np.ndarray:
    """μ_G = Av_c μ_c, the mean of the class means.

    Every class has weight 1/K, whatever its size, so μ_G equals the sample mean for balanced
    classes.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        The length-d float64 vector μ_G.

    Raises:
        ValueError: ``H`` is not a finite 2D matrix, ``labels`` is not a length-N integer vector,
            or fewer than 2 classes are present.
    """
    return class_means(H, labels).mean(axis=1)


def within_class_covariance(H, labels) -> np.ndarray:
    """Σ_W = (1/N) Σ_ic (h_ic − μ_c)(h_ic − μ_c)ᵀ, the within-class covariance.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        The d×d float64 matrix Σ_W (normalised by the total number of samples N).

    Raises:
        ValueError: ``H`` is not a finite 2D matrix, ``labels`` is not a length-N integer vector,
            or fewer than 2 classes are present.
    """
    H, lab, classes = _features(H, labels)
    means = class_means(H, lab)
    index = np.searchsorted(classes, lab)
    centred = H - means[:, index]
    return centred @ centred.T / H.shape[1]


def between_class_covariance(H, labels) -> np.ndarray:
    """Σ_B = (1/K) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ, the between-class covariance.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        The d×d float64 matrix Σ_B, of rank at most K − 1.

    Raises:
        ValueError: ``H`` is not a finite 2D matrix, ``labels`` is not a length-N integer vector,
            or fewer than 2 classes are present.
    """
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
    """NC1, the within-class variability relative to the between-class spread (0 at collapse).

    ``"trace"``: tr(Σ_W Σ_B^†)/K; ``"frobenius"``: ‖Σ_W Σ_B^†‖_F² (paper A's plots);
    ``"trace_ratio"``: tr Σ_W / tr Σ_B (paper B). Returns ``inf`` when the class means coincide.
    Σ_B^† is the rank-aware pseudo-inverse (eigenvalues below ``RTOL · λ_max`` dropped); the
    trace form is evaluated as a sum of non-negative terms, so it is never negative.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.
        kind: One of :data:`NC1_KINDS`: ``"trace"``, ``"frobenius"`` or ``"trace_ratio"``.

    Returns:
        NC1 as a non-negative float, or ``inf`` when Σ_B = 0.

    Raises:
        ValueError: ``kind`` is not one of :data:`NC1_KINDS`, or the checks on ``H`` and
            ``labels`` fail (see :func:`class_means`).
    """
    if kind not in NC1_KINDS:
        raise ValueError(f"kind must be one of {NC1_KINDS}, got {kind!r}")
    H, lab, classes = _features(H, labels)
    return nc1_of(
        within_class_covariance(H, lab), between_class_covariance(H, lab), classes.size, kind
    )


def nc1_of(sw, sb, K: int, kind: str = "trace") -> float:
    """:func:`nc1` from Σ_W and Σ_B themselves (as streamed class statistics give them).

    Raises:
        ValueError: ``kind`` is not one of :data:`NC1_KINDS`.
    """
    if kind not in NC1_KINDS:
        raise ValueError(f"kind must be one of {NC1_KINDS}, got {kind!r}")
    if kind == "trace_ratio":
        tb = np.trace(sb)
        return float(np.trace(sw) / tb) if tb > 0 else float("inf")
    vals, vecs = _pinv_eig(sb)
    if vals.size == 0:
        return float("inf")
    if kind == "trace":
        # tr(Σ_W V Λ⁻¹ Vᵀ) = Σ_k v_kᵀ Σ_W v_k / λ_k: a sum of non-negative terms.
        quad = np.einsum("ik,ij,jk->k", vecs, sw, vecs)
        return float(np.sum(np.clip(quad, 0.0, None) / vals) / K)
    product = (sw @ vecs) / vals @ vecs.T
    return float(np.sum(product**2))


def frame_gram(K: int, frame: str) -> np.ndarray:
    """Target Gram matrix: I_K for an orthogonal frame, I_K − 1 1ᵀ/K for a simplex ETF.

    Args:
        K: Number of classes.
        frame: ``"orthogonal"`` or ``"etf"`` (one of :data:`FRAMES`).

    Returns:
        The K×K float64 target Gram matrix.

    Raises:
        ValueError: ``frame`` is not one of :data:`FRAMES`.
    """
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    eye = np.eye(K)
    return eye if frame == "orthogonal" else eye - np.ones((K, K)) / K


def _frame_means(H, labels, frame: str) -> np.ndarray:
    return _centred(class_means(H, labels), frame)


def _centred(means, frame: str) -> np.ndarray:
    """The means as the frame compares them: centred by their mean for ``"etf"``, raw otherwise."""
    means = np.asarray(means, dtype=np.float64)
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    if frame == "etf":
        means = means - means.mean(axis=1, keepdims=True)
    return means


def class_mean_cosines(H, labels, frame: str = "etf") -> np.ndarray:
    """K×K cosines between class means (centred by μ_G for ``"etf"``, raw for ``"orthogonal"``).

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.
        frame: ``"etf"`` (means centred by μ_G first) or ``"orthogonal"`` (raw means).

    Returns:
        K×K float64 matrix of cos∠(μ_c, μ_c′), with ones on the diagonal.

    Raises:
        ValueError: ``frame`` is not one of :data:`FRAMES`, a (centred) class mean is zero, or
            the checks on ``H`` and ``labels`` fail (see :func:`class_means`).
    """
    return mean_cosines(class_means(H, labels), frame)


def mean_cosines(means, frame: str = "etf") -> np.ndarray:
    """:func:`class_mean_cosines` from the d×K class means themselves.

    Raises:
        ValueError: ``frame`` is not one of :data:`FRAMES`, or a (centred) class mean is zero.
    """
    means = _centred(means, frame)
    norms = np.linalg.norm(means, axis=0)
    if np.any(norms == 0):
        raise ValueError("a class mean is zero, so its direction (and NC2) is undefined")
    unit = means / norms
    return unit.T @ unit


def nc2(H, labels, frame: str = "etf") -> float:
    """NC2 = ‖ MᵀM/‖MᵀM‖_F − T/‖T‖_F ‖_F with M the class means and T = :func:`frame_gram`.

    Zero exactly when the means form the frame up to scale: equal norms and the frame's angles.
    ``"etf"`` centres the means by μ_G first; ``"orthogonal"`` (bias-free MSE models) does not.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.
        frame: ``"etf"`` or ``"orthogonal"`` (one of :data:`FRAMES`).

    Returns:
        NC2 as a non-negative float.

    Raises:
        ValueError: ``frame`` is not one of :data:`FRAMES`, every class mean is zero, or the
            checks on ``H`` and ``labels`` fail (see :func:`class_means`).
    """
    return nc2_of_means(class_means(H, labels), frame)


def nc2_of_means(means, frame: str = "etf") -> float:
    """:func:`nc2` from the d×K class means themselves.

    Raises:
        ValueError: ``frame`` is not one of :data:`FRAMES`, or every (centred) class mean is zero.
    """
    means = _centred(means, frame)
    gram = means.T @ means
    scale = np.linalg.norm(gram)
    if scale == 0:
        raise ValueError("every (centred) class mean is zero, so NC2 is undefined")
    target = frame_gram(means.shape[1], frame)
    return float(np.linalg.norm(gram / scale - target / np.linalg.norm(target)))


def nc1_authors(H, labels) -> float:
    """Paper B's code's NC1: tr Σ_W / tr Σ_B with Σ_W divided by K·N, i.e. :func:`nc1` ÷ K.

    The authors' ``get_class_variance`` (deep_rfm.py, nc_nn.py) divides the within-class scatter
    by K·n where the book's Σ_W divides by N; with their n the data size, their value is the
    book's ``nc1(H, labels, kind="trace_ratio")`` divided by K.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        The authors' NC1, a non-negative float (``inf`` when the class means coincide).

    Raises:
        ValueError: the checks on ``H`` and ``labels`` fail (see :func:`class_means`).
    """
    K = class_means(H, labels).shape[1]
    return nc1(H, labels, kind="trace_ratio") / K


def trace_fractions(H, labels, authors: bool = False) -> tuple[float, float]:
    """(tr Σ_W / tr Σ_T, tr Σ_B / tr Σ_T), Σ_T = (1/N) Σ_i (h_i − μ_G)(h_i − μ_G)ᵀ.

    With balanced classes Σ_T = Σ_W + Σ_B and the two fractions add up to 1. ``authors=True``
    gives paper B's code's values (``get_class_variance`` in nc_nn.py, plotted in App. B.3):
    Σ_W and Σ_T there are divided by K·N and Σ_B by K, so its second fraction is K times ours
    (for balanced classes) and the two add up to 1 only after dividing that one by K.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.
        authors: Whether to normalise as paper B's code does.

    Returns:
        The two ratios as floats.

    Raises:
        ValueError: all features coincide (tr Σ_T = 0), or the checks on ``H`` and ``labels`` fail.
    """
    H, lab, classes = _features(H, labels)
    K, N = classes.size, H.shape[1]
    total = float(np.sum((H - global_mean(H, lab)[:, None]) ** 2))
    if total <= 0:
        raise ValueError("all features coincide: tr Σ_T = 0, the fractions are undefined")
    within = float(np.trace(within_class_covariance(H, lab))) * N
    between = float(np.trace(between_class_covariance(H, lab)))
    if authors:
        return within / total, between * K * N / total
    return within / total, between * N / total


def nc2_authors(H, labels) -> float:
    """Paper B's code's NC2: mean_{c,c′} (cos∠(μ̃_c, μ̃_c′) − S_cc′)² over the K×K entries.

    μ̃_c are the class means centred by their mean and scaled to unit norm, and
    S = K/(K−1) I − 1 1ᵀ/(K−1) is the simplex ETF's Gram of unit vectors (``get_NC2_from_means``
    in the authors' deep_rfm.py). Unlike :func:`nc2` it ignores the means' norms.

    Args:
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        The authors' NC2, a non-negative float (0 exactly at a simplex ETF).

    Raises:
        ValueError: a centred class mean is zero, or the checks on ``H`` and ``labels`` fail.
    """
    return nc2_authors_of_means(class_means(H, labels))


def nc2_authors_of_means(means) -> float:
    """:func:`nc2_authors` from the d×K class means themselves.

    Raises:
        ValueError: a centred class mean is zero.
    """
    cos = mean_cosines(means, frame="etf")
    K = cos.shape[0]
    simplex = np.eye(K) * K / (K - 1) - np.ones((K, K)) / (K - 1)
    return float(np.mean((cos - simplex) ** 2))


def nc3(W, H, labels, frame: str = "etf") -> float:
    """NC3 = ‖ Wᵀ/‖W‖_F − M/‖M‖_F ‖_F, the self-duality of classifier W and class means M.

    M is centred by μ_G for ``"etf"`` and left raw for ``"orthogonal"``, as in :func:`nc2`.

    Args:
        W: K×d classifier (last-layer weight matrix), one row per class.
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.
        frame: ``"etf"`` or ``"orthogonal"`` (one of :data:`FRAMES`).

    Returns:
        NC3 as a float in [0, 2].

    Raises:
        ValueError: ``W`` is not K×d, ``frame`` is not one of :data:`FRAMES`, W or every class
            mean is zero, or the checks on ``H`` and ``labels`` fail (see :func:`class_means`).
    """
    W = as_matrix(W, "W")
    means = _frame_means(H, labels, frame)
    if W.shape != means.T.shape:
        raise ValueError(
            f"W must have shape (K, d) = {means.T.shape} to match the class means, got {W.shape}"
        )
    nw, nm = np.linalg.norm(W), np.linalg.norm(means)
    if nw == 0 or nm == 0:
        raise ValueError(f"NC3 is undefined when {'W' if nw == 0 else 'every class mean'} is zero")
    return float(np.linalg.norm(W.T / nw - means / nm))


def nc4(W, H, labels) -> float:
    """NC4, the fraction of samples where argmax_c (W h)_c differs from argmin_c ‖h − μ_c‖.

    The classifier's choice is compared with the nearest class mean (NC4: the classifier becomes
    nearest-class-centre). The classifier has no bias term.

    Args:
        W: K×d classifier, one row per class.
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        The disagreement rate, a float in [0, 1].

    Raises:
        ValueError: ``W`` is not K×d, or the checks on ``H`` and ``labels`` fail (see
            :func:`class_means`).
    """
    W = as_matrix(W, "W")
    H, lab, _ = _features(H, labels)
    means = class_means(H, lab)
    if W.shape != means.T.shape:
        raise ValueError(f"W must have shape (K, d) = {means.T.shape}, got {W.shape}")
    chosen = np.argmax(W @ H, axis=0)
    dists = ((H[:, None, :] - means[:, :, None]) ** 2).sum(axis=0)
    return float(np.mean(chosen != np.argmin(dists, axis=0)))


def collapse_summary(W, H, labels) -> dict[str, float]:
    """The four NC measures of a last layer in one dict, with the centred class-mean cosines.

    The keys are ``nc1`` (trace form), ``nc2_orthogonal``, ``nc2_etf``, ``nc3`` (orthogonal
    frame, bias-free), ``nc4``, and the mean and spread (max − min) of the off-diagonal cosines
    between centred class means, ``etf_cosine`` and ``etf_cosine_spread`` (a simplex ETF has all
    of them −1/(K−1)).

    Args:
        W: K×d classifier, one row per class.
        H: d×N feature matrix, one column per sample.
        labels: Length-N integer labels holding the classes 0..K−1, K ≥ 2, each at least once.

    Returns:
        Dict from the seven names above to floats.

    Raises:
        ValueError: any check of :func:`nc1`, :func:`class_mean_cosines`, :func:`nc3` or
            :func:`nc4` fails (bad shapes, fewer than 2 classes, a zero centred class mean).
    """
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
