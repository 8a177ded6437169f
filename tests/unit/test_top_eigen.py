"""The certified top-k eigensolver (dnc.spectra.top_eigen) against LAPACK, and its check refusing wrong
answers."""

import numpy as np
import pytest
from scipy.linalg import eigh

from dnc.spectra import top_eigen


def symmetric(eigenvalues, seed=0):
    """Q diag(eigenvalues) Qᵀ with a Haar-random orthogonal Q, and Q."""
    n = len(eigenvalues)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    S = (Q * np.asarray(eigenvalues)) @ Q.T
    return (S + S.T) / 2, Q


def bulk(size, seed=1):
    return np.random.default_rng(seed).uniform(0.0, 0.3, size)


def test_distinct_top_eigenvalues_are_certified_and_exact():
    n, k = 300, 9
    S, _ = symmetric(np.concatenate([np.linspace(2.0, 1.0, k), bulk(n - k)]))
    found = top_eigen.lanczos_certified(S, k)
    assert found is not None
    vals, vecs = found
    ref = eigh(S, eigvals_only=True)[::-1][:k]
    assert np.max(np.abs(vals - ref)) < 1e-13
    assert np.linalg.norm(S @ vecs - vecs * vals, 2) < 1e-12
    assert np.allclose(vecs.T @ vecs, np.eye(k), atol=1e-14)


def test_a_ninefold_top_eigenvalue_comes_back_nine_times():
    """K² equal outliers, as at collapse: all nine copies, whichever route answers."""
    n, k = 360, 9
    for seed in range(5):
        S, Q = symmetric(np.concatenate([np.ones(k), bulk(n - k, seed)]), seed)
        vals, vecs = top_eigen.matrix_top_eigenpairs(S, k)
        assert np.max(np.abs(vals - 1.0)) < 1e-12
        # the returned vectors span the top eigenspace
        assert np.linalg.norm(Q[:, :k].T @ vecs, "fro") ** 2 == pytest.approx(k, abs=1e-10)


def test_the_check_refuses_a_basis_that_misses_a_top_eigenvector():
    n, k = 300, 9
    top = np.linspace(2.0, 1.0, k)
    S, Q = symmetric(np.concatenate([top, bulk(n - k)]))
    assert top_eigen.certify(S, Q[:, :k]) is not None
    # eigenvectors 1..8 and 10: Ritz values are exact eigenvalues, with zero residual, but not
    # the top nine, and only the Weyl half of the check can tell
    wrong = np.concatenate([Q[:, : k - 1], Q[:, k : k + 1]], axis=1)
    assert top_eigen.certify(S, wrong) is None
    # a slightly rotated true basis is accepted, each value within the residual of the exact one
    nearby = Q[:, :k] + 1e-6 * np.random.default_rng(3).standard_normal((n, k))
    vals, _ = top_eigen.certify(S, nearby)
    assert np.max(np.abs(vals - top)) < 1e-9


def test_a_tie_across_the_kth_eigenvalue_falls_back_to_lapack():
    """λ_9 = λ_10: "the top nine" is no single subspace, the check cannot pass, LAPACK answers."""
    n, k = 300, 9
    top = np.concatenate([np.linspace(2.0, 1.0, k), [1.0]])
    S, _ = symmetric(np.concatenate([top, bulk(n - k - 1)]))
    assert top_eigen.lanczos_certified(S, k) is None
    vals, vecs = top_eigen.matrix_top_eigenpairs(S, k)
    assert np.max(np.abs(vals - top[:k])) < 1e-13
    assert np.linalg.norm(S @ vecs - vecs * vals, 2) < 1e-12


def test_small_matrices_and_large_k_go_to_lapack(monkeypatch):
    calls = []
    monkeypatch.setattr(top_eigen, "lanczos_certified", lambda S, k: calls.append(k))
    S, _ = symmetric(np.concatenate([[3.0, 2.0], bulk(98)]))
    vals, _ = top_eigen.matrix_top_eigenpairs(S, 2)
    assert vals == pytest.approx([3.0, 2.0], abs=1e-13) and calls == []
    S, _ = symmetric(np.concatenate([np.linspace(3, 2, 40), bulk(260)]))
    top_eigen.matrix_top_eigenpairs(S, 40)
    assert calls == []


@pytest.mark.parametrize("k", [0, 11])
def test_k_out_of_range(k):
    with pytest.raises(ValueError, match="k must lie in"):
        top_eigen.matrix_top_eigenpairs(np.eye(10), k)
