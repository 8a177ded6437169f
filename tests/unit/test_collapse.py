"""dnc.ufm.collapse: the chapters' deep-neural-collapse verdicts, on hand-built points with known values.

The collapsed point: orthonormal frames Q_l (d×K), class means μ_c^(l) = r_l Q_l e_c,
H_1 = r_1 Q_1 ⊗ 1_nᵀ, W_l = (r_{l+1}/r_l) Q_{l+1}Q_lᵀ (l < L), W_L = a Q_Lᵀ. Then
A^(l) = W_L⋯W_l = a (r_L/r_l) Q_lᵀ = α^(l) H̄^(l)ᵀ with α^(l) = a r_L / r_l², and W_L W_Lᵀ = a² I_K.
Each perturbation below moves exactly one field of the report by an amount computed by hand.
"""

import numpy as np
import pytest

from dnc import ufm
from dnc.ufm import collapse

K, n, d, L = 3, 2, 6, 3
R = (2.0, 1.3, 0.8)  # mean norms r_1, r_2, r_3
A_LAST = 0.35


def frames(seed=0):
    rng = np.random.default_rng(seed)
    return [np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(L)]


def collapsed_point(seed=0):
    Q = [q[:, :K] for q in frames(seed)]
    H1 = R[0] * np.kron(Q[0], np.ones((1, n)))
    Ws = [(R[i + 1] / R[i]) * Q[i + 1] @ Q[i].T for i in range(L - 1)] + [A_LAST * Q[-1].T]
    return H1, Ws


def test_report_on_the_collapsed_point():
    H1, Ws = collapsed_point()
    rep = collapse.dnc_report(H1, Ws)
    assert set(rep) == {"nc1", "orthogonal", "norm_spread", "dnc3", "alpha", "last_gram"}
    assert all(rep[k].shape == (L,) for k in ("nc1", "orthogonal", "norm_spread", "dnc3", "alpha"))
    assert np.allclose(rep["alpha"], [A_LAST * R[-1] / r**2 for r in R], rtol=1e-13, atol=0)
    for key in ("nc1", "orthogonal", "norm_spread", "dnc3"):
        assert np.all(np.abs(rep[key]) < 1e-13), key
    assert float(rep["last_gram"]) < 1e-13
    means = collapse.layer_class_means(H1, Ws)
    assert len(means) == L + 1
    for r, M in zip(R, means, strict=False):
        assert np.allclose(np.linalg.norm(M, axis=0), r, rtol=1e-13)
    assert np.allclose(means[-1], A_LAST * R[-1] * np.eye(K), atol=1e-13)  # outputs a r_L e_c


def test_within_class_spread_raises_nc1_by_the_hand_value():
    """Class 0's two samples at μ_0 ± δ q with q = Q_1 e_0: Σ_W = (2δ²/N) q qᵀ, Σ_B^† =
    (K/r²) Q P Qᵀ with P = I − 11ᵀ/K, so ‖Σ_W Σ_B^†‖_F² = (2δ²K/(N r²))² (1 − 1/K)."""
    H1, Ws = collapsed_point()
    delta, N = 0.05, K * n
    q = frames()[0][:, 0]
    H1 = H1.copy()
    H1[:, 0] += delta * q
    H1[:, 1] -= delta * q
    rep = collapse.dnc_report(H1, Ws)
    expected = (2 * delta**2 * K / (N * R[0] ** 2)) ** 2 * (1 - 1 / K)
    assert rep["nc1"][0] == pytest.approx(expected, rel=1e-10)
    assert np.all(rep["nc1"] > 0.5 * expected)  # the spread is carried to every layer
    for key in ("orthogonal", "norm_spread", "dnc3"):
        assert np.all(np.abs(rep[key]) < 1e-13), key  # the means did not move


def test_unequal_norms_raise_norm_spread_on_every_layer():
    H1, Ws = collapsed_point()
    eps = 1e-3
    H1 = H1.copy()
    H1[:, 2 * n : 3 * n] *= 1 + eps  # class 2's mean grows by 1 + ε on every layer
    rep = collapse.dnc_report(H1, Ws)
    assert np.allclose(rep["norm_spread"], eps, rtol=1e-9)
    # an orthogonal frame with unequal norms: Gram diag(1, 1, (1+ε)²) r², hand NC2 distance
    g = np.diag([1.0, 1.0, (1 + eps) ** 2])
    want = np.linalg.norm(g / np.linalg.norm(g) - np.eye(K) / np.sqrt(K))
    assert np.allclose(rep["orthogonal"], want, rtol=1e-9)
    assert np.all(rep["nc1"] < 1e-20)


def test_tilted_means_raise_the_orthogonal_frame_distance():
    """μ_0 tilted towards μ_1 by θ (equal norms): Gram r²[[1, s, 0], [s, 1, 0], [0, 0, 1]] with
    s = sin θ at layer 1."""
    Qfull = frames()
    Q1 = Qfull[0][:, :K].copy()
    theta = 0.01
    Q1[:, 0] = np.cos(theta) * Q1[:, 0] + np.sin(theta) * Q1[:, 1]
    H1 = R[0] * np.kron(Q1, np.ones((1, n)))
    _, Ws = collapsed_point()
    rep = collapse.dnc_report(H1, Ws)
    g = np.eye(K)
    g[0, 1] = g[1, 0] = np.sin(theta)
    want = np.linalg.norm(g / np.linalg.norm(g) - np.eye(K) / np.sqrt(K))
    assert rep["orthogonal"][0] == pytest.approx(want, rel=1e-9)
    assert want > 1e-3
    assert np.all(np.abs(rep["norm_spread"]) < 1e-13)


