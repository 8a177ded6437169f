import numpy as np
import pytest
import torch

from dnc import cache, train, ufm


def autograd_gradients(config, H, Ws):
    """Gradients of the data term of eq. (1) by torch autograd (float64)."""
    Ht = torch.tensor(H, requires_grad=True)
    Wt = [torch.tensor(W, requires_grad=True) for W in Ws]
    x = Ht
    for l, W in enumerate(Wt):
        x = W @ x
        if config.activation == "relu" and l < len(Wt) - 1:
            x = x.clamp_min(0.0)
    Y = torch.tensor(ufm.targets(config.K, config.n))
    loss = ((x - Y) ** 2).sum() / (2 * config.N)
    loss.backward()
    return Ht.grad.numpy(), [W.grad.numpy() for W in Wt]


@pytest.mark.parametrize("seeds", [(0, 1), (2,)], ids=["batch", "single"])
@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_closed_form_step_matches_autograd(activation, seeds):
    config = ufm.UFMConfig(
        K=3, n=4, d=7, L=4, lambda_W=[1e-3, 2e-3, 3e-3, 4e-3], lambda_H=5e-3, activation=activation
    )
    H, Ws = train.initial_params(config, seeds=seeds, device="cpu")
    before = [H.clone()] + [W.clone() for W in Ws]
    lr = 0.3
    stepper = train.Stepper(config, lr, H)
    loss = stepper.step(H, Ws)
    assert loss.shape == (len(seeds),)
    assert torch.allclose(loss, stepper.data_loss(before[0], before[1:]), rtol=1e-14, atol=0)
    decays = [stepper.decay_H] + stepper.decay_W
    for b in range(len(seeds)):
        gH, gWs = autograd_gradients(
            config, before[0][b].numpy(), [W[b].numpy() for W in before[1:]]
        )
        for old, new, decay, g in zip(before, [H] + Ws, decays, [gH] + gWs, strict=True):
            closed = (decay * old[b] - new[b]).numpy() / lr
            assert np.max(np.abs(closed - g)) < 1e-12


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_recorded_loss_is_the_objective(activation):
    config = ufm.UFMConfig(K=2, n=3, d=4, L=3, activation=activation, lambda_W=1e-2, lambda_H=1e-2)
    result = train.train(config, 50, 0.1, snapshots=(0, 20), log_every=10)
    for epoch in (0, 20, 50):
        H, Ws = result.params(epoch)
        recorded = result.loss[list(result.loss_epochs).index(epoch), 0]
        assert recorded == pytest.approx(ufm.objective(H, Ws, config), rel=1e-12)


def test_seeds_reproducible_and_batch_equals_single_runs():
    config = ufm.UFMConfig(K=3, n=2, d=5, L=3, activation="relu")
    batch = train.train(config, 30, 0.2, seeds=(4, 5))
    for b, seed in enumerate((4, 5)):
        single = train.train(config, 30, 0.2, seeds=(seed,))
        assert np.allclose(batch.H[-1, b], single.H[-1, 0], rtol=0, atol=1e-13)
    again = train.train(config, 30, 0.2, seeds=(4, 5))
    assert np.array_equal(again.H, batch.H)
    assert not np.allclose(batch.H[-1, 0], batch.H[-1, 1])


def test_divergence_stops_with_advice():
    config = ufm.UFMConfig(K=3, n=4, d=6, L=3)
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        train.train(config, 2000, 50.0)


def test_bad_arguments():
    config = ufm.UFMConfig(K=3, n=4, d=6, L=3)
    with pytest.raises(ValueError, match="learning rate"):
        train.train(config, 10, -0.1)
    with pytest.raises(ValueError, match="epochs"):
        train.train(config, 2.5, 0.1)
    with pytest.raises(ValueError, match="snapshot epochs"):
        train.train(config, 10, 0.1, snapshots=(20,))


def test_warns_above_threshold():
    config = ufm.UFMConfig(K=3, n=4, d=6, L=3, lambda_W=0.5, lambda_H=0.5)
    with pytest.warns(UserWarning, match="zero solution"):
        train.train(config, 1, 0.01)


