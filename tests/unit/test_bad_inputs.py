"""The bad inputs of the reliability review (shared/reviews/reliability.md), each a clear error.

Every case asserts the error's type and that its message names the argument (or environment
variable) and what is wrong. Before these checks the review found each of them silent (a value
came back) or obscure (an error from deep inside numpy or torch).
"""

import numpy as np
import pytest
import torch

from dnc import data, metrics, ufm
from dnc.agop import core as agop
from dnc.agop import rfm
from dnc.spectra import full_hessian, hessian

rng = np.random.default_rng(0)
X = rng.standard_normal((12, 4))
y = np.repeat(np.arange(3), 4)
H = rng.standard_normal((5, 12))


CONFIG = dict(K=3, n=4, d=6, L=3)
UFM = ufm.UFMConfig(**CONFIG)


def _point():
    return ufm.train(UFM, 5, 0.1).params()


def _linear(x):
    return x @ torch.ones(4, 3, dtype=x.dtype)


CASES = [
    # --- silent before: a value came back
    (
        "psd_power of an indefinite matrix",
        lambda: agop.psd_power(np.diag([1.0, -1.0]), 0.5),
        ValueError,
        r"M must be positive semi-definite: its smallest eigenvalue is -1",
    ),
    ("agop of an empty X", lambda: agop.agop(_linear, np.zeros((0, 4))), ValueError, r"X is empty"),
    (
        "agop of an empty tensor",
        lambda: agop.agop(_linear, torch.zeros(0, 4)),
        ValueError,
        r"X is empty",
    ),
    (
        "laplace_agop with an indefinite M",
        lambda: rfm.laplace_agop(X, rfm.fit(X, rfm.targets(y)), M=-np.eye(4)),
        ValueError,
        r"M must be positive semi-definite",
    ),
    (
        "laplace_agop with a vanishing bandwidth",
        lambda: rfm.laplace_agop(X, rfm.fit(X, rfm.targets(y)), bandwidth=1e-300),
        ValueError,
        r"not finite for bandwidth=1e-300",
    ),
    (
        "deep_rfm keeping a layer it does not have",
        lambda: rfm.deep_rfm(X, y, layers=2, keep=[99]),
        ValueError,
        r"keep must hold layer indices in 0\.\.1, got \[99\]",
    ),
    (
        "deep_rfm on data without columns",
        lambda: rfm.deep_rfm(np.zeros((12, 0)), y, layers=1),
        ValueError,
        r"X is empty",
    ),
    (
        "deep_rfm with constant targets",
        lambda: rfm.deep_rfm(X, y, layers=1, target_off=1.0),
        ValueError,
        r"on and off must be finite and differ",
    ),
    (
        "digits given an option it ignores",
        lambda: data.load("digits", foo=1),
        ValueError,
        r"'digits' takes no options, got \['foo'\]",
    ),
    (
        "nc1 with labels 1..3",
        lambda: metrics.nc1(H, y + 1),
        ValueError,
        r"labels must hold the classes 0\.\.K−1.*\[1, 2, 3\]",
    ),
    (
        "nc2 with labels 0, 2, 5",
        lambda: metrics.nc2(H, np.repeat([0, 2, 5], 4)),
        ValueError,
        r"labels must hold the classes 0\.\.K−1",
    ),
    (
        "nc4 with labels -1..1",
        lambda: metrics.nc4(np.ones((3, 5)), H, y - 1),
        ValueError,
        r"labels must hold the classes 0\.\.K−1",
    ),
    (
        "nc2 of all-zero features",
        lambda: metrics.nc2(np.zeros((5, 12)), y, frame="orthogonal"),
        ValueError,
        r"every \(centred\) class mean is zero, so NC2 is undefined",
    ),
    (
        "nc3 with W = 0",
        lambda: metrics.nc3(np.zeros((3, 5)), H, y),
        ValueError,
        r"NC3 is undefined when W is zero",
    ),
    (
        "a seed of 1.5",
        lambda: ufm.UFMConfig(**CONFIG, seed=1.5),
        ValueError,
        r"seed must be a whole number >= 0, got 1\.5",
    ),
    (
        "a snapshot at epoch 2.5",
        lambda: ufm.train(UFM, 10, 0.1, snapshots=[2.5]),
        ValueError,
        r"snapshots\[0\] must be a whole number >= 0, got 2\.5",
    ),
    (
        "log_every of 0",
        lambda: ufm.train(UFM, 10, 0.1, log_every=0),
        ValueError,
        r"log_every must be a positive integer, got 0",
    ),
    (
        "log_every of -3",
        lambda: ufm.train(UFM, 10, 0.1, log_every=-3),
        ValueError,
        r"log_every must be a positive integer, got -3",
    ),
    (
        "checkpoint_seconds of -1",
        lambda: ufm.train(UFM, 10, 0.1, checkpoint_seconds=-1),
        ValueError,
        r"checkpoint_seconds must be a positive finite number, got -1",
    ),
    (
        "rayleigh_alignment of a NaN vector",
        lambda: hessian.rayleigh_alignment(*_point(), 1, np.full(36, np.nan)),
        ValueError,
        r"v contains NaN or infinite entries",
    ),
    (
        "full_hessian_matvec of a NaN vector",
        lambda: full_hessian.full_hessian_matvec(
            *_point(), np.full(6 * 24 + 6 * 6 * 2 + 18, np.nan)
        ),
        ValueError,
        r"v contains NaN or infinite entries",
    ),
    # --- obscure before: an error a user could not act on
    (
        "lambda_W of 'abc'",
        lambda: ufm.UFMConfig(**CONFIG, lambda_W="abc"),
        TypeError,
        r"lambda_W must be a number, got str 'abc'",
    ),
    (
        "lambda_W of None",
        lambda: ufm.UFMConfig(**CONFIG, lambda_W=None),
        TypeError,
        r"lambda_W must be a number, got NoneType",
    ),
    (
        "n of None",
        lambda: ufm.UFMConfig(K=3, n=None, d=6, L=3),
        TypeError,
        r"n must be a number, got NoneType",
    ),
    (
        "a seed of 'a'",
        lambda: ufm.UFMConfig(**CONFIG, seed="a"),
        TypeError,
        r"seed must be a number, got str 'a'",
    ),
    (
        "lr of '0.1'",
        lambda: ufm.train(UFM, 10, "0.1"),
        TypeError,
        r"lr must be a number, got str '0\.1'",
    ),
    (
        "device 'gpu0'",
        lambda: ufm.train(UFM, 10, 0.1, device="gpu0"),
        ValueError,
        r"device='gpu0' is not a torch device name",
    ),
    (
        "threads of 0",
        lambda: ufm.train(UFM, 10, 0.1, threads=0),
        ValueError,
        r"threads must be a whole number >= 1",
    ),
    (
        "an integer dtype",
        lambda: ufm.train(UFM, 10, 0.1, dtype=torch.int64),
        ValueError,
        r"dtype must be torch\.float64 or torch\.float32",
    ),
    (
        "params of a model the batch lacks",
        lambda: ufm.train(UFM, 5, 0.1).params(b=5),
        ValueError,
        r"b must be a model index in 0\.\.0",
    ),
    (
        "train_cached with a snapshot of None",
        lambda: ufm.train_cached(UFM, 10, 0.1, snapshots=[None]),
        TypeError,
        r"snapshots\[0\] must be a number, got NoneType",
    ),
    (
        "hessian_matvec of a vector of length 7",
        lambda: hessian.hessian_matvec(*_point(), 1, np.ones(7)),
        ValueError,
        r"v must have 36 entries, got 7",
    ),
    (
        "top_eigenpairs with k = 0",
        lambda: hessian.top_eigenpairs(*_point(), 1, 0),
        ValueError,
        r"k must be a positive integer, got 0",
    ),
    (
        "top_eigenpairs beyond the rank",
        lambda: hessian.top_eigenpairs(*_point(), 3, 40),
        ValueError,
        r"k = 40 exceeds the rank bound of Hess_l",
    ),
    (
        "outlier_count with max_count = -1",
        lambda: hessian.outlier_count([3.0, 2.0, 1.0], -1),
        ValueError,
        r"max_count must be a positive integer, got -1",
    ),
    (
        "separated_block_top_eigenvalues with a feature map of the wrong shape",
        lambda: full_hessian.separated_block_top_eigenvalues(
            *_point(), 3, feature_map=[np.ones((2, 2))]
        ),
        ValueError,
        r"feature_map\[0\] has shape \(2, 2\) but its input has 6 rows",
    ),
    (
        "separated_block_top_eigenvalues with a NaN feature map",
        lambda: full_hessian.separated_block_top_eigenvalues(
            *_point(), 3, feature_map=[np.full((6, 6), np.nan)]
        ),
        ValueError,
        r"feature_map\[0\] contains NaN",
    ),
    (
        "regularisation_ratio without λ's",
        lambda: ufm.regularisation_ratio(3, 4, [], 1e-3),
        ValueError,
        r"lambda_Ws needs at least one λ",
    ),
    (
        "regularisation_ratio with K = 0",
        lambda: ufm.regularisation_ratio(0, 4, [1e-3], 1e-3),
        ValueError,
        r"K must be a positive integer, got 0",
    ),
    (
        "objective with a config of another depth",
        lambda: ufm.objective(*_point(), ufm.UFMConfig(K=3, n=4, d=6, L=2)),
        ValueError,
        r"config has L = 2 layers, but Ws holds 3 matrices",
    ),
    (
        "agop with f of another input size",
        lambda: agop.agop(lambda x: x @ torch.ones(7, 3, dtype=x.dtype), X),
        ValueError,
        r"f fails on a 1×4 row of X",
    ),
    (
        "nfa_correlation with G = −I",
        lambda: agop.nfa_correlation(np.eye(4), -np.eye(4)),
        ValueError,
        r"G must be positive semi-definite",
    ),
    (
        "rfm.fit with M = −I",
        lambda: rfm.fit(X, rfm.targets(y), M=-np.eye(4)),
        ValueError,
        r"M must be positive semi-definite",
    ),
    (
        "a matrix of strings",
        lambda: rfm.fit([["a", "b"]], [[1.0]]),
        TypeError,
        r"X must be an array of numbers",
    ),
]


@pytest.mark.parametrize("call, kind, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_input_is_a_clear_error(call, kind, message):
    with pytest.raises(kind, match=message):
        call()


def test_solve_kernel_leaves_the_callers_matrix_alone():
    K = 2.0 * np.eye(3)
    rfm.solve_kernel(K, np.ones((3, 1)), ridge=0.5)
    np.testing.assert_array_equal(K, 2.0 * np.eye(3))


def test_rfm_runs_where_dnc_device_says(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "bogus")
    with pytest.raises(ValueError, match="DNC_DEVICE='bogus' is not a torch device name"):
        rfm.fit(X, rfm.targets(y))


def test_psd_power_still_clips_rounding():
    M = np.diag([1.0, -1e-12])
    np.testing.assert_allclose(agop.psd_power(M, 0.5), np.diag([1.0, 0.0]))


def test_symbolic_matrices_of_eleven_rows_have_distinct_symbols():
    from dnc import symbolic

    assert len(symbolic.symbolic_matrix("h", 12, 12).free_symbols) == 144
    assert str(symbolic.symbolic_matrix("h", 2, 2)[0, 1]) == "h01"  # small sizes keep their names
