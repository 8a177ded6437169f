import numpy as np
import pytest
import torch

from dnc import ufm
from dnc.spectra import hessian, predictions, top_eigen


def autograd_hessian(H1, Ws, l, activation):
    """Hessian of the data term 1/(2N)‖f − Y‖² in w_l (row-major) by torch autograd, written here."""
    K, N = Ws[-1].shape[0], H1.shape[1]
    Y = torch.kron(torch.eye(K, dtype=torch.float64), torch.ones(1, N // K, dtype=torch.float64))
    Wt = [torch.tensor(W) for W in Ws]

    def loss(w):
        x = torch.tensor(H1)
        for m, W in enumerate(Wt):
            x = (w.reshape(W.shape) if m == l - 1 else W) @ x
            if activation == "relu" and m < len(Wt) - 1:
                x = torch.relu(x)
        return ((x - Y) ** 2).sum() / (2 * N)

    return torch.autograd.functional.hessian(loss, Wt[l - 1].reshape(-1).clone()).numpy()


def trained(activation, L=3, d=5, K=3, n=3, epochs=150):
    config = ufm.UFMConfig(K=K, n=n, d=d, L=L, activation=activation)
    return config, ufm.train(config, epochs, 0.3).params()


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("l", [1, 2, 3])
def test_dense_hessian_spectrum_and_matvec_against_autograd(activation, l):
    config, (H1, Ws) = trained(activation)
    reference = autograd_hessian(H1, Ws, l, activation)
    assert np.max(np.abs(hessian.autograd_layer_hessian(H1, Ws, l, activation) - reference)) < 1e-12
    dense = hessian.layer_hessian(H1, Ws, l, activation)
    assert np.max(np.abs(dense - reference)) < 1e-12
    spectrum = hessian.layer_hessian_spectrum(H1, Ws, l, activation)
    exact = np.sort(np.linalg.eigvalsh(reference))[::-1]
    assert np.max(np.abs(spectrum - exact)) < 1e-10 * max(1.0, exact[0])
    v = np.random.default_rng(l).standard_normal(reference.shape[0])
    assert np.allclose(hessian.hessian_matvec(H1, Ws, l, v, activation), reference @ v, atol=1e-12)


@pytest.mark.parametrize("n", [1, 3])  # NK = 9 < D = 25 (the Gram) and NK = 27 > D (JᵀJ itself)
def test_relu_spectrum_by_either_side_of_the_jacobian(n):
    _, (H1, Ws) = trained("relu", n=n)
    exact = np.sort(np.linalg.eigvalsh(autograd_hessian(H1, Ws, 2, "relu")))[::-1]
    spectrum = hessian.layer_hessian_spectrum(H1, Ws, 2, "relu")
    assert spectrum.shape == exact.shape
    assert np.max(np.abs(spectrum - exact)) < 1e-12 * exact[0]


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_papyan_components_sum_to_the_hessian(activation):
    config, (H1, Ws) = trained(activation)
    parts = hessian.papyan_components(H1, Ws, 2, activation)
    total = sum(U.T @ U for U in parts.values())
    assert np.allclose(total, hessian.layer_hessian(H1, Ws, 2, activation), atol=1e-12)
    ko = hessian.knockout_spectra(H1, Ws, 2, activation)
    rest = parts["class"].T @ parts["class"] + parts["cross"].T @ parts["cross"]
    assert np.allclose(ko["minus within"], np.sort(np.linalg.eigvalsh(rest))[::-1], atol=1e-12)


def test_theorem_quantities_on_an_exactly_collapsed_point():
    """Build a collapsed point by hand (orthogonal frames, A ∝ means) and check the formulas."""
    K, n, d, alpha = 3, 2, 5, 0.7
    rng = np.random.default_rng(0)
    Q1, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Q2, _ = np.linalg.qr(rng.standard_normal((d, d)))
    H1 = 2.0 * np.kron(Q1[:, :K], np.ones((1, n)))
    W1 = 1.5 * Q2[:, :K] @ Q1[:, :K].T  # maps frame 1 onto frame 2
    W2 = alpha * (3.0 * Q2[:, :K]).T  # rows ∝ next-layer means
    spectrum = hessian.layer_hessian_spectrum(H1, [W1, W2], 1)
    predicted = predictions.predicted_outlier_eigenvalues(H1, [W1, W2], 1)
    # by hand: A^(2) = W_2 has AᵀA with K eigenvalues 9α², Σ = Av{h hᵀ} has K eigenvalues 4/K,
    # so the K² outliers are α² ‖μ^(2)‖² ‖μ^(1)‖² / K = α² · 9 · 4 / K
    outlier = alpha**2 * 9.0 * 4.0 / K
    assert np.allclose(spectrum[: K * K], outlier, rtol=1e-12, atol=0)
    assert np.allclose(predicted, outlier, rtol=1e-12, atol=0)
    assert np.allclose(spectrum[K * K :], 0, atol=1e-12)
    assert np.allclose(predictions.predicted_alignments(H1, [W1, W2], 1), 1.0)
    assert hessian.outlier_count(spectrum, 2 * K * K) == K * K


def test_outlier_count():
    assert hessian.outlier_count([5, 4.9, 4.8, 0.01, 0.009, 0.008], 5) == 3
    assert hessian.outlier_count([1.0, 1.0, 1e-17, 3e-18, 0.0], 4) == 2


@pytest.mark.parametrize("l", [0, 4, 1.5, True])
def test_layer_index_out_of_range(l):
    _, (H1, Ws) = trained("linear")
    with pytest.raises(ValueError, match="layer index"):
        hessian.layer_hessian_spectrum(H1, Ws, l)


def test_shape_mismatch_and_bad_activation():
    _, (H1, Ws) = trained("linear")
    with pytest.raises(ValueError, match="do not chain"):
        hessian.layer_hessian(H1[:-1], Ws, 1)
    with pytest.raises(ValueError, match="activation"):
        hessian.layer_hessian(H1, Ws, 1, "sigmoid")


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_top_eigenpairs_against_the_dense_hessian(activation):
    _, (H1, Ws) = trained(activation)
    dense = hessian.layer_hessian(H1, Ws, 2, activation)
    vals, vecs = hessian.top_eigenpairs(H1, Ws, 2, 4, activation)
    assert np.allclose(dense @ vecs, vecs * vals, atol=1e-12)
    assert np.allclose(vals, np.sort(np.linalg.eigvalsh(dense))[::-1][:4], atol=1e-12)
    assert np.allclose(vecs.T @ vecs, np.eye(4), atol=1e-10)
    shares = hessian.coefficients(vecs[:, 0] + 2 * vecs[:, 1], vecs)
    assert np.allclose(shares, [0.2, 0.8, 0, 0], atol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_top_eigenpairs_by_lanczos_on_a_large_gram(loss, monkeypatch):
    """NK = 300 ≥ top_eigen.LANCZOS_MIN_SIZE: the certified Lanczos route, against the exact
    spectrum and the Hessian's own matrix-vector products."""
    answers = []
    lanczos = top_eigen.lanczos_certified

    def recorded(S, k):
        answers.append(lanczos(S, k))
        return answers[-1]

    monkeypatch.setattr(hessian.top_eigen, "lanczos_certified", recorded)
    config = ufm.UFMConfig(K=3, n=100, d=12, L=3, activation="relu", loss=loss)
    H1, Ws = ufm.train(config, 200, 0.1).params()
    assert config.N * config.K >= top_eigen.LANCZOS_MIN_SIZE
    vals, vecs = hessian.top_eigenpairs(H1, Ws, 2, 9, "relu", loss)
    assert len(answers) == 1 and answers[0] is not None  # certified, not the LAPACK fallback
    exact = hessian.layer_hessian_spectrum(H1, Ws, 2, "relu", loss)[:9]
    assert np.max(np.abs(vals - exact)) < 1e-12 * exact[0]
    products = np.stack(
        [hessian.hessian_matvec(H1, Ws, 2, v, "relu", loss) for v in vecs.T], axis=1
    )
    assert np.linalg.norm(products - vecs * vals) < 1e-11 * exact[0]


def test_masked_overlaps_reduce_to_the_plain_ones_without_relu():
    from dnc.spectra import matrices

    _, (H1, Ws) = trained("linear")
    masked = matrices.masked_row_overlaps(H1, Ws, "linear")
    assert np.allclose(masked, matrices.row_overlaps(Ws))
    for l in (1, 2):  # by hand: |A Aᵀ| for A = W_L ⋯ W_{l+1}
        A = np.linalg.multi_dot(Ws[::-1][: len(Ws) - l]) if len(Ws) - l > 1 else Ws[-1]
        assert np.allclose(masked[l - 1], np.abs(A @ A.T), rtol=1e-12, atol=0)
