"""Tests of the evidence modules: factorisation bound, phase classification, effective rank,
Tables 1–4, and the branch end of the closed form."""

import math
import warnings

import numpy as np
import pytest

from dnc import ufm
from dnc.book import glue_table
from dnc.experiments import paper_a as experiments
from dnc.experiments import relu_tables
from dnc.spectra import effective_rank
from dnc.ufm import factorisation, train
from dnc.ufm import outcomes as phase


@pytest.mark.parametrize("q", [2, 3, 5])
def test_schatten_bound_holds_and_is_attained(q):
    gaps = factorisation.schatten_bound_gap(q, K=3, d=5, N=8, seed=q)
    assert gaps["random"] >= gaps["rescaled"] > 1e-3
    assert abs(gaps["balanced"]) < 1e-12


def test_balanced_factors_refuse_a_too_narrow_width():
    Z = np.random.default_rng(0).standard_normal((3, 6))
    with pytest.raises(ValueError, match="width d = 2"):
        factorisation.balanced_factors(Z, [1e-2] * 3, d=2)


def test_branch_end_is_where_the_local_minimum_disappears():
    K, n, L = 3, 40, 5
    end = experiments.branch_end_ratio(K, n, L)
    assert end == pytest.approx(45.5625, rel=1e-9)
    for factor, alive in ((0.999, True), (1.001, False)):
        lam = experiments.lambda_for_ratio(K, n, L, end * factor)
        assert (ufm.linear_optimum(K, n, [lam] * L, lam).local_sv > 0) is alive


def test_rank_limited_optimum_counts_dead_directions_at_half_over_K():
    K, n, lam = 3, 10, [5e-3] * 3
    full = ufm.linear_optimum(K, n, lam, 5e-3).loss
    assert phase.rank_limited_optimum(K, n, 5, lam, 5e-3) == pytest.approx(full)
    one_dead = phase.rank_limited_optimum(K, n, 2, lam, 5e-3)
    assert one_dead == pytest.approx(full * 2 / 3 + 1 / (2 * K))


def test_classify_a_trained_linear_model_and_the_zero_solution():
    config = ufm.UFMConfig(K=3, n=4, d=8, L=2, lambda_W=5e-3, lambda_H=5e-3)
    big = experiments.lambda_for_ratio(3, 4, 2, 1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = train(config, 4000, 1.0, lambdas=[(5e-3, 5e-3), (big, big)], log_every=4000)
    found = [phase.classify(result, b) for b in range(2)]
    assert found[0]["predicted"] == "collapsed optimum"
    assert found[0]["outcome"] in ("collapsed optimum", "rank-deficient stationary point")
    assert found[1]["outcome"] == found[1]["predicted"] == "zero solution"
    counts = phase.outcome_counts(
        {
            "width": np.array([8]),
            "outcome": np.array([[f["outcome"] for f in found]]),
        }
    )
    assert counts["rows"][0][0] == "d = 8" and sum(counts["rows"][0][1:]) == 2


def test_describe_disagreements_names_width_and_ratio():
    classes = {
        "width": np.array([3]),
        "ratio": np.array([0.1, 2.0]),
        "outcome": np.array([["rank-deficient stationary point", "zero solution"]]),
        "predicted": np.array([["collapsed optimum", "zero solution"]]),
    }
    text = phase.describe_disagreements(classes)
    assert text.startswith("1 run where") and "d = 3 at ratio 0.1" in text
    assert "ended at a rank-deficient stationary point" in text


def test_effective_rank_of_equal_and_zero_eigenvalues():
    assert effective_rank.effective_rank([2.0, 2.0, 2.0, 0.0, -1e-17]) == pytest.approx(3.0)
    assert 1.0 < effective_rank.effective_rank([10.0, 1.0]) < 2.0
    with pytest.raises(ValueError, match="zero matrix"):
        effective_rank.effective_rank([0.0, 0.0])
    epochs = np.array([1, 10, 100, 1000])
    assert effective_rank.approach(epochs, [9.0, 8.0, 7.0, 6.0], 6.0) == "from above"
    assert effective_rank.approach(epochs, [5.0, 4.0, 5.5, 6.0], 6.0) == "from below"
    assert effective_rank.approach(epochs, [5.0, 9.0, 5.0, 6.0], 6.0) == "from both sides"
    assert effective_rank.approach(epochs, [6.0, 6.0, 6.0, 6.0], 6.0) == "at its limit already"


def test_tables_at_the_linear_collapsed_optimum():
    """At a trained linear optimum every f_cc' is 1, the gradient lives on K eigenvectors and
    Table 3's diagonal falls by the closed form's σ_W² per layer."""
    config = ufm.UFMConfig(K=3, n=5, d=8, L=3, lambda_W=5e-3, lambda_H=5e-3)
    result = train(config, 20000, 1.0, log_every=20000)
    H1, Ws = result.params()
    tables = relu_tables.tables(H1, Ws, 2, "linear")
    assert np.all(tables["table1"] > 1 - 1e-8)
    decay = relu_tables.decay_per_layer(tables["table3"])
    assert decay == pytest.approx(relu_tables.linear_decay(config), rel=1e-6)
    assert np.all(relu_tables.diagonal_spread(tables["table3"]) < 1e-8)
    assert relu_tables.lambda_for_decay(config, relu_tables.linear_decay(config)) == pytest.approx(
        5e-3, rel=1e-6
    )


def test_table_helpers():
    assert relu_tables.number(0.0) == "0" and relu_tables.number(3.7e-3) == "3.70e-03"
    assert relu_tables.pm([[1.0], [3.0]]) == [f"2 ± {math.sqrt(2):.3g}"]
    assert relu_tables.within_seed_range([[1.0, 0.5], [2.0, 0.7]], [1.5, 0.9]) == 1
    with pytest.raises(ValueError, match="row 0 has 1 cells, the header 2"):
        glue_table("t", [["a"]], ["x", "y"])


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_evidence_settings_are_consistent(profile):
    base = experiments.relu_setting(profile)
    seeds = experiments.relu_seeds_setting(profile)
    widths = experiments.relu_width_settings(profile)
    assert len(seeds.seeds) >= 5 and seeds.config == base.config
    assert seeds.epochs <= base.epochs
    E_w = seeds.figure_epochs[0]
    assert E_w in seeds.snapshots and all(w.epochs == E_w for w in widths)
    assert len({w.config.d for w in widths} | {base.config.d}) == 3
    lr = experiments.relu_lr_setting(profile)
    assert lr.lr * lr.epochs == pytest.approx(seeds.lr * E_w) and lr.config == base.config
    for s in (experiments.phase_setting(profile), experiments.sweep_setting(profile)):
        end = experiments.branch_end_ratio(s["K"], s["n"], s["L"])
        assert max(s["ratios"]) > end and min(s["ratios"]) < 1
    phase_widths = experiments.phase_setting(profile)["widths"]
    assert min(phase_widths) < 3 and 3 in phase_widths and max(phase_widths) > 3
