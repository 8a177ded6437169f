import numpy as np
import pytest
import torch

from dnc import ufm
from dnc.spectra import matrices


def trained(L=3, d=4, K=3, n=2, epochs=150):
    config = ufm.UFMConfig(K=K, n=n, d=d, L=L, lambda_W=[3e-3, 5e-3, 7e-3])
    return config, ufm.train(config, epochs, 0.3).params()


def collapsed_point(K=3, n=2, d=5, lambdas=(2e-3, 4e-3, 6e-3), lambda_H=3e-3, seed=0):
    """Exactly collapsed, balanced parameters built from orthogonal frames Q_l:
    H_1 = r Q_1 ⊗ 1ᵀ, W_l = s_l Q_{l+1}Q_lᵀ (W_L = s_L Q_Lᵀ) with λ_{W_l} s_l² = λ_{H_1} n r²."""
    rng = np.random.default_rng(seed)
    L, r = len(lambdas), 1.7
    Q = [np.linalg.qr(rng.standard_normal((d, d)))[0][:, :K] for _ in range(L)]
    s = [np.sqrt(lambda_H * n * r**2 / lam) for lam in lambdas]
    H1 = r * np.kron(Q[0], np.ones((1, n)))
    Ws = [s[i] * Q[i + 1] @ Q[i].T for i in range(L - 1)] + [s[-1] * Q[-1].T]
    return H1, Ws


def per_sample_autograd(H1, Ws, l, K, n):
    """Per-sample gradients of ½‖f(h_i) − y_i‖² with respect to w^(l), by torch autograd."""
    Ht, Wt = torch.tensor(H1), [torch.tensor(W) for W in Ws]
    Y = torch.tensor(ufm.targets(K, n))
    rows = []
    for i in range(H1.shape[1]):
        w = Wt[l - 1].reshape(-1).clone().requires_grad_(True)
        x = Ht[:, i]
        for m, W in enumerate(Wt):
            x = (w.reshape(W.shape) if m == l - 1 else W) @ x
        (0.5 * ((x - Y[:, i]) ** 2).sum()).backward()
        rows.append(w.grad.numpy())
    return np.array(rows)


def backprop_autograd(H1, Ws, l, K):
    """Δ^(l) = (1/N) Σ_{i,c'} δ δᵀ with δ = ∂ ½‖f(h) − e_c'‖² / ∂h^(l) by autograd, summed densely."""
    x_l = ufm.layer_inputs(H1, Ws)[l - 1]
    N = x_l.shape[1]
    total = np.zeros((x_l.shape[0], x_l.shape[0]))
    for i in range(N):
        for c in range(K):
            h = torch.tensor(x_l[:, i], requires_grad=True)
            x = h
            for W in Ws[l - 1 :]:
                x = torch.tensor(W) @ x
            (0.5 * ((x - torch.eye(K, dtype=x.dtype)[c]) ** 2).sum()).backward()
            delta = h.grad.numpy()
            total += np.outer(delta, delta)
    return total / N


@pytest.mark.parametrize("l", [1, 2, 3])
def test_gradient_covariance_against_dense(l):
    config, (H1, Ws) = trained()
    G = per_sample_autograd(H1, Ws, l, config.K, config.n)
    assert np.max(np.abs(matrices.per_sample_gradients(H1, Ws, l) - G)) < 1e-12
    G = G - G.mean(axis=0)
    dense = G.T @ G / G.shape[0]
    assert np.max(np.abs(matrices.gradient_covariance(H1, Ws, l) - dense)) < 1e-12
    exact = np.sort(np.linalg.eigvalsh(dense))[::-1]
    spectrum = matrices.gradient_covariance_spectrum(H1, Ws, l)
    assert spectrum.shape == exact.shape
    assert np.max(np.abs(spectrum - exact)) < 1e-12 * max(1.0, exact[0])


@pytest.mark.parametrize("l", [1, 2, 3])
def test_backprop_second_moment_against_dense(l):
    config, (H1, Ws) = trained()
    dense = backprop_autograd(H1, Ws, l, config.K)
    assert np.max(np.abs(matrices.backprop_second_moment(H1, Ws, l) - dense)) < 1e-12
    exact = np.sort(np.linalg.eigvalsh(dense))[::-1]
    assert np.allclose(matrices.backprop_second_moment_spectrum(H1, Ws, l), exact, atol=1e-12)


def test_gram_spectra_against_dense():
    _, (H1, Ws) = trained()
    X = ufm.layer_inputs(H1, Ws)[1]
    exact = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    assert np.allclose(
        matrices.feature_gram_spectrum(H1, Ws, 2), np.clip(exact, 0, None), atol=1e-12
    )
    assert np.allclose(
        matrices.weight_gram_spectrum(Ws[2]), np.sort(np.linalg.eigvalsh(Ws[2].T @ Ws[2]))[::-1]
    )


