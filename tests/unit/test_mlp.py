"""Bias-free MLP training, NC1 decomposition per layer, seeds, bad input."""

import numpy as np
import pytest
import torch

from dnc import data, metrics
from dnc.agop import mlp


@pytest.fixture(scope="module")
def trained():
    X, y = data.gaussian_mixture(K=3, n_per_class=20, D=8, separation=3.0, seed=0)
    model, hist = mlp.train_mlp(
        X, y, width=16, depth=3, epochs=40, batch_size=20, seed=1, lr=3e-3, record_every=20
    )
    return X, y, model, hist


def test_mlp_is_bias_free_relu_network():
    model = mlp.MLP(4, 6, 2, depth=3)
    assert all(layer.bias is None for layer in model.layers) and model.depth == 3
    x = torch.randn(5, 4)
    manual = x
    for layer in model.layers[:-1]:
        manual = torch.relu(manual @ layer.weight.T)
    torch.testing.assert_close(model(x), manual @ model.layers[-1].weight.T)


def test_training_fits_and_is_seeded(trained):
    X, y, model, hist = trained
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["accuracy"][-1] == 1.0
    assert hist["nc1"].shape == (3, 4) and hist["nfa"].shape == (3, 3)
    assert hist["nfa_sqrt"].shape == (3, 3) and hist["nc2"].shape == (3, 4)
    # the decomposition recorded at the last epoch is the one of the returned model
    np.testing.assert_allclose(
        hist["decomposition"][-1], mlp.layer_nc1_decomposition(model, X, y), rtol=1e-6
    )
    _, again = mlp.train_mlp(
        X, y, width=16, depth=3, epochs=40, batch_size=20, seed=1, lr=3e-3, record_every=20
    )
    np.testing.assert_array_equal(hist["loss"], again["loss"])


def test_nc1_decomposition_rotation_does_not_count(trained):
    X, y, model, _ = trained
    dec = mlp.layer_nc1_decomposition(model, X, y)
    assert dec.shape == (3, 3)
    np.testing.assert_allclose(dec[1:, 0], dec[:-1, 2], rtol=1e-5)  # h_l feeds layer l+1
    with torch.no_grad():
        h0 = torch.as_tensor(X).float()
        Wh = (h0 @ model.layers[0].weight.T).double().numpy()
    # NC1 of W h equals NC1 of S Vᵀ h: the orthogonal U leaves both traces unchanged
    assert dec[0, 1] == pytest.approx(metrics.nc1(Wh.T, y, kind="trace_ratio"), rel=1e-4)


def test_closed_form_hidden_agops_match_autograd(trained):
    from dnc.agop import core as agop

    X, _, model, _ = trained
    Xt = torch.as_tensor(X).float()
    reference = agop.layer_agops(model, Xt)[:-1]  # vmap(jacrev) through the network
    for mine, ref in zip(mlp.hidden_agops(model, Xt), reference, strict=True):
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-7 * np.abs(ref).max())


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="width"):
        mlp.MLP(3, 0, 2)
    with pytest.raises(ValueError, match="y must have shape"):
        mlp.train_mlp(np.zeros((4, 3)), [0, 1], epochs=1)
    with pytest.raises(ValueError, match=r"0\.\.K−1"):
        mlp.train_mlp(np.zeros((2, 3)), [1, 2], epochs=1)
    with pytest.raises(ValueError, match="init_gain"):
        mlp.MLP(3, 4, 2, init_gain=-1)
