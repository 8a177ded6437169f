import numpy as np
import pytest
import torch

from dnc import ufm
from dnc.spectra import cross_entropy, gradients, hessian


def trained(activation, L=3, d=5, K=3, n=3, epochs=150):
    config = ufm.UFMConfig(K=K, n=n, d=d, L=L, activation=activation, loss="ce")
    return config, ufm.train(config, epochs, 0.3).params()


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match=r"\('mse', 'ce'\).*'hinge'"):
        ufm.UFMConfig(K=3, n=2, d=4, L=2, loss="hinge")
    H1, Ws = trained("linear")[1]
    with pytest.raises(ValueError, match="'xent'"):
        hessian.layer_hessian_spectrum(H1, Ws, 1, loss="xent")


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_ce_step_matches_autograd_and_sgd(activation):
    config = ufm.UFMConfig(K=3, n=4, d=6, L=3, activation=activation, loss="ce")
    H, Ws = ufm.initial_params(config, (0,))
    Hp = H[0].clone().requires_grad_(True)
    Wp = [W[0].clone().requires_grad_(True) for W in Ws]
    x = Hp
    for m, W in enumerate(Wp):
        x = W @ x
        if activation == "relu" and m < len(Wp) - 1:
            x = x.relu()
    labels = torch.as_tensor(ufm.labels(config.K, config.n))
    data = torch.nn.functional.cross_entropy(x.T, labels)
    reg = 0.5 * config.lambda_H * Hp.square().sum() + sum(
        0.5 * lam * W.square().sum() for lam, W in zip(config.lambda_W_list, Wp, strict=True)
    )
    (data + reg).backward()
    loss = ufm.Stepper(config, 0.1, H).step(H, Ws)
    assert abs(float(loss[0]) - data.item()) < 1e-13
    numpy_loss = ufm.data_loss(
        Hp.detach().numpy(), [W.detach().numpy() for W in Wp], activation, "ce"
    )
    assert abs(numpy_loss - data.item()) < 1e-13
    assert torch.allclose(H[0], Hp.detach() - 0.1 * Hp.grad, atol=1e-14)
    for W, Wq in zip(Ws, Wp, strict=True):
        assert torch.allclose(W[0], Wq.detach() - 0.1 * Wq.grad, atol=1e-14)


