"""Laplace kernel, closed-form kernel AGOP vs autograd, arc-cosine kernel, Deep RFM."""

import numpy as np
import pytest
import torch
from scipy import integrate

from dnc.agop import core as agop
from dnc.agop import rfm


def spd(D, seed):
    B = np.random.default_rng(seed).standard_normal((D, D))
    return B @ B.T / D + 0.1 * np.eye(D)


def test_laplace_kernel_matches_definition():
    rng = np.random.default_rng(0)
    X, Z, M = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), spd(3, 1)
    K = rfm.laplace_kernel(X, Z, M, bandwidth=2.0)
    for i in range(4):
        for j in range(5):
            v = X[i] - Z[j]
            assert K[i, j] == pytest.approx(np.exp(-np.sqrt(v @ M @ v) / 2.0), rel=1e-12)


def torch_predictor(X_train, alpha, M, L):
    Xt, At, Mt = (torch.as_tensor(a) for a in (X_train, alpha, M))

    def f(x):  # N×D → N×K, the kernel predictor written independently with autograd
        diff = x[:, None, :] - Xt[None, :, :]
        sq = torch.einsum("npd,de,npe->np", diff, Mt, diff)
        dist = torch.sqrt(sq.clamp_min(1e-30))  # gradient 0 at the kink x = x_i
        return torch.exp(-dist / L) @ At

    return f


@pytest.mark.parametrize("use_M", [False, True])
def test_closed_form_agop_matches_autograd(use_M):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((15, 4))
    T = rng.standard_normal((15, 3))
    M = spd(4, 3) if use_M else np.eye(4)
    alpha = rfm.fit(X, T, M, bandwidth=1.5, ridge=1e-2)
    f = torch_predictor(X, alpha, M, 1.5)
    X_new = rng.standard_normal((9, 4))
    G_closed = rfm.laplace_agop(X, alpha, M, 1.5, X_eval=X_new, chunk=4)
    np.testing.assert_allclose(G_closed, agop.agop(f, X_new), rtol=1e-9, atol=1e-12)
    # on the training points the kink term is dropped, as autograd with the clamp does
    np.testing.assert_allclose(
        rfm.laplace_agop(X, alpha, M, 1.5), agop.agop(f, X), rtol=1e-8, atol=1e-12
    )


def test_ridgeless_fit_interpolates_and_ridge_shrinks():
    rng = np.random.default_rng(4)
    X, T = rng.standard_normal((20, 5)), rng.standard_normal((20, 2))
    alpha = rfm.fit(X, T, bandwidth=3.0, ridge=0.0)
    np.testing.assert_allclose(rfm.predict(X, alpha, X, bandwidth=3.0), T, atol=1e-8)
    alpha_r = rfm.fit(X, T, bandwidth=3.0, ridge=1.0)
    assert np.linalg.norm(alpha_r) < np.linalg.norm(alpha)
    # float32 fits the same function: its predictions agree with float64's to 1e-4
    alpha32 = rfm.fit(X, T, bandwidth=3.0, ridge=0.1, dtype=torch.float32)
    pred64 = rfm.predict(X, rfm.fit(X, T, bandwidth=3.0, ridge=0.1), X, bandwidth=3.0)
    np.testing.assert_allclose(rfm.predict(X, alpha32, X, bandwidth=3.0), pred64, atol=1e-4)


def test_singular_ridgeless_system_raises_or_warns():
    rng = np.random.default_rng(4)
    X, T = rng.standard_normal((20, 5)), rng.standard_normal((20, 2))
    Xd, Td = np.vstack([X, X[:1]]), np.vstack([T, T[:1]])  # a repeated point: K is singular
    with pytest.raises(np.linalg.LinAlgError, match=r"21×21 kernel system with ridge=0\.0"):
        rfm.fit(Xd, Td, bandwidth=3.0, ridge=0.0)
    with pytest.warns(RuntimeWarning, match="minimum-norm least-squares"):
        alpha = rfm.fit(Xd, Td, bandwidth=3.0, ridge=0.0, singular="lstsq")
    np.testing.assert_allclose(rfm.predict(Xd, alpha, X, bandwidth=3.0), T, atol=1e-6)
    with pytest.warns(RuntimeWarning, match="singular"):
        rfm.solve_kernel(np.ones((3, 3)), np.eye(3)[:, :1], ridge=0.0, singular="lstsq")
    with pytest.raises(ValueError, match="singular must be"):
        rfm.solve_kernel(np.eye(2), np.ones((2, 1)), singular="ignore")


