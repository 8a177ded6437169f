"""The experiments' settings in both profiles, and the runs they define.

Every ``*_setting`` function of :mod:`dnc.experiments.paper_a` is found by name, so a setting added later
is checked too: sizes valid, regularisation below paper A's threshold (where the chapters expect
collapse), the analysed layer inside 1..L, every epoch an analysis asks for stored as a snapshot.
The paper profile is checked here too (the unit tests otherwise only ever build quick sizes), and
against the sizes that paper A states (full text: /work/shared/seeds/003_…, §5.1–5.2, Figs 5–6).
"""

import inspect
import warnings

import numpy as np
import pytest

from dnc import profile, ufm
from dnc.experiments import paper_a as experiments

PROFILES = ("quick", "paper")
SETTINGS = sorted(
    name
    for name, fn in inspect.getmembers(experiments, inspect.isfunction)
    if name.endswith("_setting") and fn.__module__ == experiments.__name__
)
RUNS = sorted(
    name
    for name, fn in inspect.getmembers(experiments, inspect.isfunction)
    if name.endswith("_run") and fn.__module__ == experiments.__name__
)

# Paper A's stated sizes (§5.1: K = 3, d = 60, n = 40, L = 5, l = 3; Figs 5 and 6 at 2000 and
# 25000 epochs; §5.2: d = 65, l = 4, 10⁶ epochs, the rest unchanged). The book's own settings
# (the λ sweep, the varied-λ run) state no paper sizes and are checked by the generic test only.
PAPER_A = {
    "deep_linear_setting": dict(K=3, n=40, d=60, L=5, layer=3, knockout_epochs=(2000, 25000)),
    "relu_setting": dict(K=3, n=40, d=65, L=5, layer=4, epochs=1_000_000, activation="relu"),
}


def test_settings_are_discovered():
    assert {"one_layer_setting", "deep_linear_setting", "relu_setting", "sweep_setting"} <= set(
        SETTINGS
    )
    assert {"one_layer_run", "deep_linear_run", "relu_run"} <= set(RUNS)


def setting_of(name, which):
    return getattr(experiments, name)(profile=which)


@pytest.mark.parametrize("which", PROFILES)
@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_consistent(name, which):
    s = setting_of(name, which)
    if isinstance(s, dict):  # a sweep: sizes and ratios of condition (2)
        widths = s["widths"] if "widths" in s else (s["d"],)  # a phase diagram has several
        assert len(widths) >= 1
        for d in widths:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # d < K warns why DNC cannot hold
                cfg = ufm.UFMConfig(K=s["K"], n=s["n"], d=d, L=s["L"])  # validates the sizes
        ratios = np.asarray(s["ratios"])
        assert (ratios < 1).any() and (ratios > 1).any(), "the sweep must cross the threshold"
        assert s["epochs"] >= 1 and s["lr"] > 0 and cfg.N == s["K"] * s["n"]
        return
    assert isinstance(s, experiments.Setting)
    c = s.config
    # The chapters expect collapse: condition (2) (closed form in dnc.ufm.model, for the MSE loss it
    # was derived for) must hold.
    if c.loss == "mse":
        ratio = ufm.regularisation_ratio(c.K, c.n, c.lambda_W_list, c.lambda_H)
        assert ratio < 1, f"{name} ({which}) is above the threshold: ratio {ratio:.3g}"
        assert ufm.linear_optimum(c.K, c.n, c.lambda_W_list, c.lambda_H).collapsed
    assert 1 <= s.layer <= c.L
    assert s.epochs >= 1 and s.lr > 0
    asked = set(s.figure_epochs) | set(s.early_epochs) | set(s.knockout_epochs)
    asked |= set(s.log_epochs)
    assert all(0 <= e <= s.epochs for e in asked)
    assert asked | {0, s.epochs} == set(s.snapshots)
    assert list(s.snapshots) == sorted(s.snapshots)
    # a learning rate GD can take at initialisation: one step must not blow the loss up
    result = ufm.train(c, 1, s.lr, progress=False) if c.d * c.N <= 4000 else None
    if result is not None:
        assert result.loss[1, 0] < result.loss[0, 0]


@pytest.mark.parametrize("name", sorted(PAPER_A))
def test_paper_profile_has_paper_a_sizes(name):
    s = setting_of(name, "paper")
    want = dict(PAPER_A[name])
    if isinstance(s, dict):
        for key, value in want.items():
            assert s[key] == value, key
        return
    for key in ("K", "n", "d", "L", "activation"):
        if key in want:
            assert getattr(s.config, key) == want.pop(key), key
    for key, value in want.items():
        assert getattr(s, key) == value, key