def test_ce_batch_over_lambdas_matches_single_runs():
    config = ufm.UFMConfig(K=3, n=2, d=4, L=2, loss="ce")
    pairs = [((1e-3, 2e-3), 1e-3), ((4e-3, 4e-3), 2e-3)]
    batch = ufm.train(config, 40, 0.2, lambdas=pairs)
    for b, (lam_W, lam_H) in enumerate(pairs):
        single = ufm.train(
            ufm.UFMConfig(K=3, n=2, d=4, L=2, loss="ce", lambda_W=lam_W, lambda_H=lam_H), 40, 0.2
        )
        assert np.allclose(batch.loss[:, b], single.loss[:, 0], rtol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("l", [1, 2, 3])
def test_ce_layer_hessian_against_autograd(activation, l):
    _, (H1, Ws) = trained(activation)
    reference = hessian.autograd_layer_hessian(H1, Ws, l, activation, loss="ce")
    dense = hessian.layer_hessian(H1, Ws, l, activation, loss="ce")
    assert np.max(np.abs(dense - reference)) < 1e-12
    exact = np.sort(np.linalg.eigvalsh(reference))[::-1]
    spectrum = hessian.layer_hessian_spectrum(H1, Ws, l, activation, loss="ce")
    assert np.max(np.abs(spectrum - exact)) < 1e-10 * max(1.0, exact[0])
    v = np.random.default_rng(l).standard_normal(reference.shape[0])
    assert np.allclose(
        hessian.hessian_matvec(H1, Ws, l, v, activation, "ce"), reference @ v, atol=1e-13
    )
    parts = hessian.papyan_components(H1, Ws, l, activation, loss="ce")
    assert np.allclose(sum(U.T @ U for U in parts.values()), reference, atol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_ce_data_gradient_against_autograd(activation):
    """gradients.data_gradient_matrix(loss="ce") = ∂/∂W_l of the mean cross-entropy."""
    _, (H1, Ws) = trained(activation)
    for l in (1, 2, 3):
        Wt = [torch.tensor(W, requires_grad=(m == l - 1)) for m, W in enumerate(Ws)]
        x = torch.tensor(H1)
        for m, W in enumerate(Wt):
            x = W @ x
            if activation == "relu" and m < len(Wt) - 1:
                x = x.relu()
        labels = torch.as_tensor(ufm.labels(3, 3))
        torch.nn.functional.cross_entropy(x.T, labels).backward()
        ours = gradients.data_gradient_matrix(H1, Ws, l, activation, loss="ce")
        assert np.allclose(ours, Wt[l - 1].grad.numpy(), atol=1e-14)


def test_ce_output_hessian_annihilates_constant_shifts():
    """S_i 1 = 0: the rows of B_i Ã_i sum (weighted) to zero, so rank Hess_l ≤ (K−1) d_{l−1}."""
    _, (H1, Ws) = trained("linear", d=6)
    spectrum = hessian.layer_hessian_spectrum(H1, Ws, 2, loss="ce")
    assert np.sum(spectrum > 1e-12 * spectrum[0]) <= (3 - 1) * 6


def test_ce_threshold_and_warning():
    K, n, L = 3, 10, 4
    t, value = ufm.ce_collapsed_optimum(K, n, [5e-3] * L, 5e-3)
    assert t > 0 and value < np.log(K)
    assert ufm.ce_below_threshold(K, n, [5e-3] * L, 5e-3)
    assert not ufm.ce_below_threshold(K, n, [0.5] * L, 0.5)
    assert ufm.ce_collapsed_optimum(K, n, [0.5] * L, 0.5) == (
        0.0,
        pytest.approx(np.log(K), rel=1e-15),
    )
    config = ufm.UFMConfig(K=K, n=n, d=4, L=L, loss="ce", lambda_W=0.5, lambda_H=0.5)
    with pytest.warns(UserWarning, match="cross-entropy threshold"):
        ufm.train(config, 1, 0.1)


def test_ce_trained_objective_reaches_the_collapsed_etf_value():
    """K = 3: gradient descent finds the collapsed simplex-ETF objective ψ(t*) (not built in)."""
    config = ufm.UFMConfig(K=3, n=4, d=8, L=3, loss="ce")
    result = ufm.train(config, 3000, 0.5)
    _, value = ufm.ce_collapsed_optimum(3, 4, config.lambda_W_list, config.lambda_H)
    assert abs(result.final_loss[0] - value) < 1e-6 * value


@pytest.mark.parametrize("K", [3, 4, 5])
@pytest.mark.parametrize("margin", [0.3, 0.97])
def test_collapsed_groups_are_the_spectrum_of_the_collapsed_kernel(K, margin):
    rng = np.random.default_rng(K)
    rotation = np.linalg.qr(rng.standard_normal((K, K)))[0]
    for means, centred, rank in (
        (rotation @ (np.eye(K) - 1.0 / K), True, (K - 1) ** 2),
        (rotation, False, K * (K - 1)),
    ):
        vals = np.linalg.eigvalsh(cross_entropy.collapsed_hessian_kernel(means, margin))[::-1]
        values, counts = cross_entropy.collapsed_hessian_groups(K, margin, centred)
        assert counts.sum() == rank
        np.testing.assert_allclose(vals[:rank] / vals[0], np.repeat(values, counts), atol=1e-12)
        assert np.all(np.abs(vals[rank:]) < 1e-12 * vals[0])


def test_collapsed_groups_reject_bad_input():
    with pytest.raises(ValueError, match="K must be at least 3"):
        cross_entropy.collapsed_hessian_groups(2, 0.5)
    with pytest.raises(ValueError, match="margin must lie"):
        cross_entropy.collapsed_hessian_groups(4, 1.5)
    with pytest.raises(TypeError):
        cross_entropy.collapsed_hessian_groups(4, "big")


def test_softmax_margin_of_known_logits():
    K, n, t = 3, 2, 2.0
    H1 = np.kron(np.eye(K), np.ones((1, n)))  # one-hot features, class by class
    W = t * (np.eye(K) - 1.0 / K)
    p = np.exp(t * (1 - 1 / K)) / (np.exp(t * (1 - 1 / K)) + (K - 1) * np.exp(-t / K))
    assert cross_entropy.softmax_margin(H1, [W]) == pytest.approx(p - (1 - p) / (K - 1))
