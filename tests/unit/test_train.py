import numpy as np
import pytest
import torch

from dnc import cache, ufm


def paper_objective(H, Ws, lambda_W, lambda_H, activation, K, n):
    """Paper A eq. (1), written out here independently of the library (torch, float64):
    1/(2Kn) ‖W_L σ(⋯σ(W_1 H_1)) − Y‖_F² + Σ_l ½λ_{W_l}‖W_l‖_F² + ½λ_{H_1}‖H_1‖_F², Y = I_K ⊗ 1_nᵀ."""
    x = H
    for l, W in enumerate(Ws):
        x = W @ x
        if activation == "relu" and l < len(Ws) - 1:
            x = torch.relu(x)
    Y = torch.kron(torch.eye(K, dtype=torch.float64), torch.ones(1, n, dtype=torch.float64))
    data = ((x - Y) ** 2).sum() / (2 * K * n)
    reg = sum(0.5 * lam * (W**2).sum() for lam, W in zip(lambda_W, Ws, strict=True))
    return data + reg + 0.5 * lambda_H * (H**2).sum()


def objective_step(H, Ws, lambda_W, lambda_H, activation, K, n, lr):
    """(objective, params − lr·∇objective) by autograd of :func:`paper_objective`."""
    params = [torch.tensor(p, requires_grad=True) for p in [H, *Ws]]
    value = paper_objective(params[0], params[1:], lambda_W, lambda_H, activation, K, n)
    grads = torch.autograd.grad(value, params)
    return value.item(), [(p - lr * g).detach().numpy() for p, g in zip(params, grads, strict=True)]


# Decays differ on every layer and between models, and are large enough that a change of 1e-3 in
# one of them moves the step far beyond the tolerance (lr·λ·1e-3·|W| ~ 1e-6 ≫ 1e-12).
LAMBDAS = [
    ([0.011, 0.023, 0.037, 0.041], 0.052),
    ([0.031, 0.007, 0.019, 0.013], 0.029),
    ([0.005, 0.044, 0.017, 0.026], 0.011),
]


@pytest.mark.parametrize("path", ["single", "shared batch", "lambdas batch"])
@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_one_step_is_gradient_descent_on_the_full_objective(activation, path):
    """train() as a black box: parameters after one step equal params − lr·∇(eq. 1) by autograd,
    and the objective it logs at epoch 0 equals eq. (1); nothing is read from the stepper."""
    K, n, d, L, lr = 3, 4, 7, 4, 0.3
    lam_W, lam_H = LAMBDAS[0]
    config = ufm.UFMConfig(
        K=K, n=n, d=d, L=L, lambda_W=lam_W, lambda_H=lam_H, activation=activation
    )
    kwargs = {
        "single": dict(seeds=(2,)),
        "shared batch": dict(seeds=(0, 1)),
        "lambdas batch": dict(seeds=(3, 4, 5), lambdas=LAMBDAS),
    }[path]
    result = ufm.train(config, 1, lr, snapshots=(0,), progress=False, **kwargs)
    models = len(kwargs["seeds"])
    assert result.H.shape[:2] == (2, models)
    for b in range(models):
        lam_W_b, lam_H_b = LAMBDAS[b] if path == "lambdas batch" else (lam_W, lam_H)
        H0, Ws0 = result.params(0, b)
        H1, Ws1 = result.params(1, b)
        value, expected = objective_step(H0, Ws0, lam_W_b, lam_H_b, activation, K, n, lr)
        for got, want in zip([H1, *Ws1], expected, strict=True):
            assert np.max(np.abs(got - want)) < 1e-12
        assert result.loss[0, b] == pytest.approx(value, rel=1e-13)
        assert result.loss[1, b] == pytest.approx(
            objective_step(H1, Ws1, lam_W_b, lam_H_b, activation, K, n, lr)[0], rel=1e-13
        )


