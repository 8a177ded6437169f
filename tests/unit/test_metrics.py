import numpy as np
import pytest

from dnc import metrics

# Hand case: one feature, two classes: class 0 at {0, 2}, class 1 at {4, 6}.
H = np.array([[0.0, 2.0, 4.0, 6.0]])
LABELS = np.array([0, 0, 1, 1])


def test_means_and_covariances_by_hand():
    assert np.allclose(metrics.class_means(H, LABELS), [[1.0, 5.0]])
    assert np.allclose(metrics.global_mean(H, LABELS), [3.0])
    assert np.allclose(metrics.within_class_covariance(H, LABELS), [[1.0]])  # (1+1+1+1)/4
    assert np.allclose(metrics.between_class_covariance(H, LABELS), [[4.0]])  # (4+4)/2


def test_nc1_kinds_by_hand():
    assert metrics.nc1(H, LABELS) == pytest.approx(0.25 / 2)  # tr(Σ_W Σ_B^†)/K
    assert metrics.nc1(H, LABELS, "frobenius") == pytest.approx(0.0625)
    assert metrics.nc1(H, LABELS, "trace_ratio") == pytest.approx(0.25)


def test_labels_in_any_order():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 30))
    lab = np.repeat(np.arange(3), 10)
    perm = rng.permutation(30)
    for kind in metrics.NC1_KINDS:
        assert metrics.nc1(X[:, perm], lab[perm], kind) == pytest.approx(metrics.nc1(X, lab, kind))


def test_nc1_never_negative_on_nearly_collapsed_means():
    rng = np.random.default_rng(0)
    for trial in range(200):
        K, d, n = rng.integers(2, 6), rng.integers(2, 20), rng.integers(1, 6)
        means = rng.standard_normal((d, K)) * 10.0 ** rng.uniform(-8, 2)
        means[:, -1] = means[:, 0] + 1e-9 * rng.standard_normal(d)  # nearly coincident means
        lab = np.repeat(np.arange(K), n)
        X = means[:, lab] + 10.0 ** rng.uniform(-12, 0) * rng.standard_normal((d, K * n))
        for kind in metrics.NC1_KINDS:
            assert metrics.nc1(X, lab, kind) >= 0, (trial, kind)


def test_nc2_frames():
    frame = 2.0 * np.eye(6)[:, :4]
    lab = np.repeat(np.arange(4), 3)
    X = frame[:, lab]
    assert metrics.nc2(X, lab, "orthogonal") < 1e-12
    assert metrics.nc2(X, lab, "etf") < 1e-12  # an orthogonal frame is an ETF once centred
    etf = frame - frame.mean(axis=1, keepdims=True)
    assert metrics.nc2(etf[:, lab], lab, "etf") < 1e-12
    assert metrics.nc2(etf[:, lab], lab, "orthogonal") > 0.1  # but not an orthogonal frame
    unequal = frame * np.array([1.0, 1.0, 1.0, 2.0])
    assert metrics.nc2(unequal[:, lab], lab, "orthogonal") > 0.1
    cos = metrics.class_mean_cosines(X, lab, "etf")
    assert np.allclose(cos[~np.eye(4, dtype=bool)], -1 / 3)


def test_nc3_and_nc4():
    frame = np.eye(5)[:, :3]
    lab = np.repeat(np.arange(3), 4)
    X = frame[:, lab] + 0.01 * np.random.default_rng(0).standard_normal((5, 12))
    W = 3.0 * metrics.class_means(X, lab).T
    assert metrics.nc3(W, X, lab, "orthogonal") < 1e-12
    assert metrics.nc3(-W, X, lab, "orthogonal") > 1.0
    assert metrics.nc4(W, X, lab) == 0.0
    assert metrics.nc4(W[[1, 0, 2]], X, lab) == pytest.approx(8 / 12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metrics.nc1(H, LABELS, kind="bogus"), "kind must be one of"),
        (lambda: metrics.nc1(H, LABELS[:3]), "must have shape"),
        (lambda: metrics.nc1(H, np.zeros(4, dtype=int)), "at least 2 classes"),
        (lambda: metrics.nc1(np.array([[np.nan, 1, 2, 3]]), LABELS), "NaN"),
        (lambda: metrics.nc1(H[0], LABELS), "2D matrix"),
        (lambda: metrics.nc1(H, np.array([0.5, 0, 1, 1])), "integer class indices"),
        (lambda: metrics.nc2(H, LABELS, frame="square"), "frame must be one of"),
        (lambda: metrics.nc3(np.ones((3, 1)), H, LABELS), "shape"),
    ],
)
def test_bad_input_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_collapse_summary_of_an_exactly_collapsed_layer():
    K, n = 3, 4
    means = 2.0 * np.eye(5)[:, :K]
    labels = np.repeat(np.arange(K), n)
    H = means[:, labels]
    summary = metrics.collapse_summary(means.T, H, labels)
    for key in ("nc1", "nc2_orthogonal", "nc2_etf", "nc3", "nc4", "etf_cosine_spread"):
        assert abs(summary[key]) < 1e-12, key
    assert summary["etf_cosine"] == pytest.approx(-1 / (K - 1))
    noisy = H + 0.1 * np.random.default_rng(0).standard_normal(H.shape)
    assert metrics.collapse_summary(means.T, noisy, labels)["nc1"] > 1e-4


