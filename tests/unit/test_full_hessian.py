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


def test_top_eigenpairs_and_the_next_eigenvalue_against_the_dense_hessian():
    H1, Ws = trained("linear", "mse", L=4, d=5, epochs=300)
    dense = full_hessian.autograd_full_hessian(H1, Ws[1:], feature_map=Ws[:1])
    exact = np.sort(np.linalg.eigvalsh(dense))[::-1]
    vals, vecs = full_hessian.full_hessian_top_eigenpairs(H1, Ws[1:], 9, feature_map=Ws[:1])
    assert np.max(np.abs(vals - exact[:9])) < 1e-10 * exact[0]
    assert np.allclose(vecs.T @ vecs, np.eye(9), atol=1e-10)
    assert np.max(np.abs(dense @ vecs - vecs * vals)) < 1e-9 * exact[0]
    after = full_hessian.next_eigenvalue(H1, Ws[1:], vecs, feature_map=Ws[:1])
    assert exact[9] > 0 and abs(after - exact[9]) < 1e-8 * exact[0]
    with pytest.raises(ValueError, match="vectors must have shape"):
        full_hessian.next_eigenvalue(H1, Ws[1:], vecs[:-1], feature_map=Ws[:1])


def test_overlap_with_the_layer_wise_predictions():
    from dnc.experiments import paper_a_later as experiments_later
    from dnc.spectra import predictions
    from dnc.ufm import Point

    H1, Ws = experiments_later.stationary_point(3, 4, 5, 4, 5e-3, rank=3)
    _, vecs = full_hessian.full_hessian_top_eigenpairs(H1, Ws, 9)
    assert abs(full_hessian.layer_prediction_overlap(H1, Ws, vecs) - 1) < 1e-10
    # A predicted vector of one layer lies inside; a random direction mostly outside.
    point, sizes = Point(H1, Ws), [W.size for W in Ws]
    inside = np.zeros((sum(sizes), 1))
    v = predictions.eigenvectors_at(point, 2)[0, 1]
    inside[sizes[0] : sizes[0] + sizes[1], 0] = v / np.linalg.norm(v)
    assert abs(full_hessian.layer_prediction_overlap(H1, Ws, inside) - 1) < 1e-12
    random = np.linalg.qr(np.random.default_rng(0).standard_normal((sum(sizes), 3)))[0]
    assert full_hessian.layer_prediction_overlap(H1, Ws, random) < 0.5
    with pytest.raises(ValueError, match="vectors must have shape"):
        full_hessian.layer_prediction_overlap(H1, Ws, random[1:])


def test_relative_spectrum_deviation():
    dev = full_hessian.relative_spectrum_deviation([4.0, 4.0, 2.0, 1.0], [1.0, 1.0, 1.0], 3)
    assert dev == pytest.approx(0.5)
    with pytest.raises(ValueError, match="need k = 3"):
        full_hessian.relative_spectrum_deviation([1.0, 1.0], [1.0, 1.0, 1.0], 3)
    with pytest.raises(ValueError, match="positive"):
        full_hessian.relative_spectrum_deviation([0.0, 0.0], [1.0, 1.0], 2)


def test_stationary_points_of_every_rank_are_balanced_and_stationary():
    from dnc.experiments import paper_a_later as experiments_later

    out = experiments_later.stationary_comparison(K=3, n=3, d=4, T=4, ranks=(3, 2, 1))
    assert np.all(out["gradient"] < 1e-12)
    assert np.allclose(out["gap"], 1 / 3, rtol=0.05)  # balancedness: ≈ L̄/L = 1/3 at every rank
    assert out["outliers"][0] == 9 and out["outliers"][1] < 9
    assert out["deviation"][0] < 0.1 < out["deviation"][1]
    with pytest.raises(ValueError, match="rank must be in"):
        experiments_later.stationary_point(3, 3, 4, 4, 5e-3, rank=4)
    with pytest.raises(ValueError, match="above condition"):
        experiments_later.stationary_point(3, 3, 4, 40, 0.5, rank=3)
