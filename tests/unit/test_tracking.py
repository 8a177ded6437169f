import numpy as np
import pytest

from dnc import ufm
from dnc.ufm import tracking


def hand_result():
    """A TrainResult built by hand: two models, snapshots at epochs 0, 5, 10, H filled with
    100·snapshot + model index, W_1 with −(snapshot + 1)."""
    config = ufm.UFMConfig(K=2, n=1, d=2, L=1)
    S, B = 3, 2
    H = np.zeros((S, B, 2, 2))
    for s in range(S):
        for b in range(B):
            H[s, b] = 100 * s + b
    W = -(np.arange(S)[:, None, None, None] + 1.0) * np.ones((S, B, 2, 2))
    return ufm.TrainResult(
        config, 0.1, 10, (0, 1), np.array([0, 5, 10]), H, [W], np.array([0, 10]), np.zeros((2, B))
    )


def test_over_snapshots_evaluates_at_every_snapshot():
    result = hand_result()
    epochs, values = tracking.over_snapshots(result, lambda H, Ws: H[0, 0] + Ws[0][0, 0])
    assert np.array_equal(epochs, [0, 5, 10])
    assert np.array_equal(values, [0 - 1, 100 - 2, 200 - 3])


def test_over_snapshots_chosen_epochs_model_and_array_values():
    result = hand_result()
    epochs, values = tracking.over_snapshots(result, lambda H, Ws: H[:, 0], epochs=[10, 0], b=1)
    assert np.array_equal(epochs, [10, 0])
    assert values.shape == (2, 2) and np.array_equal(values, [[201, 201], [1, 1]])
    with pytest.raises(KeyError, match="no snapshot at epoch 7"):
        tracking.over_snapshots(result, lambda H, Ws: 0.0, epochs=[7])


def test_over_snapshots_on_a_real_run():
    config = ufm.UFMConfig(K=2, n=2, d=3, L=2)
    result = ufm.train(config, 20, 0.1, snapshots=(0, 10), progress=False)
    epochs, values = tracking.over_snapshots(result, lambda H, Ws: ufm.objective(H, Ws, config))
    assert np.array_equal(epochs, [0, 10, 20])
    logged = dict(zip(result.loss_epochs.tolist(), result.loss[:, 0], strict=True))
    assert np.allclose(values, [logged[e] for e in (0, 10, 20)], rtol=1e-12, atol=0)


def test_relative_gap_by_hand():
    assert np.allclose(tracking.relative_gap([1.0, 3.0, 2.2], 2.0), [0.5, 0.5, 0.1])
    assert np.allclose(tracking.relative_gap([-1.0], -2.0), [0.5])
