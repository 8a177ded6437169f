import numpy as np
import pytest
import torch

from dnc import ufm
from dnc.spectra import gradients, hessian
from dnc.ufm.point import Point


def trained(activation="linear", L=3, d=5, K=3, n=3, epochs=150):
    config = ufm.UFMConfig(K=K, n=n, d=d, L=L, activation=activation, lambda_W=[3e-3, 5e-3, 7e-3])
    return config, ufm.train(config, epochs, 0.3).params()


R = [2.0, 1.3, 0.8]  # class-mean norms r_l of the collapsed point's layers
A_LAST = 0.35  # W_L = a Q_Lᵀ


def collapsed_point(K=3, n=2, d=5, L=3, seed=0):
    """Exactly collapsed parameters: orthogonal frames Q_l, radii r_l, A^(l) ∝ H̄^(l)ᵀ by construction.
    Returns (H1, Ws, Q)."""
    rng = np.random.default_rng(seed)
    Q = [np.linalg.qr(rng.standard_normal((d, d)))[0][:, :K] for _ in range(L)]
    r = R[:L]
    H1 = r[0] * np.kron(Q[0], np.ones((1, n)))
    Ws = [(r[i + 1] / r[i]) * Q[i + 1] @ Q[i].T for i in range(L - 1)]
    Ws.append(A_LAST * Q[-1].T)
    return H1, Ws, Q


def autograd_gradient(H1, Ws, l, lam, activation, K, n):
    Ht, Wt = torch.tensor(H1), [torch.tensor(W) for W in Ws]
    Y = torch.tensor(ufm.targets(K, n))
    w = Wt[l - 1].reshape(-1).clone().requires_grad_(True)
    x = Ht
    for m, W in enumerate(Wt):
        x = (w.reshape(W.shape) if m == l - 1 else W) @ x
        if activation == "relu" and m < len(Wt) - 1:
            x = x.clamp_min(0.0)
    loss = ((x - Y) ** 2).sum() / (2 * K * n) + 0.5 * lam * (w**2).sum()
    loss.backward()
    return w.grad.numpy()


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("l", [1, 2, 3])
def test_layer_gradient_against_autograd(activation, l):
    config, (H1, Ws) = trained(activation)
    lam = config.lambda_W_list[l - 1]
    reference = autograd_gradient(H1, Ws, l, lam, activation, config.K, config.n)
    assert np.max(np.abs(gradients.layer_gradient(H1, Ws, l, lam, activation) - reference)) < 1e-12
    data_only = autograd_gradient(H1, Ws, l, 0.0, activation, config.K, config.n)
    assert np.max(np.abs(gradients.data_gradient(H1, Ws, l, activation) - data_only)) < 1e-12


def test_theorem_4_3_on_an_exactly_collapsed_point():
    """Hand values, with p = a r_L: outputs z_c = p e_c, residuals u_c = (p − 1) e_c. For l < L,
    A^(l+1) = (p/r_{l+1}) Q_{l+1}ᵀ, so α^(l+1) = p/r_{l+1}², β^(l+1) = α² r_{l+1}² − α and
    G̃^(l) = (1/K) Σ_c A^(l+1)ᵀ u_c μ_c^(l)ᵀ = (p − 1)(p/r_{l+1}) r_l Q_{l+1}Q_lᵀ / K;
    for l = L, A^(L+1) = I, α = 1/p and G̃^(L) = (p − 1) r_L Q_Lᵀ / K."""
    H1, Ws, Q = collapsed_point()
    K, L = 3, 3
    p = A_LAST * R[-1]  # output scale a r_L
    for l in (1, 2, 3):
        if l < L:
            alpha = p / R[l] ** 2
            beta = alpha**2 * R[l] ** 2 - alpha
            G = (p - 1) * (p / R[l]) * R[l - 1] * Q[l] @ Q[l - 1].T / K
        else:
            alpha = 1 / p  # A^(L+1) = I = α · (output means)ᵀ = α p I
            beta = alpha**2 * p**2 - alpha
            G = (p - 1) * R[-1] * Q[-1].T / K
        assert gradients.theorem_beta(H1, Ws, l) == pytest.approx(beta, rel=1e-12)
        g = gradients.data_gradient(H1, Ws, l)
        assert np.max(np.abs(g - G.ravel())) < 1e-13
        assert np.max(np.abs(gradients.predicted_data_gradient(H1, Ws, l) - G.ravel())) < 1e-13
        f = gradients.natural_basis_coefficients(H1, Ws, l)
        assert np.allclose(np.diag(f), 1 / K, atol=1e-13)
        assert np.max(f - np.diag(np.diag(f))) < 1e-25
        # all K^2 Hessian eigenvalues are equal, so g~ lies in the top eigenspace: f_top = 1
        assert abs(gradients.top_fraction(H1, Ws, l) - 1) < 1e-12