def test_the_authors_normalisations_as_their_code_computes_them():
    """Paper B's code: Σ_W over K·N (NC1 = ours / K) and the mean squared cosine error (NC2)."""
    rng = np.random.default_rng(3)
    K, n, d = 4, 5, 6
    labels = np.repeat(np.arange(K), n)
    H = rng.standard_normal((d, K * n)) + 3 * np.repeat(rng.standard_normal((d, K)), n, axis=1)
    # the authors' get_class_variance, transcribed with a loop over classes
    X = H.T
    means = np.stack([X[labels == c].mean(0) for c in range(K)])
    mu_g = means.mean(0)
    sigma_b = (means - mu_g).T @ (means - mu_g) / K
    sigma_w = sum((X[labels == c] - means[c]).T @ (X[labels == c] - means[c]) for c in range(K))
    sigma_w = sigma_w / (K * X.shape[0])
    assert np.isclose(metrics.nc1_authors(H, labels), np.trace(sigma_w) / np.trace(sigma_b))
    assert np.isclose(
        metrics.nc1_authors(H, labels), metrics.nc1(H, labels, kind="trace_ratio") / K, rtol=1e-14
    )
    # get_NC2_from_means
    u = means - mu_g
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    simplex = np.eye(K) * (1 + 1 / (K - 1)) - np.ones((K, K)) / (K - 1)
    assert np.isclose(metrics.nc2_authors(H, labels), np.mean((u @ u.T - simplex) ** 2))
    # zero at a simplex ETF of any scale, where ours is zero too
    etf = np.eye(K) - np.ones((K, K)) / K
    collapsed = np.repeat(5.0 * etf, n, axis=1)
    assert metrics.nc2_authors(collapsed, labels) < 1e-28 and metrics.nc2(collapsed, labels) < 1e-14


def test_trace_fractions_as_the_authors_code_computes_them():
    """App. B.3's tr Σ_W/tr Σ_T and tr Σ_B/tr Σ_T: ours add up to 1, the authors' B one is K×."""
    rng = np.random.default_rng(4)
    K, n, d = 3, 7, 5
    labels = np.repeat(np.arange(K), n)
    H = rng.standard_normal((d, K * n)) + 2 * np.repeat(rng.standard_normal((d, K)), n, axis=1)
    X, N = H.T, K * n
    means = np.stack([X[labels == c].mean(0) for c in range(K)])
    mu_g = means.mean(0)
    sigma_b = (means - mu_g).T @ (means - mu_g) / K
    sigma_w = sum((X[labels == c] - means[c]).T @ (X[labels == c] - means[c]) for c in range(K))
    sigma_t = sum((X[labels == c] - mu_g).T @ (X[labels == c] - mu_g) for c in range(K))
    sigma_w, sigma_t = sigma_w / (K * N), sigma_t / (K * N)
    w, b = metrics.trace_fractions(H, labels, authors=True)
    assert np.isclose(w, np.trace(sigma_w) / np.trace(sigma_t), rtol=1e-13)
    assert np.isclose(b, np.trace(sigma_b) / np.trace(sigma_t), rtol=1e-13)
    ours = metrics.trace_fractions(H, labels)
    assert np.isclose(sum(ours), 1.0, rtol=1e-13) and np.isclose(ours[1] * K, b, rtol=1e-13)
    with pytest.raises(ValueError, match="coincide"):
        metrics.trace_fractions(np.ones((d, K * n)), labels)
