"""The measuring code of the stochastic chapters, pinned at 1e-4 on weights that do not move.

Training the real network and paper B's MLP in float32 minibatches is stochastic across CPUs, so
the chapters pin its outcomes by their spread over seeds, loosely. The measurements of a trained
model are deterministic; here they run on the fixed weights in ``tests/fixtures`` (written by
``tools/make_fixtures.py``, whose functions this test calls) and must reproduce the values stored
beside them to a relative 1e-4: a 1e-3 change of any measurement fails.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
_spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "tools" / "make_fixtures.py")
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)
PINNED = json.loads((FIXTURES / "pipeline.json").read_text())
RTOL = 1e-4


def assert_same(got, want, where=""):
    """Numbers within RTOL relative (NaN equals NaN), counts and keys exactly, recursively."""
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), where
        for key in want:
            assert_same(got[key], want[key], f"{where}[{key}]")
    elif isinstance(want, int) and not isinstance(want, bool):
        assert got == want, f"{where}: {got} != {want}"
    else:
        np.testing.assert_allclose(
            np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=RTOL, atol=1e-300,
            equal_nan=True, err_msg=where,
        )  # fmt: skip


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_real_network_measurements_on_fixed_weights(loss):
    pinned = PINNED[f"realnet_{loss}"]
    with np.load(FIXTURES / f"realnet_{loss}.npz") as stored:
        state = {k: stored[k] for k in stored.files}
    got = make_fixtures.realnet_measurements(pinned["config"], state, pinned["K"], loss)
    assert_same(got, pinned["measured"], f"realnet_{loss}")


def test_mlp_measurements_on_fixed_weights():
    with np.load(FIXTURES / "mlp.npz") as stored:
        weights = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    got = make_fixtures.mlp_measurements(weights)
    assert_same(got, PINNED["mlp"]["measured"], "mlp")


def test_a_one_per_mille_change_is_caught():
    """The comparison is strict enough: 1e-3 on one entry fails it."""
    want = PINNED["realnet_mse"]["measured"]
    moved = json.loads(json.dumps(want))
    moved["hess_gap"][1] *= 1 + 1e-3
    with pytest.raises(AssertionError):
        assert_same(moved, want)
