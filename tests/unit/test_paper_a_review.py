"""The helpers added for the review of the paper-A chapters: eigenvector residuals, eigenspace
overlaps over training and the class means of the regularisation sweep."""

import numpy as np
import pytest
import sympy as sp

from dnc import symbolic, ufm
from dnc.experiments import paper_a as experiments
from dnc.spectra import gradients
from dnc.ufm import train


@pytest.fixture(scope="module")
def linear_run():
    config = ufm.UFMConfig(K=3, n=4, d=8, L=4, seed=0)
    return train(config, 60, 0.1, snapshots=(0, 3, 10, 25, 60))


def test_eigen_residuals_vanish_exactly_on_eigenvectors():
    a = sp.Symbol("a", positive=True)
    M = sp.Matrix([[a, 0], [0, 2 * a]])
    on, off = sp.Matrix([1, 0]), sp.Matrix([1, 1])
    residuals = symbolic.eigen_residuals(M, [on, off], a)
    assert residuals[0] == sp.zeros(2, 1) and residuals[1] != sp.zeros(2, 1)
    with pytest.raises(ValueError, match="square"):
        symbolic.eigen_residuals(sp.ones(2, 3), [on], a)
    with pytest.raises(ValueError, match="vector 0"):
        symbolic.eigen_residuals(M, [sp.ones(3, 1)], a)


def test_eigenspace_overlaps_agree_with_dense_projectors(linear_run):
    l = 2
    out = experiments.top_eigenspace_overlaps(linear_run, l)
    assert list(out["epoch"]) == [0, 3, 10, 25, 60]
    assert out["final"][-1] == pytest.approx(1.0) and np.isnan(out["next"][-1])

    def projector(e):
        left, right, _ = gradients.top_eigenvectors(*linear_run.params(e), l)
        B = np.stack([np.kron(u, v) for u, v in zip(left, right, strict=True)], axis=1)
        return B @ B.T

    K2 = linear_run.config.K**2
    dense = np.trace(projector(0) @ projector(60)) / K2
    assert out["final"][0] == pytest.approx(dense, rel=1e-10)
    assert np.all((out["final"] > -1e-12) & (out["final"] < 1 + 1e-12))


def test_sweep_class_means_on_a_small_setting(monkeypatch):
    small = dict(K=2, n=3, d=3, L=2, epochs=4000, lr=1.0, ratios=(0.2, 5.0))
    monkeypatch.setattr(experiments, "sweep_setting", lambda profile=None: small)
    out = experiments.sweep_class_means()
    assert list(out["ratio"]) == [0.2, 5.0] and list(out["rank"]) == [2, 0]
    assert out["norm_ratio"][0] == pytest.approx(1.0, abs=1e-6)
    assert out["frame_distance"][0] < 1e-6
    np.testing.assert_allclose(out["gram_eigenvalues"][0], [1.0, 1.0], atol=1e-6)
    assert np.isnan(out["norm_ratio"][1]) and np.isnan(out["gram_eigenvalues"][1]).all()
