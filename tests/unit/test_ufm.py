import math

import numpy as np
import pytest

from dnc import ufm


def paper_condition(K, n, lambda_Ws, lambda_H):
    """Condition (2) of paper A exactly as printed."""
    L = len(lambda_Ws)
    lhs = (K * n * np.prod(lambda_Ws) * lambda_H) ** (1 / L)
    return lhs < (L - 1) ** ((L - 1) / L) / (K * L**2)


def brute_force_loss(K, n, lambda_Ws, lambda_H):
    """K · min_s φ(s) on a fine grid (no root finding)."""
    q = len(lambda_Ws) + 1
    c = (np.prod(lambda_Ws) * lambda_H) ** (1 / q)
    s = np.linspace(0, 1.2 * math.sqrt(n), 400001)
    phi = (s - math.sqrt(n)) ** 2 / (2 * K * n) + 0.5 * q * c * s ** (2 / q)
    return K * phi.min()


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
    assert ufm.optimal_loss(3, 10, lams, 3e-3) == pytest.approx(
        brute_force_loss(3, 10, lams, 3e-3), rel=1e-7
    )


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
    config = ufm.UFMConfig(K=K, n=n, d=d, L=3, lambda_W=lams, lambda_H=lam_h)
    assert ufm.objective(H1, Ws, config) == pytest.approx(opt.loss, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lambda_W=-1.0), "positive finite"),
        (dict(lambda_W=float("nan")), "positive finite"),
        (dict(lambda_H=0.0), "positive finite"),
        (dict(lambda_W=[1e-3, 1e-3]), "needs 3 values"),
        (dict(activation="tanh"), "activation must be one of"),
        (dict(loss="ce"), "not implemented"),
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