def test_profiles_differ_and_env_selects_paper(monkeypatch):
    monkeypatch.setenv("DNC_PROFILE", "paper")
    assert profile.current() == "paper"
    for name in SETTINGS:
        assert setting_of(name, None) == setting_of(name, "paper")
    monkeypatch.setenv("DNC_PROFILE", "quick")
    for name in SETTINGS:
        assert setting_of(name, None) == setting_of(name, "quick")
    assert experiments.deep_linear_setting("quick") != experiments.deep_linear_setting("paper")


def test_deep_linear_figure_epochs_are_the_papers_fractions():
    s = experiments.deep_linear_setting("paper")
    assert s.figure_epochs == (0, 100, 1000, 5000, 30000)
    assert s.early_epochs[0] == 0 and s.early_epochs[-1] == 2000 and len(s.early_epochs) == 41


def test_varied_lambda_setting_has_distinct_layer_decays():
    for which in PROFILES:
        c = experiments.varied_lambda_setting(which).config
        assert len(set(c.lambda_W_list)) == c.L and c.lambda_H not in c.lambda_W_list


@pytest.mark.parametrize("L", [1, 2, 5])
@pytest.mark.parametrize("ratio", [0.1, 1.0, 7.0])
def test_lambda_for_ratio_inverts_condition_2(L, ratio):
    lam = experiments.lambda_for_ratio(3, 10, L, ratio)
    # condition (2) as paper A prints it, both sides raised to the L-th power
    lhs = 3**L * 3 * 10 * lam ** (L + 1)
    rhs = ((L - 1) ** (L - 1) if L > 1 else 1.0) / L ** (2 * L)
    assert lhs / rhs == pytest.approx(ratio, rel=1e-12)


@pytest.mark.parametrize("name", RUNS)
def test_every_run_trains_its_setting(name, monkeypatch):
    """Each *_run passes its setting's config, epochs, lr and snapshots on to train_cached."""
    calls = []
    monkeypatch.setattr(experiments, "train_cached", lambda *a, **k: calls.append((a, k)))
    getattr(experiments, name)()
    setting = setting_of(name.removesuffix("_run") + "_setting", None)
    ((args, kwargs),) = calls
    assert args == (setting.config, setting.epochs, setting.lr)
    assert tuple(kwargs["snapshots"]) == setting.snapshots
    assert kwargs["log_every"] == max(1, setting.epochs // 2000)


def test_one_layer_run_reaches_the_closed_form_optimum():
    """A real (quick) run: snapshots where the setting asks, and the final objective at the
    closed-form minimum of eq. (1)."""
    s = experiments.one_layer_setting("quick")
    result = experiments.one_layer_run("quick")
    assert tuple(result.snapshot_epochs) == s.snapshots
    c = s.config
    optimum = ufm.optimal_loss(c.K, c.n, c.lambda_W_list, c.lambda_H)
    assert result.final_loss[0] == pytest.approx(optimum, rel=1e-6)
    H, Ws = result.params(s.epochs)
    assert ufm.objective(H, Ws, c) == pytest.approx(result.final_loss[0], rel=1e-12)


def test_regularisation_sweep_on_a_small_setting(monkeypatch):
    small = dict(K=2, n=3, d=3, L=2, epochs=4000, lr=1.0, ratios=(0.2, 5.0))
    monkeypatch.setattr(experiments, "sweep_setting", lambda profile=None: small)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sweep silences the above-threshold warning itself
        out = experiments.regularisation_sweep()
    assert list(out["ratio"]) == [0.2, 5.0]
    for i, ratio in enumerate(out["ratio"]):
        lam = out["lam"][i]
        assert ufm.regularisation_ratio(2, 3, [lam] * 2, lam) == pytest.approx(ratio, rel=1e-12)
        opt = ufm.linear_optimum(2, 3, [lam] * 2, lam)
        assert out["s_optimal"][i] == opt.product_sv and out["loss_optimal"][i] == opt.loss
        assert out["loss"][i] == pytest.approx(opt.loss, rel=1e-6)
        assert out["s_learned"][i].shape == (2,)
        assert np.allclose(out["s_learned"][i], opt.product_sv, atol=1e-4 * np.sqrt(3))
    assert out["s_optimal"][0] > 0.5 and out["s_optimal"][1] == 0.0