class KilledAfterFirstSave(cache.Checkpoint):
    """A checkpoint whose run is 'killed' right after the first save."""

    def save(self, arrays, meta=None):
        super().save(arrays, meta)
        raise KeyboardInterrupt


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_resume_after_interruption_gives_the_same_run(tmp_path, activation):
    config = ufm.UFMConfig(K=3, n=3, d=5, L=3, activation=activation)
    full = train.train(config, 300, 0.2, snapshots=(0, 100, 200), log_every=7)
    path = tmp_path / "run.ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        train.train(
            config,
            300,
            0.2,
            snapshots=(0, 100, 200),
            log_every=7,
            checkpoint=KilledAfterFirstSave(path),
            checkpoint_seconds=0.0,
        )
    assert path.exists()
    resumed = train.train(
        config,
        300,
        0.2,
        snapshots=(0, 100, 200),
        log_every=7,
        checkpoint=cache.Checkpoint(path),
        checkpoint_seconds=1e9,
    )
    assert np.array_equal(resumed.snapshot_epochs, full.snapshot_epochs)
    assert np.array_equal(resumed.loss_epochs, full.loss_epochs)
    assert np.allclose(resumed.H, full.H, rtol=0, atol=0)
    assert np.allclose(resumed.loss, full.loss, rtol=0, atol=0)


def test_train_cached_reads_back_without_training(monkeypatch):
    config = ufm.UFMConfig(K=2, n=2, d=3, L=2)
    first = train.train_cached(config, 20, 0.1, snapshots=(5,))

    def fail(*args, **kwargs):
        raise AssertionError("trained again instead of reading the cache")

    monkeypatch.setattr(train, "train", fail)
    second = train.train_cached(config, 20, 0.1, snapshots=(5,))
    assert np.array_equal(first.H, second.H) and second.config == config


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_batch_of_lambdas_equals_single_runs(activation):
    config = ufm.UFMConfig(K=3, n=2, d=5, L=3, activation=activation)
    lambdas = [(1e-3, 2e-3), ([1e-2, 2e-3, 5e-3], 1e-3), (3e-3, 3e-3)]
    batch = train.train(config, 40, 0.2, snapshots=(10,), log_every=10, lambdas=lambdas)
    assert batch.seeds == (config.seed,) * 3
    for b, (lam_W, lam_H) in enumerate(lambdas):
        own = ufm.UFMConfig(
            K=3, n=2, d=5, L=3, activation=activation, lambda_W=lam_W, lambda_H=lam_H
        )
        assert batch.config_of(b) == own
        single = train.train(own, 40, 0.2, snapshots=(10,), log_every=10)
        assert np.allclose(batch.H[:, b], single.H[:, 0], rtol=0, atol=1e-13)
        for Wb, Ws in zip(batch.Ws, single.Ws, strict=True):
            assert np.allclose(Wb[:, b], Ws[:, 0], rtol=0, atol=1e-13)
        # the logged objective uses each model's own λ's
        H, Ws = batch.params(40, b)
        assert batch.loss[-1, b] == pytest.approx(ufm.objective(H, Ws, own), rel=1e-12)
    # different λ's from one initialisation end in different places
    assert not np.allclose(batch.H[-1, 0], batch.H[-1, 1])


def test_batch_of_lambdas_is_cached_with_its_lambdas(tmp_path, monkeypatch):
    monkeypatch.setenv("DNC_CACHE_DIR", str(tmp_path))
    config = ufm.UFMConfig(K=2, n=2, d=3, L=2)
    lambdas = [(1e-3, 1e-3), (2e-3, 1e-3)]
    first = train.train_cached(config, 5, 0.1, lambdas=lambdas, progress=False)
    again = train.train_cached(config, 5, 0.1, lambdas=lambdas, progress=False)
    assert np.array_equal(first.H, again.H)
    assert again.config_of(1).lambda_W == (2e-3, 2e-3)
    other = train.train_cached(config, 5, 0.1, lambdas=lambdas[::-1], progress=False)
    assert np.array_equal(other.H[:, 0], first.H[:, 1])


def test_bad_lambdas():
    config = ufm.UFMConfig(K=3, n=2, d=4, L=2)
    with pytest.raises(ValueError, match="pairs"):
        train.train(config, 1, 0.1, lambdas=[1e-3, 2e-3])
    with pytest.raises(ValueError, match="2 seeds for 3"):
        train.train(config, 1, 0.1, seeds=(0, 1), lambdas=[(1e-3, 1e-3)] * 3)
    with pytest.raises(ValueError, match="lambda_H"):
        train.train(config, 1, 0.1, lambdas=[(1e-3, -1.0)])
    with pytest.raises(ValueError, match="one per layer"):
        train.train(config, 1, 0.1, lambdas=[([1e-3] * 3, 1e-3)])
    H, _ = train.initial_params(config, seeds=(0, 1))
    wider = ufm.UFMConfig(K=3, n=2, d=5, L=2)
    with pytest.raises(ValueError, match="same K, n, d"):
        train.Stepper(config, 0.1, H, configs=[config, wider])
