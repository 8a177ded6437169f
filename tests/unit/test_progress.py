"""Progress where people look (dnc.progress): bars in a terminal or Jupyter, lines in a log."""

import numpy as np
import pytest

from dnc import progress, ufm
from dnc.agop import mlp, rfm


def test_a_redirected_run_logs_lines_and_ends_at_100_percent(monkeypatch, capsys):
    monkeypatch.setenv("DNC_PROGRESS", "auto")  # stderr is captured here, not a terminal
    monkeypatch.setenv("DNC_PROGRESS_SECONDS", "1000")
    ufm.train(ufm.UFMConfig(K=2, n=2, d=3, L=2), 1500, 0.1)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("[linear UFM d=3 L=2] 1500/1500 (100%)")


def test_the_mlp_and_deep_rfm_report_progress(monkeypatch, capsys):
    monkeypatch.setenv("DNC_PROGRESS", "log")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 4)), np.repeat(np.arange(3), 4)
    mlp.train_mlp(X, y, width=8, depth=2, epochs=3, batch_size=4, record_every=3)
    rfm.deep_rfm(X, y, layers=2, width=8)
    err = capsys.readouterr().err
    assert "[MLP width 8 depth 2 seed 0] 3/3 (100%)" in err
    assert "[Deep RFM N=12 width 8] 2/2 (100%)" in err


def test_off_and_progress_false_are_silent(monkeypatch, capsys):
    monkeypatch.setenv("DNC_PROGRESS", "off")
    ufm.train(ufm.UFMConfig(K=2, n=2, d=3, L=2), 10, 0.1)
    monkeypatch.setenv("DNC_PROGRESS", "log")
    ufm.train(ufm.UFMConfig(K=2, n=2, d=3, L=2), 10, 0.1, progress=False)
    assert capsys.readouterr().err == ""


def test_a_terminal_or_jupyter_gets_a_bar(monkeypatch):
    monkeypatch.setenv("DNC_PROGRESS", "auto")
    monkeypatch.setattr(progress, "_in_jupyter", lambda: True)
    shown = progress.bar(10, "x")
    assert shown.__class__.__name__ != "_LogLines" and shown.total == 10
    shown.close()


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("DNC_PROGRESS", "loud", r"DNC_PROGRESS='loud' must be one of"),
        ("DNC_PROGRESS_SECONDS", "-5", r"DNC_PROGRESS_SECONDS='-5' must be a positive number"),
    ],
)
def test_bad_settings_are_named(monkeypatch, variable, value, message):
    monkeypatch.setenv("DNC_PROGRESS", "log")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        progress.bar(10, "x")
