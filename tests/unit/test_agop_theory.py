"""Unit tests of the chapter helpers added to dnc.agop.theory (Lemma A.2, §5.4, Prop. 5.1, 5.5)."""

import numpy as np
import pytest

from dnc import data
from dnc.agop import theory as th


def test_agop_gram_step_fixed_point():
    lab = np.repeat(np.arange(2), 4)
    Y = data.one_hot(lab)
    G = 3.0 * Y @ Y.T + 0.5 * np.eye(8)
    Gt = th.agop_gram_step(G, lab, 0.2)
    assert np.allclose(Gt, Y @ Y.T * 8 / np.trace(Y @ Y.T), atol=1e-12)
    assert th.collapse_distance(Gt, lab) < 1e-12 < th.collapse_distance(G, lab)


def test_linearisation_recovers_identity_part():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    G = X @ X.T
    lin = th.linearisation(0.3 + 2.0 * G + 0.7 * np.eye(30), G)
    assert lin["a"] == pytest.approx(0.3) and lin["b"] == pytest.approx(2.0)
    assert lin["lam"] == pytest.approx(0.7) and lin["relative"] == pytest.approx(0.35)
    with pytest.raises(ValueError, match="same shape"):
        th.linearisation(np.eye(3), G)


def test_linear_interpolator_agop_gives_kstar():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 20)), np.repeat([0, 1], 3)
    K = X @ th.linear_interpolator_agop(X, y) @ X.T
    assert np.allclose(K, th.collapsed_kernel(3), atol=1e-10)


def test_distance_ratio_projection():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    assert th.distance_ratio(X, y) == pytest.approx(9.0)
    P = np.diag([1.0, 0.1])  # shrinks the within-class direction
    assert th.distance_ratio(X, y, P) == pytest.approx(90.0)


def test_random_feature_products_mean_and_spread():
    x, z = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    s = th.random_feature_products(x, z, 400, 300, seed=0)
    kappa = 1 / (2 * np.pi)  # arc-cosine kernel at θ = π/2
    assert s.mean() == pytest.approx(kappa, abs=4 * s.std() / np.sqrt(300))
    s4 = th.random_feature_products(x, z, 1600, 300, seed=1)
    assert s.std() / s4.std() == pytest.approx(2.0, rel=0.2)


def test_top_alignment_and_near_collapsed_kernel():
    n = 5
    y = np.repeat([1.0, -1.0], n)
    lam, align, one_sign = th.top_alignment(th.near_collapsed_kernel(n, 0.01, bandwidth=0.5), y)
    assert one_sign and align <= 0.5 and lam > n
    k = th.near_collapsed_kernel(n, 1e-4, bandwidth=0.05)
    assert np.allclose(k, th.collapsed_kernel(n), atol=1e-2)


def test_exponential_floor_fit():
    v = 3.0 * np.exp(-0.8 * np.arange(12)) + 1e-3
    rate, eps, r2 = th.exponential_floor_fit(v, grid=2000)
    assert rate == pytest.approx(0.8, rel=0.02) and eps == pytest.approx(1e-3, rel=0.05)
    assert r2 > th.exponential_rate(v)[1]