def test_theorems_on_an_exactly_collapsed_point():
    """Hand values at the balanced collapsed point: mean norms m_l = r s_1⋯s_{l−1}, output scale
    p = r s_1⋯s_L, A^(l) = (s_l⋯s_L) Q_lᵀ so α^(l) = s_l⋯s_L / m_l (α^(L+1) = 1/p, m_{L+1} = p)."""
    K, n, r = 3, 2, 1.7
    lambdas, lambda_H = (2e-3, 4e-3, 6e-3), 3e-3
    H1, Ws = collapsed_point(K, n, lambdas=lambdas, lambda_H=lambda_H)
    s = [np.sqrt(lambda_H * n * r**2 / lam) for lam in lambdas]
    m = [r * np.prod(s[:i]) for i in range(4)]  # m_1..m_4 (m_4 = p)
    alpha = [np.prod(s[i:]) / m[i] for i in range(4)]  # α^(1)..α^(4); α^(4) = 1/p
    for l in (1, 2, 3):
        a_up, m_up, a_l, m_l = alpha[l], m[l], alpha[l - 1], m[l - 1]
        beta = a_up**2 * m_up**2 - a_up
        C_value = beta**2 * m_up**2 * m_l**2 / K  # Theorem E.1
        gamma = a_l**2 * m_l**2
        big, small = m_l**2 * (gamma**2 + a_l**2), m_l**2 * (gamma - a_l) ** 2  # Theorem E.2
        C = matrices.gradient_covariance_spectrum(H1, Ws, l)
        assert np.allclose(C[: K - 1], C_value, rtol=1e-10, atol=0)
        assert matrices.predicted_gradient_covariance_eigenvalue(H1, Ws, l) == pytest.approx(
            C_value, rel=1e-12
        )
        assert np.all(np.abs(C[K - 1 :]) < 1e-12 * C[0])
        D = matrices.backprop_second_moment_spectrum(H1, Ws, l)
        assert matrices.predicted_backprop_eigenvalues(H1, Ws, l) == pytest.approx(
            (big, small), rel=1e-12
        )
        assert small < big
        assert np.allclose(D[: K - 1], big, rtol=1e-10) and D[K - 1] == pytest.approx(
            small, rel=1e-9
        )
        assert np.all(np.abs(D[K:]) < 1e-12 * D[0])
        F = matrices.feature_gram_spectrum(H1, Ws, l)
        assert np.allclose(F[:K], n * m_l**2, rtol=1e-12)  # Theorem E.3
        assert matrices.predicted_feature_gram_eigenvalue(H1, Ws, l) == pytest.approx(n * m_l**2)
        assert np.all(np.abs(F[K:]) < 1e-12 * F[0])
    assert np.all(matrices.balance_residuals(H1, Ws, lambdas, lambda_H) < 1e-13)
    predicted = matrices.predicted_weight_gram_eigenvalues(H1, Ws, lambdas, lambda_H)
    assert np.allclose(predicted, np.square(s), rtol=1e-12)  # Theorem 4.4: λ_H n r²/λ_l = s_l²
    for W, value in zip(Ws, np.square(s), strict=True):
        spectrum = matrices.weight_gram_spectrum(W)
        assert np.allclose(spectrum[:K], value, rtol=1e-12)
        assert np.all(np.abs(spectrum[K:]) < 1e-12 * value)
    # an unbalanced point (one λ off by 1e-3) is seen by the balance residuals
    off = (lambdas[0] * 1.001, *lambdas[1:])
    assert matrices.balance_residuals(H1, Ws, off, lambda_H)[0] > 5e-4
    overlaps = matrices.row_overlaps(Ws)
    assert overlaps.shape == (2, K, K)
    for l, table in enumerate(overlaps, start=1):  # A^(l+1) = s_{l+1}⋯s_L Q_{l+1}ᵀ: AAᵀ ∝ I
        assert np.allclose(table, np.prod(s[l:]) ** 2 * np.eye(K), rtol=1e-12, atol=1e-13)


def test_bad_input_is_rejected_with_clear_errors():
    H1, Ws = collapsed_point()
    with pytest.raises(ValueError, match="lambda_Ws needs 3"):
        matrices.balance_residuals(H1, Ws, [1e-3, 1e-3], 1e-3)
    with pytest.raises(ValueError, match="lambda_H must be a positive"):
        matrices.predicted_weight_gram_eigenvalues(H1, Ws, 1e-3, -1.0)
    with pytest.raises(ValueError, match="layer index"):
        matrices.backprop_second_moment(H1, Ws, 0)
    with pytest.raises(ValueError, match="L >= 2"):
        matrices.row_overlaps(Ws[-1:])
    with pytest.raises(ValueError, match="2D matrix"):
        matrices.weight_gram_spectrum(np.ones(3))


def test_appendix_e_outliers_counts_from_the_spectra_at_a_collapsed_point():
    K = 3
    H1, Ws = collapsed_point(K)
    out = matrices.appendix_e_outliers(H1, Ws, 2)
    assert [len(out[k]["measured"]) for k in ("C", "Delta large", "Delta small", "HtH")] == [
        K - 1,
        K - 1,
        1,
        K,
    ]
    for name, entry in out.items():
        assert np.allclose(entry["measured"], entry["predicted"], rtol=1e-8), name