def test_agop_in_float32_and_chunks_agree_with_float64():
    rng = np.random.default_rng(6)
    X, T = rng.standard_normal((40, 6)), rfm.targets(np.repeat(np.arange(4), 10))
    alpha = rfm.fit(X, T)
    G64 = rfm.laplace_agop(X, alpha)
    np.testing.assert_allclose(rfm.laplace_agop(X, alpha, chunk=7), G64, rtol=1e-8)
    G32 = rfm.laplace_agop(X, alpha, dtype=torch.float32)
    assert np.linalg.norm(G32 - G64) < 1e-4 * np.linalg.norm(G64)


def test_defaults_follow_the_authors_code():
    assert rfm.BANDWIDTH == 2.0 and rfm.RIDGE == 1e-3
    np.testing.assert_array_equal(rfm.targets(np.array([1, 0])), [[-1, 1], [1, -1]])


def test_arccos_kernel_monte_carlo():
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    W = rng.standard_normal((400_000, 4))
    mc = np.maximum(X @ W.T, 0) @ np.maximum(Y @ W.T, 0).T / W.shape[0]
    np.testing.assert_allclose(rfm.arccos_kernel(X, Y), mc, rtol=0.02, atol=0.01)


def test_arccos_kernel_numerical_integration_in_two_dimensions():
    x = np.array([1.3, 0.2])
    y = np.array([-0.4, 0.9])

    def integrand(w2, w1):
        w = np.array([w1, w2])
        return max(w @ x, 0) * max(w @ y, 0) * np.exp(-(w1**2 + w2**2) / 2) / (2 * np.pi)

    value, _ = integrate.dblquad(integrand, -9, 9, -9, 9, epsabs=1e-10)
    assert rfm.arccos_kernel(x[None], y[None])[0, 0] == pytest.approx(value, rel=1e-6)


def test_arccos_kernel_special_angles():
    e1, e2 = np.eye(2)
    K = rfm.arccos_kernel(np.array([e1, e1, -e1, 0 * e1]), np.array([e1, e2]))
    np.testing.assert_allclose(K[:, 0], [0.5, 0.5, 0.0, 0.0], atol=1e-12)  # E ReLU(g)² = 1/2
    assert K[0, 1] == pytest.approx(1 / (2 * np.pi))  # θ = π/2


def test_feature_distance_ratio_monotone_and_bounded():
    delta = np.linspace(1e-3, 2, 400)
    ratio = rfm.relu_feature_distance(delta) / delta
    assert np.all(np.diff(ratio) < 0)
    assert ratio[0] == pytest.approx(1.0, abs=1e-3) and ratio[-1] == pytest.approx(2**-0.5)
    with pytest.raises(ValueError, match="input_distance"):
        rfm.relu_feature_distance(2.5)


def test_deep_rfm_collapses_a_gaussian_mixture_and_is_seeded():
    from dnc.data import gaussian_mixture

    X, y = gaussian_mixture(K=3, n_per_class=15, D=10, separation=2.0, seed=0)
    a = rfm.deep_rfm(X, y, layers=5, width=128, bandwidth=2.0, seed=7, keep=[4])
    b = rfm.deep_rfm(X, y, layers=5, width=128, bandwidth=2.0, seed=7, keep=[4])
    np.testing.assert_array_equal(a["rf_out"][4], b["rf_out"][4])
    assert a["nc1_in"][-1] < 0.1 * a["nc1_in"][0]
    # NC1 = tr Σ_W / tr Σ_B written out here from its definition, independently of dnc.metrics
    H = a["agop_out"][4]
    means = np.stack([H[y == c].mean(0) for c in range(3)])
    within = sum(((H[y == c] - means[c]) ** 2).sum() for c in range(3)) / H.shape[0]
    between = ((means - means.mean(0)) ** 2).sum() / 3
    assert a["nc1_agop"][-1] == pytest.approx(within / between, rel=1e-10)