def test_stepper_returns_the_data_term_before_the_step():
    config = ufm.UFMConfig(K=3, n=4, d=7, L=4, lambda_W=LAMBDAS[0][0], lambda_H=LAMBDAS[0][1])
    H, Ws = ufm.initial_params(config, seeds=(0, 1), device="cpu")
    before = [H.clone()] + [W.clone() for W in Ws]
    loss = ufm.Stepper(config, 0.3, H).step(H, Ws)
    assert loss.shape == (2,)
    for b in range(2):
        out = before[0][b].numpy()
        for W in before[1:]:
            out = W[b].numpy() @ out
        data = np.sum((out - np.kron(np.eye(3), np.ones((1, 4)))) ** 2) / (2 * 3 * 4)
        assert loss[b].item() == pytest.approx(data, rel=1e-13)


def test_initialisation_scale_and_seeding():
    """Entries of W_l ~ N(0, s²/d_{l−1}) and of H_1 ~ N(0, s²/d): empirical variances within 5%."""
    config = ufm.UFMConfig(K=3, n=300, d=40, L=2, init_scale=2.0)
    H, Ws = ufm.initial_params(config, seeds=(0,), device="cpu")
    assert H.shape == (1, 40, 900) and [tuple(W.shape) for W in Ws] == [(1, 40, 40), (1, 3, 40)]
    assert H.var().item() == pytest.approx(4.0 / 40, rel=0.05)
    assert Ws[0].var().item() == pytest.approx(4.0 / 40, rel=0.1)
    again, _ = ufm.initial_params(config, seeds=(0,), device="cpu")
    other, _ = ufm.initial_params(config, seeds=(1,), device="cpu")
    assert torch.equal(H, again) and not torch.equal(H, other)


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_recorded_loss_is_the_objective(activation):
    config = ufm.UFMConfig(K=2, n=3, d=4, L=3, activation=activation, lambda_W=1e-2, lambda_H=1e-2)
    result = ufm.train(config, 50, 0.1, snapshots=(0, 20), log_every=10)
    for epoch in (0, 20, 50):
        H, Ws = result.params(epoch)
        recorded = result.loss[list(result.loss_epochs).index(epoch), 0]
        want = paper_objective(
            torch.tensor(H),
            [torch.tensor(W) for W in Ws],
            config.lambda_W_list,
            config.lambda_H,
            activation,
            config.K,
            config.n,
        )
        assert recorded == pytest.approx(want.item(), rel=1e-12)


def test_seeds_reproducible_and_batch_equals_single_runs():
    config = ufm.UFMConfig(K=3, n=2, d=5, L=3, activation="relu")
    batch = ufm.train(config, 30, 0.2, seeds=(4, 5))
    for b, seed in enumerate((4, 5)):
        single = ufm.train(config, 30, 0.2, seeds=(seed,))
        assert np.allclose(batch.H[-1, b], single.H[-1, 0], rtol=0, atol=1e-13)
    again = ufm.train(config, 30, 0.2, seeds=(4, 5))
    assert np.array_equal(again.H, batch.H)
    assert not np.allclose(batch.H[-1, 0], batch.H[-1, 1])


def test_divergence_stops_with_advice():
    config = ufm.UFMConfig(K=3, n=4, d=6, L=3)
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        ufm.train(config, 2000, 50.0)


def test_bad_arguments():
    config = ufm.UFMConfig(K=3, n=4, d=6, L=3)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        ufm.train(config, 10, -0.1)
    with pytest.raises(ValueError, match="epochs"):
        ufm.train(config, 2.5, 0.1)
    with pytest.raises(ValueError, match="snapshot epochs"):
        ufm.train(config, 10, 0.1, snapshots=(20,))


def test_warns_above_threshold():
    config = ufm.UFMConfig(K=3, n=4, d=6, L=3, lambda_W=0.5, lambda_H=0.5)
    with pytest.warns(UserWarning, match="zero solution"):
        ufm.train(config, 1, 0.01)


