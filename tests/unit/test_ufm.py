import math

import numpy as np
import pytest

from dnc import ufm


def paper_condition(K, n, lambda_Ws, lambda_H):
    """Condition (2) of paper A exactly as printed."""
    L = len(lambda_Ws)
    lhs = (K * n * np.prod(lambda_Ws) * lambda_H) ** (1 / L)
    return lhs < (L - 1) ** ((L - 1) / L) / (K * L**2)


def brute_force(K, n, lambda_Ws, lambda_H):
    """(K · min_s φ(s), argmin) on a fine grid (no root finding)."""
    q = len(lambda_Ws) + 1
    c = (np.prod(lambda_Ws) * lambda_H) ** (1 / q)
    s = np.linspace(0, 1.2 * math.sqrt(n), 400001)
    phi = (s - math.sqrt(n)) ** 2 / (2 * K * n) + 0.5 * q * c * s ** (2 / q)
    return K * phi.min(), s[np.argmin(phi)]


def brute_force_loss(K, n, lambda_Ws, lambda_H):
    return brute_force(K, n, lambda_Ws, lambda_H)[0]


def paper_objective(H1, Ws, lambda_Ws, lambda_H, K, n, activation="linear"):
    """Paper A eq. (1) as printed (numpy, written here): 1/(2Kn)‖W_L σ(⋯σ(W_1H_1)) − Y‖_F²
    + Σ_l ½λ_{W_l}‖W_l‖_F² + ½λ_{H_1}‖H_1‖_F² with Y = I_K ⊗ 1_nᵀ."""
    x = H1
    for i, W in enumerate(Ws):
        x = W @ x
        if activation == "relu" and i < len(Ws) - 1:
            x = np.maximum(x, 0)
    Y = np.kron(np.eye(K), np.ones((1, n)))
    reg = sum(0.5 * lam * np.sum(W**2) for lam, W in zip(lambda_Ws, Ws, strict=True))
    return np.sum((x - Y) ** 2) / (2 * K * n) + reg + 0.5 * lambda_H * np.sum(H1**2)


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_objective_is_paper_equation_1(activation):
    rng = np.random.default_rng(3)
    K, n, d, lams, lam_h = 3, 4, 5, [0.011, 0.023, 0.037], 0.052
    H1 = rng.standard_normal((d, K * n))
    Ws = [rng.standard_normal((d, d)), rng.standard_normal((d, d)), rng.standard_normal((K, d))]
    config = ufm.UFMConfig(K=K, n=n, d=d, L=3, lambda_W=lams, lambda_H=lam_h, activation=activation)
    want = paper_objective(H1, Ws, lams, lam_h, K, n, activation)
    assert ufm.objective(H1, Ws, config) == pytest.approx(want, rel=1e-13)
    data = paper_objective(H1, Ws, [0.0] * 3, 0.0, K, n, activation)
    assert ufm.data_loss(H1, Ws, activation) == pytest.approx(data, rel=1e-13)
    assert np.array_equal(ufm.labels(K, n), [0] * n + [1] * n + [2] * n)


@pytest.mark.parametrize("L", [2, 3, 5])
def test_threshold_matches_paper_condition(L):
    rng = np.random.default_rng(L)
    for _ in range(200):
        lam = list(10 ** rng.uniform(-4, -0.5, L))
        lam_h = 10 ** rng.uniform(-4, -0.5)
        K, n = int(rng.integers(2, 8)), int(rng.integers(1, 50))
        assert ufm.below_threshold(K, n, lam, lam_h) == paper_condition(K, n, lam, lam_h)


def test_one_layer_threshold_is_K_sqrt_n_lambda():
    assert ufm.below_threshold(3, 10, [0.99 / (9 * 10)], 1.0)
    assert not ufm.below_threshold(3, 10, [1.01 / (9 * 10)], 1.0)


@pytest.mark.parametrize("lams", [[5e-3] * 3, [2e-3, 1e-2, 4e-3, 7e-3], [0.08, 0.05]])
def test_optimal_loss_against_grid(lams):
    loss, s_best = brute_force(3, 10, lams, 3e-3)
    assert ufm.optimal_loss(3, 10, lams, 3e-3) == pytest.approx(loss, rel=1e-7)
    grid_step = 1.2 * math.sqrt(10) / 400000
    assert abs(ufm.linear_optimum(3, 10, lams, 3e-3).product_sv - s_best) < 2 * grid_step


def test_optimum_is_zero_above_threshold():
    opt = ufm.linear_optimum(3, 10, [0.5] * 3, 0.5)
    assert not opt.collapsed and opt.loss == pytest.approx(0.5) and opt.product_sv == 0.0


def test_balanced_factors_reproduce_the_optimal_product_and_loss():
    lams, lam_h, K, n = [2e-3, 4e-3, 6e-3], 3e-3, 3, 10
    opt = ufm.linear_optimum(K, n, lams, lam_h)
    assert np.prod(opt.factor_sv) == pytest.approx(opt.product_sv, rel=1e-12)
    # Build the optimum explicitly from the singular values and evaluate the objective.
    d = 5
    frame = np.eye(d)[:, :K]
    H1 = opt.factor_sv[0] / math.sqrt(n) * np.kron(frame, np.ones((1, n)))
    Ws = [
        opt.factor_sv[1] * frame @ frame.T,
        opt.factor_sv[2] * frame @ frame.T,
        opt.factor_sv[3] * frame.T,
    ]
    assert paper_objective(H1, Ws, lams, lam_h, K, n) == pytest.approx(opt.loss, rel=1e-12)
    # balance (Theorem 4.4): λ_{W_l} σ_l² equal across factors, λ_{H_1} σ_H² included
    kappa = [lam * sv**2 for lam, sv in zip([lam_h, *lams], opt.factor_sv, strict=True)]
    assert np.allclose(kappa, kappa[0], rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lambda_W=-1.0), "positive finite"),
        (dict(lambda_W=float("nan")), "positive finite"),
        (dict(lambda_H=0.0), "positive finite"),
        (dict(lambda_W=[1e-3, 1e-3]), "needs 3 values"),
        (dict(activation="tanh"), "activation must be one of"),
        (dict(loss="hinge"), "loss must be one of"),
        (dict(K=1), "at least 2 classes"),
        (dict(n=0), "positive integer"),
    ],
)
def test_bad_config(kwargs, message):
    base = dict(K=3, n=4, d=5, L=3)
    with pytest.raises(ValueError, match=message):
        ufm.UFMConfig(**{**base, **kwargs})


def test_width_below_classes_warns_why():
    with pytest.warns(UserWarning, match="cannot form an orthogonal frame"):
        config = ufm.UFMConfig(K=3, n=4, d=2, L=3)
    assert config.widths() == [2, 2, 2, 3]


def test_mismatched_shapes_are_named():
    H1 = np.ones((4, 6))
    with pytest.raises(ValueError, match="do not chain"):
        ufm.layer_inputs(H1, [np.ones((4, 4)), np.ones((2, 3))])
