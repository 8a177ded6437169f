import numpy as np
import pytest

from dnc import ufm
from dnc.spectra import full_hessian, hessian


def trained(activation, loss, L=4, d=5, K=3, n=3, epochs=150):
    config = ufm.UFMConfig(K=K, n=n, d=d, L=L, activation=activation, loss=loss)
    return ufm.train(config, epochs, 0.3).params()


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("features", [0, 1, 2])
def test_full_hessian_against_autograd(activation, loss, features):
    H1, Ws = trained(activation, loss)
    feats, sep = Ws[:features] or None, Ws[features:]
    dense = full_hessian.autograd_full_hessian(H1, sep, activation, loss, feature_map=feats)
    exact = np.sort(np.linalg.eigvalsh(dense))[::-1]
    v = np.random.default_rng(features).standard_normal(dense.shape[0])
    got = full_hessian.full_hessian_matvec(H1, sep, v, activation, loss, feature_map=feats)
    assert np.max(np.abs(got - dense @ v)) < 1e-12 * max(1.0, np.abs(dense @ v).max())
    top = full_hessian.full_hessian_top_eigenvalues(H1, sep, 9, activation, loss, feature_map=feats)
    assert np.all(np.diff(top) <= 0)
    assert np.max(np.abs(top - exact[:9])) < 1e-10 * exact[0]
    # Weyl's perturbation: E = Hess − diag(0, Hess_{L,L}) and the separated block on its own.
    n0 = sum(W.size for W in Ws[:features])
    E = dense.copy()
    E[n0:, n0:] = 0.0
    norm = full_hessian.off_block_norm(H1, sep, activation, loss, feature_map=feats)
    assert abs(norm - np.max(np.abs(np.linalg.eigvalsh(E)))) < 1e-10 * max(norm, 1e-300) + 1e-15
    block = full_hessian.separated_block_top_eigenvalues(
        H1, sep, 9, activation, loss, feature_map=feats
    )
    block_exact = np.sort(np.linalg.eigvalsh(dense[n0:, n0:]))[::-1][:9]
    assert np.max(np.abs(block - block_exact)) < 1e-10 * block_exact[0]
    assert np.all(np.abs(top - block) <= norm * (1 + 1e-9) + 1e-12)


def test_all_eigenvalues_and_blocks_in_layer_order():
    H1, Ws = trained("linear", "mse", L=2, d=3)
    dense = full_hessian.autograd_full_hessian(H1, Ws)
    every = full_hessian.full_hessian_top_eigenvalues(H1, Ws, dense.shape[0])
    assert np.allclose(every, np.sort(np.linalg.eigvalsh(dense))[::-1], atol=1e-12)
    # The diagonal block of W_l is the layer-wise Hess_l.
    n1 = Ws[0].size
    assert np.allclose(dense[:n1, :n1], hessian.layer_hessian(H1, Ws, 1), atol=1e-12)
    assert np.allclose(dense[n1:, n1:], hessian.layer_hessian(H1, Ws, 2), atol=1e-12)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, 10**6])
def test_bad_k(k):
    H1, Ws = trained("linear", "mse", L=2, d=3)
    with pytest.raises(ValueError, match="k must be an integer in 1.."):
        full_hessian.full_hessian_top_eigenvalues(H1, Ws, k)


def test_bad_loss_and_vector_length():
    H1, Ws = trained("linear", "mse", L=2, d=3)
    with pytest.raises(ValueError, match="'nll'"):
        full_hessian.full_hessian_top_eigenvalues(H1, Ws, 2, loss="nll")
    with pytest.raises(ValueError, match="entries"):
        full_hessian.full_hessian_matvec(H1, Ws, np.ones(3))


def test_an_unknown_regularisation_schedule_is_named():
    from dnc.experiments import paper_a_later as experiments_later

    setting = experiments_later.depth_setting("quick")
    with pytest.raises(ValueError, match="schedule must be one of"):
        setting.lambdas(4, "cosine")