class KilledAfterFirstSave(cache.Checkpoint):
    """A checkpoint whose run is 'killed' right after the first save."""

    def save(self, arrays, meta=None):
        super().save(arrays, meta)
        raise KeyboardInterrupt


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_resume_after_interruption_gives_the_same_run(tmp_path, activation):
    config = ufm.UFMConfig(K=3, n=3, d=5, L=3, activation=activation)
    full = ufm.train(config, 300, 0.2, snapshots=(0, 100, 200), log_every=7)
    path = tmp_path / "run.ckpt.npz"
    with pytest.raises(KeyboardInterrupt):
        ufm.train(
            config,
            300,
            0.2,
            snapshots=(0, 100, 200),
            log_every=7,
            checkpoint=KilledAfterFirstSave(path),
            checkpoint_seconds=0.0,
        )
    assert path.exists()
    resumed = ufm.train(
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
    first = ufm.train_cached(config, 20, 0.1, snapshots=(5,))

    def fail(*args, **kwargs):
        raise AssertionError("trained again instead of reading the cache")

    # (not train itself: replacing a function the run executes changes its cache key)
    monkeypatch.setattr(cache, "save_arrays", fail)
    second = ufm.train_cached(config, 20, 0.1, snapshots=(5,))
    assert np.array_equal(first.H, second.H) and second.config == config


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_batch_of_lambdas_equals_single_runs(activation):
    config = ufm.UFMConfig(K=3, n=2, d=5, L=3, activation=activation)
    lambdas = [(1e-3, 2e-3), ([1e-2, 2e-3, 5e-3], 1e-3), (3e-3, 3e-3)]
    batch = ufm.train(config, 40, 0.2, snapshots=(10,), log_every=10, lambdas=lambdas)
    assert batch.seeds == (config.seed,) * 3
    for b, (lam_W, lam_H) in enumerate(lambdas):
        own = ufm.UFMConfig(
            K=3, n=2, d=5, L=3, activation=activation, lambda_W=lam_W, lambda_H=lam_H
        )
        assert batch.config_of(b) == own
        single = ufm.train(own, 40, 0.2, snapshots=(10,), log_every=10)
        assert np.allclose(batch.H[:, b], single.H[:, 0], rtol=0, atol=1e-13)
        for Wb, Ws in zip(batch.Ws, single.Ws, strict=True):
            assert np.allclose(Wb[:, b], Ws[:, 0], rtol=0, atol=1e-13)
        # the logged objective uses each model's own λ's
        H, Ws = batch.params(40, b)
        want = paper_objective(
            torch.tensor(H),
            [torch.tensor(W) for W in Ws],
            own.lambda_W_list,
            lam_H,
            activation,
            3,
            2,
        )
        assert batch.loss[-1, b] == pytest.approx(want.item(), rel=1e-12)
    # different λ's from one initialisation end in different places
    assert not np.allclose(batch.H[-1, 0], batch.H[-1, 1])


def test_batch_of_lambdas_is_cached_with_its_lambdas(tmp_path, monkeypatch):
    monkeypatch.setenv("DNC_CACHE_DIR", str(tmp_path))
    config = ufm.UFMConfig(K=2, n=2, d=3, L=2)
    lambdas = [(1e-3, 1e-3), (2e-3, 1e-3)]
    first = ufm.train_cached(config, 5, 0.1, lambdas=lambdas, progress=False)
    again = ufm.train_cached(config, 5, 0.1, lambdas=lambdas, progress=False)
    assert np.array_equal(first.H, again.H)
    assert again.config_of(1).lambda_W == (2e-3, 2e-3)
    other = ufm.train_cached(config, 5, 0.1, lambdas=lambdas[::-1], progress=False)
    assert np.array_equal(other.H[:, 0], first.H[:, 1])


def test_bad_lambdas():
    config = ufm.UFMConfig(K=3, n=2, d=4, L=2)
    with pytest.raises(ValueError, match="pairs"):
        ufm.train(config, 1, 0.1, lambdas=[1e-3, 2e-3])
    with pytest.raises(ValueError, match="2 seeds for 3"):
        ufm.train(config, 1, 0.1, seeds=(0, 1), lambdas=[(1e-3, 1e-3)] * 3)
    with pytest.raises(ValueError, match="lambda_H"):
        ufm.train(config, 1, 0.1, lambdas=[(1e-3, -1.0)])
    with pytest.raises(ValueError, match="one per layer"):
        ufm.train(config, 1, 0.1, lambdas=[([1e-3] * 3, 1e-3)])
    H, _ = ufm.initial_params(config, seeds=(0, 1))
    wider = ufm.UFMConfig(K=3, n=2, d=5, L=2)
    with pytest.raises(ValueError, match="same K, n, d"):
        ufm.Stepper(config, 0.1, H, configs=[config, wider])