def test_weight_off_the_means_raises_dnc3_on_the_last_layer_only():
    """W_L + ε e_0 uᵀ with u ⊥ span Q_L: α^(L) unchanged, residual ε/√(a²K + ε²); every earlier
    product A^(l) (l < L) is unchanged because u ⊥ Q_L; W_L W_Lᵀ = a²I + ε² e_0e_0ᵀ."""
    H1, Ws = collapsed_point()
    eps = 0.02
    u = frames()[-1][:, K]  # orthogonal to the first K columns (Q_L)
    Ws = [W.copy() for W in Ws]
    Ws[-1] = Ws[-1] + eps * np.outer(np.eye(K)[0], u)
    rep = collapse.dnc_report(H1, Ws)
    assert rep["dnc3"][-1] == pytest.approx(eps / np.sqrt(A_LAST**2 * K + eps**2), rel=1e-10)
    assert np.all(rep["dnc3"][:-1] < 1e-13)
    assert np.allclose(rep["alpha"], [A_LAST * R[-1] / r**2 for r in R], rtol=1e-12)
    gram = A_LAST**2 * np.eye(K)
    gram[0, 0] += eps**2
    want = np.linalg.norm(gram / np.linalg.norm(gram) - np.eye(K) / np.sqrt(K))
    assert float(rep["last_gram"]) == pytest.approx(want, rel=1e-10)


def test_proportionality_residual_by_hand():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert collapse.proportionality_residual(X, 2.5 * X) < 1e-15
    assert collapse.proportionality_residual(X, -X) == pytest.approx(2.0)
    assert collapse.proportionality_residual(np.eye(2)[:, :1], np.eye(2)[:, 1:]) == pytest.approx(
        np.sqrt(2)
    )


def test_products_and_scaling_constant_by_hand():
    W1, W2 = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 1.0, 0.0], [0, 0, 2]])
    A = ufm.products([W1, W2])
    assert len(A) == 3
    assert np.array_equal(A[0], W2 @ W1) and np.array_equal(A[1], W2)
    assert np.array_equal(A[2], np.eye(2))
    M = np.array([[1.0, 0.0], [0.0, 2.0]])
    alpha, resid = collapse.scaling_constant(3.0 * M.T, M)
    assert alpha == pytest.approx(3.0) and resid < 1e-15
    # A = [[1, 0], [0, 0]] against M = I: α = 1/2, residual ‖diag(1/2, −1/2)‖/1 = 1/√2
    alpha, resid = collapse.scaling_constant(np.diag([1.0, 0.0]), np.eye(2))
    assert alpha == pytest.approx(0.5) and resid == pytest.approx(1 / np.sqrt(2))


def test_relu_report_on_a_nonnegative_collapsed_point():
    """With nonnegative frames (coordinate axes) ReLU changes nothing: the report is the linear one."""
    H1 = 2.0 * np.kron(np.eye(4)[:, :K], np.ones((1, n)))
    W1 = 0.5 * np.eye(4)
    W2 = 0.7 * np.eye(4)[:, :K].T
    lin = collapse.dnc_report(H1, [W1, W2], "linear")
    relu = collapse.dnc_report(H1, [W1, W2], "relu")
    for key in lin:
        assert np.allclose(lin[key], relu[key], rtol=0, atol=1e-15)
    assert np.allclose(relu["alpha"], [0.7 * 1.0 / 2.0**2, 0.7 / 1.0])  # a r_L / r_l²


def test_bad_shapes():
    H1, Ws = collapsed_point()
    with pytest.raises(ValueError, match="equal classes"):
        collapse.dnc_report(H1[:, :-1], Ws)
    with pytest.raises(ValueError, match="class means give"):
        collapse.scaling_constant(np.ones((3, 4)), np.ones((3, 4)))


def test_trained_deep_linear_ufm_reaches_the_closed_form_collapse():
    """Train (a different λ on every layer), then measure: every DNC field vanishes and α^(l)
    equals its closed-form value at the global optimum, sv(A^(l)) / ‖μ^(l)‖ with
    sv(A^(l)) = Π_{j≥l} σ_{W_j} and ‖μ^(l)‖ = (σ_{H_1}/√n) Π_{j<l} σ_{W_j} (σ: the optimum's
    factor singular values, dnc.ufm.model.linear_optimum)."""
    from dnc import ufm

    lams, lam_h, n = [4e-3, 6e-3, 8e-3], 5e-3, 4
    config = ufm.UFMConfig(K=3, n=n, d=6, L=3, lambda_W=lams, lambda_H=lam_h)
    result = ufm.train(config, 8000, 0.5, progress=False)
    opt = ufm.linear_optimum(3, n, lams, lam_h)
    assert result.final_loss[0] == pytest.approx(opt.loss, rel=1e-9)
    rep = collapse.dnc_report(*result.params())
    for key in ("nc1", "orthogonal", "norm_spread", "dnc3"):
        assert np.all(rep[key] < 1e-9), key
    assert rep["last_gram"] < 1e-9
    sigma_h, sigma = opt.factor_sv[0], opt.factor_sv[1:]
    for l in range(1, 4):
        norm = sigma_h / np.sqrt(n) * np.prod(sigma[: l - 1])
        assert rep["alpha"][l - 1] == pytest.approx(np.prod(sigma[l - 1 :]) / norm, rel=1e-6)
