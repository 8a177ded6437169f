import numpy as np
import pytest
from test_gradients import collapsed_point

from dnc.spectra import eigenbases, gradients, hessian


def test_every_basis_is_an_orthonormal_eigenbasis_of_the_collapsed_hessian():
    H1, Ws, _ = collapsed_point()
    l, K = 2, 3
    dense = hessian.layer_hessian(H1, Ws, l)
    top = np.linalg.eigvalsh(dense)[-1]
    g = gradients.data_gradient(H1, Ws, l)
    bases = {
        "eigh": eigenbases.eigh_basis(H1, Ws, l),
        "natural": eigenbases.natural_basis(H1, Ws, l),
        "rotated": eigenbases.rotated_product_basis(H1, Ws, l, seed=3),
    }
    bases["through g"] = eigenbases.basis_through(g, bases["rotated"])
    for name, B in bases.items():
        assert B.shape == (dense.shape[0], K * K), name
        assert np.allclose(B.T @ B, np.eye(K * K), atol=1e-10), name
        assert np.allclose(dense @ B, top * B, atol=1e-10 * top), name
        coef = eigenbases.squared_coefficients(g, B)
        assert abs(coef.sum() - 1) < 1e-10, name
    counts = {
        k: int(np.sum(eigenbases.squared_coefficients(g, B) > 1e-8)) for k, B in bases.items()
    }
    assert counts["natural"] == K and counts["rotated"] == K * K and counts["through g"] == 1


def test_squared_coefficients_rejects_bad_shapes_and_zero_vectors():
    with pytest.raises(ValueError, match="4×k"):
        eigenbases.squared_coefficients(np.ones(4), np.eye(3))
    with pytest.raises(ValueError, match="zero"):
        eigenbases.squared_coefficients(np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="orthogonal"):
        eigenbases.basis_through(np.array([0.0, 0.0, 1.0]), np.eye(3)[:, :2])


def test_a_zero_vector_has_no_coefficients():
    with pytest.raises(ValueError, match="the vector is exactly zero"):
        eigenbases.squared_coefficients(np.zeros(4), np.eye(4)[:, :2])


def test_the_rotated_basis_depends_on_the_span_not_on_the_basis_the_solver_gave():
    rng = np.random.default_rng(0)
    vectors = np.linalg.qr(rng.standard_normal((7, 3)))[0].T  # a basis of a 3-dim span (rows)
    turned = np.linalg.qr(rng.standard_normal((3, 3)))[0] @ vectors  # another basis of it
    a = eigenbases._random_basis_of_span(vectors, 3, np.random.default_rng(5))
    b = eigenbases._random_basis_of_span(turned, 3, np.random.default_rng(5))
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a.T @ a, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(vectors.T @ (vectors @ a), a, atol=1e-12)  # inside the span
