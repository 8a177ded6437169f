"""The Deep RFM layer benchmark (benchmarks/run.py) times what deep_rfm computes, and its floor
and its xrfm peer compute the same layer."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dnc import data
from dnc.agop import rfm

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    """benchmarks/<name>.py as a module, leaving sys.path as it was."""
    path = list(sys.path)
    spec = importlib.util.spec_from_file_location(f"dnc_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path
    return module


@pytest.fixture(scope="module")
def layer():
    X, y = data.load("mnist", n_per_class=20, seed=0)
    W = np.random.default_rng(0).standard_normal((512, X.shape[1])) / np.sqrt(512)
    return X, y, rfm.targets(y), W


def relative(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


def test_ours_is_deep_rfm_layer_zero(layer):
    X, y, T, W = layer
    feats, alpha, M = load("run").deep_rfm_layer_ours(X, T, W)
    out = rfm.deep_rfm(X, y, layers=1, keep=[0], seed=0, progress=False)
    assert np.array_equal(feats, out["rf_out"][0]) and np.array_equal(M, out["Ms"][0])
    assert alpha.shape == T.shape


def test_floor_computes_the_same_layer(layer):
    X, _, T, W = layer
    run = load("run")
    ours = run.deep_rfm_layer_ours(X, T, W)
    tensors = (torch.from_numpy(np.ascontiguousarray(A)) for A in (X, T, W))
    floor = run.deep_rfm_layer_floor(*tensors, rfm.BANDWIDTH, rfm.RIDGE)
    for mine, theirs in zip(ours, floor, strict=True):
        assert relative(mine, theirs.numpy()) < 1e-6


def test_xrfm_step_computes_the_same_layer_up_to_the_agop_scale(layer):
    pytest.importorskip("xrfm")
    X, _, T, W = layer
    feats, alpha, M = load("run").deep_rfm_layer_ours(X, T, W)
    tensors = (torch.from_numpy(np.ascontiguousarray(A)) for A in (X, T, W))
    xf, xalpha, xM = (
        t.numpy() for t in load("peers").xrfm_layer(*tensors, rfm.BANDWIDTH, rfm.RIDGE)
    )
    assert relative(alpha, xalpha) < 1e-6
    assert relative(M / M.max(), xM) < 1e-6  # xrfm divides the AGOP by its largest entry
    assert relative(feats, xf * np.sqrt(M.max())) < 1e-6