def test_bad_input_is_named():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="bandwidth"):
        rfm.laplace_kernel(X, X, bandwidth=0)
    with pytest.raises(ValueError, match="M must be 2×2"):
        rfm.laplace_kernel(X, X, np.eye(3))
    with pytest.raises(ValueError, match="ridge"):
        rfm.solve_kernel(np.eye(3), np.ones((3, 1)), ridge=-1)
    with pytest.raises(ValueError, match="same dimension"):
        rfm.arccos_kernel(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="alpha must have 3 rows"):
        rfm.laplace_agop(X, np.ones((2, 1)))
    with pytest.raises(ValueError, match="alpha must have 3 rows"):
        rfm.predict(X, np.ones((2, 1)), X)
    with pytest.raises(ValueError, match=r"X_train \(3, 2\) and X_eval \(4, 3\)"):
        rfm.predict(X, np.ones((3, 1)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"X_train \(3, 2\) and X_eval \(4, 3\)"):
        rfm.laplace_agop(X, np.ones((3, 1)), X_eval=np.ones((4, 3)))
    with pytest.raises(ValueError, match="bandwidth must be a positive finite number, got -2"):
        rfm.deep_rfm(X, [0, 1, 1], bandwidth=-2)
    with pytest.raises(ValueError, match=r"0\.\.K−1.*\[1, 2\]"):
        rfm.deep_rfm(X, [1, 2, 2])
    with pytest.raises(ValueError, match="T must have one row per sample"):
        rfm.fit(X, np.ones((2, 1)))
    with pytest.raises(ValueError, match="dtype"):
        rfm.fit(X, np.ones((3, 1)), dtype=torch.float16)
    with pytest.raises(ValueError, match="1D array"):
        rfm.targets(np.zeros((2, 2), dtype=int))


def test_gram_recursion_linear_kernel_collapses_in_one_layer():
    from dnc.agop import theory as th
    from dnc.data import gaussian_mixture

    X, y = gaussian_mixture(K=3, n_per_class=5, D=30, seed=1)
    G0 = X @ X.T + 0.1 * np.eye(15)
    fast = th.simplified_deep_rfm(G0, y, lambda_k=1e-9, lambda_phi=0.1, layers=2)
    slow = th.simplified_deep_rfm(G0, y, lambda_k=1.0, lambda_phi=0.1, layers=6)
    assert fast["nc1_agop"][0] < 1e-12
    rate, r2 = th.exponential_rate(slow["nc1_agop"])
    assert rate > 0 and r2 > 0.99


def test_relaxed_objective_is_the_inner_minimum_and_collapsed_value():
    from dnc.agop import theory as th

    k = th.random_unit_diagonal_kernel(8, seed=3)
    assert np.allclose(np.diag(k), 1) and np.all(k > 0)
    y = np.repeat([1.0, -1.0], 4)
    mu = 0.5
    alpha = np.linalg.solve(k + mu * np.eye(8), y)
    direct = np.sum((y - k @ alpha) ** 2) + mu * alpha @ k @ alpha
    assert th.relaxed_objective(k, y, mu) == pytest.approx(direct, rel=1e-10)
    assert th.relaxed_objective(th.collapsed_kernel(4), y, mu) == pytest.approx(mu * 8 / (4 + mu))
    with pytest.raises(ValueError, match="symmetric"):
        th.relaxed_objective(np.ones((2, 3)), y[:2])
    with pytest.raises(ValueError, match="ridge"):
        th.relaxed_objective(k, y, 0.0)


def test_paper_b_figures_are_registered_once_each():
    from dnc.figures import paper_b  # noqa: F401
    from dnc.figures.registry import REGISTRY

    numbers = sorted(s.number for s in REGISTRY.values() if s.paper == "B")
    assert numbers == ["1", "2", "3", "4", "App. B.3"]
    fig = paper_b.random_feature_distance_ratio(points=50)
    assert len(fig.axes) == 2


def test_deep_rfm_step_accounting_on_a_hand_made_run():
    from dnc.agop import steps as deep_rfm_steps

    run = {  # NC1: AGOP halves it, RF raises it by 1.5 except once; NC2 falls at the second RF step
        "nc1_in": np.array([1.0, 0.75, 0.3]),
        "nc1_agop": np.array([0.5, 0.375, 0.15]),
        "nc2_in": np.array([0.4, 0.5, 0.2]),
        "nc2_agop": np.array([0.45, 0.3, 0.1]),
    }
    out = deep_rfm_steps.summary([run])
    assert out["agop_lower"] == 3 and out["agop_count"] == 3
    assert out["rf_raise"] == 1 and out["rf_count"] == 2  # 0.5 → 0.75 raises, 0.375 → 0.3 lowers
    assert out["agop_nc2_lower"] == 2 and out["rf_nc2_lower"] == 1 and out["rf_nc2_layers"] == [2]
    assert "renorm_nc1" not in out  # no features before normalisation: map and normalisation as one
    assert out["factor"] == pytest.approx(1 / 0.15)
    within, between = deep_rfm_steps.gram_blocks(
        np.array([[1, 0.9, -0.5], [0.9, 1, -0.4], [-0.5, -0.4, 1]]), [0, 0, 1]
    )
    assert within == pytest.approx(0.9) and between == pytest.approx(-0.45)
    with pytest.raises(ValueError, match="metric"):
        deep_rfm_steps.step_reductions(run, "nc3")
    # with the features before the row normalisation, the RF map and the normalisation separate
    run |= {"nc1_rf": np.array([0.8, 0.3, 0.2]), "nc2_rf": np.array([0.5, 0.25, 0.1])}
    out = deep_rfm_steps.summary([run])
    assert out["rf_raise"] == 2 and out["rf_count"] == 3  # 0.5 → 0.8 and 0.15 → 0.2 raise it
    np.testing.assert_allclose(
        deep_rfm_steps.renormalisation(run, "nc1"), np.log([0.8 / 0.75, 1.0])
    )
    assert out["renorm_nc1"] == pytest.approx(1 - 0.75 / 0.8)
    assert out["renorm_nc2"] == pytest.approx(0.2)  # 0.25 → 0.2 entering layer 3
    assert out["rf_nc2_lower"] == 1 and out["rf_nc2_layers"] == [2]  # 0.3 → 0.25 in layer 2


def test_ridge_keeps_a_collapsed_float32_system_solvable():
    """Collapsed features repeat points: the kernel is singular, the ridge makes the system
    positive definite with λ_min ≥ μ, and the Cholesky pivots keep that bound (LU's need not)."""
    rng = np.random.default_rng(0)
    X = np.repeat(rng.standard_normal((4, 6)), 300, axis=0)  # 4 classes, 300 identical points each
    X += 1e-6 * rng.standard_normal(X.shape)
    T = np.repeat(np.eye(4), 300, axis=0)
    alpha = rfm.fit(X, T, bandwidth=2.0, ridge=1e-3, dtype=torch.float32)
    reference = rfm.fit(X, T, bandwidth=2.0, ridge=1e-3, dtype=torch.float64)
    # α is ill-determined along the near-null directions; the fitted values are not
    fitted, exact = (
        rfm.predict(X, alpha, X, bandwidth=2.0),
        rfm.predict(X, reference, X, bandwidth=2.0),
    )
    assert np.abs(fitted - exact).max() < 1e-3
    with pytest.raises(ValueError, match="symmetric"):
        rfm.solve_kernel(np.triu(np.ones((3, 3))), np.ones((3, 1)))