def test_beta_from_alpha():
    assert gradients.beta_from_alpha(2.0, 3.0) == pytest.approx(2.0**2 * 3.0 - 2.0)


@pytest.mark.parametrize("l", [1, 2, 3])
def test_top_eigenvectors_and_f_top_against_dense_hessian(l):
    config, (H1, Ws) = trained()
    K = config.K
    left, right, vals = gradients.top_eigenvectors(H1, Ws, l)
    vecs = np.einsum("ma,mb->mab", left, right).reshape(K * K, -1)
    dense = hessian.layer_hessian(H1, Ws, l)
    exact_vals, exact_vecs = np.linalg.eigh(dense)
    assert np.allclose(vals, exact_vals[::-1][: K * K], rtol=1e-10, atol=1e-14)
    assert np.allclose(dense @ vecs.T, vecs.T * vals, atol=1e-10 * vals[0])
    P = exact_vecs[:, -K * K :] @ exact_vecs[:, -K * K :].T
    lam = config.lambda_W_list[l - 1]
    for part in (0.0, lam):
        g = gradients.layer_gradient(H1, Ws, l, part)
        expected = np.sum((P @ g) ** 2) / np.sum(g**2)
        assert abs(gradients.top_fraction(H1, Ws, l, part) - expected) < 1e-10


def test_bad_input_is_rejected_with_clear_errors():
    _, (H1, Ws) = trained()
    with pytest.raises(ValueError, match="layer index"):
        gradients.data_gradient(H1, Ws, 4)
    with pytest.raises(ValueError, match="lambda_W"):
        gradients.layer_gradient(H1, Ws, 1, -1.0)
    with pytest.raises(ValueError, match="k must be"):
        gradients.top_eigenvectors(H1, Ws, 1, k=0)
    with pytest.raises(ValueError, match="shapes do not chain"):
        gradients.data_gradient(H1, [Ws[0], Ws[2], Ws[1]], 1)
    with pytest.raises(ValueError, match="equal classes"):
        gradients.data_gradient(H1[:, :-1], Ws, 1)


def test_top_coefficients_compute_the_jacobian_factors_once(monkeypatch):
    _, (H1, Ws) = trained()
    lam = 4e-3
    expected = np.einsum(
        "ma,ab,mb->m",
        *gradients.top_eigenvectors(H1, Ws, 2)[:1],
        gradients.data_gradient_matrix(H1, Ws, 2) + lam * Ws[1],
        gradients.top_eigenvectors(H1, Ws, 2)[1],
    )
    expected = expected**2 / np.sum((gradients.data_gradient_matrix(H1, Ws, 2) + lam * Ws[1]) ** 2)
    calls = []
    real = Point._jacobian_factors
    monkeypatch.setattr(Point, "_jacobian_factors", lambda *a: calls.append(1) or real(*a))
    got = gradients.top_eigenvector_coefficients(H1, Ws, 2, lam)
    assert len(calls) == 1
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
