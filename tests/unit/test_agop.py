"""AGOP against an explicit per-sample autograd Jacobian loop; NFA correlation; bad input."""

import numpy as np
import pytest
import torch

from dnc.agop import core as A
from dnc.agop.mlp import MLP


def small_net(seed=0, D=5, K=3):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(D, 7), torch.nn.Tanh(), torch.nn.Linear(7, K)
    ).double()


def explicit_agop(f, X):
    total = torch.zeros(X.shape[1], X.shape[1], dtype=torch.float64)
    for x in X:
        J = torch.autograd.functional.jacobian(lambda v: f(v[None])[0], x)
        total += J.T @ J
    return (total / X.shape[0]).numpy()


def test_agop_matches_explicit_jacobian_loop():
    f = small_net()
    X = torch.randn(23, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(A.agop(f, X, chunk_size=4), explicit_agop(f, X), rtol=1e-10)


def test_agop_of_linear_map_is_gram_and_chunking_is_exact():
    rng = np.random.default_rng(0)
    W = torch.as_tensor(rng.standard_normal((3, 6)))
    X = rng.standard_normal((11, 6))
    G1 = A.agop(lambda x: x @ W.T, X, chunk_size=1)
    G2 = A.agop(lambda x: x @ W.T, X, chunk_size=100)
    np.testing.assert_allclose(G1, (W.T @ W).numpy(), atol=1e-12)
    np.testing.assert_allclose(G1, G2, atol=1e-12)


def test_layer_agops_first_layer_is_network_agop_and_deeper_match_loop():
    torch.manual_seed(0)
    model = MLP(4, 6, 3, depth=2, init_gain=1.0).double()
    X = torch.randn(9, 4, dtype=torch.float64)
    Gs = A.layer_agops(model, X)
    assert [g.shape for g in Gs] == [(4, 4), (6, 6), (6, 6)]
    np.testing.assert_allclose(Gs[0], explicit_agop(model, X), rtol=1e-10)
    h1 = model.layer_inputs(X)[1].detach()
    np.testing.assert_allclose(Gs[1], explicit_agop(lambda h: model.forward_from(1, h), h1))
    # the readout is linear: its AGOP is W_3ᵀW_3 exactly
    W3 = model.layers[2].weight.detach().numpy()
    np.testing.assert_allclose(Gs[2], W3.T @ W3, atol=1e-12)


def test_nfa_correlation_is_one_when_ansatz_holds_exactly():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((5, 5))
    G = B @ B.T
    W = A.psd_power(G, 0.25)  # WᵀW = G^{1/2}
    assert A.nfa_correlation(W, G, power=0.5) == pytest.approx(1.0, abs=1e-10)
    assert A.nfa_correlation(rng.standard_normal((4, 5)), G) < 0.99


def test_psd_power_roundtrip():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((6, 4))
    G = B @ B.T  # rank 4, PSD
    R = A.psd_power(G, 0.5)
    np.testing.assert_allclose(R @ R, G, atol=1e-10)


def test_bad_input_is_named():
    f = small_net()
    with pytest.raises(ValueError, match="2D"):
        A.agop(f, torch.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        A.agop(f, np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="chunk_size"):
        A.agop(f, np.zeros((2, 5)), chunk_size=0)
    with pytest.raises(ValueError, match="N×K"):
        A.agop(lambda x: x.sum(), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="G must be"):
        A.nfa_correlation(np.ones((3, 4)), np.eye(3))
    with pytest.raises(ValueError, match="constant"):
        A.pearson(np.ones((2, 2)), np.eye(2))
    with pytest.raises(ValueError, match="M must be symmetric"):
        A.psd_power(np.array([[1.0, 2.0], [0.0, 1.0]]), 0.5)
    with pytest.raises(ValueError, match="M must be square"):
        A.psd_power(np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match="power"):
        A.psd_power(np.eye(2), 0.0)
