"""The command line: `python -m dnc code-version`, and `figure all` over the whole registry.

`figure all` for real retrains every experiment of the book (many minutes in the quick profile,
hours in the paper one), so here every registered figure function is replaced by a cheap stand-in:
the test checks that `all` reaches each registered name with the profile asked for, saves each
(PNG and PDF; the first two for real) and closes it. One real figure is regenerated end to end in test_book_setup.py.
"""

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from dnc import __main__ as cli  # noqa: E402
from dnc import cache, figures  # noqa: E402
from dnc.figures import registry  # noqa: E402


def test_code_version_prints_the_cache_hash(tmp_path):
    env = {**os.environ, "DNC_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "dnc", "code-version"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"[0-9a-f]{16}\n", out.stdout)
    assert out.stdout.strip() == cache.code_version()


def test_code_version_in_process(capsys):
    assert cli.main(["code-version"]) == 0
    assert capsys.readouterr().out.strip() == cache.code_version()


def test_figure_all_makes_every_registered_figure(tmp_path, monkeypatch, capsys):
    names = list(cli._registry())
    assert len(names) >= 10
    made = []

    def stand_in(name):
        def draw(profile=None):
            made.append((name, profile))
            fig, ax = plt.subplots(figsize=(2, 2))
            ax.plot([0, 1], [0, 1])
            return fig

        return draw

    saved = []
    real_save = figures.save

    def save(fig, out_dir, name):
        """Really save the first two (PNG and PDF); only record the rest (savefig is slow)."""
        saved.append((name, plt.fignum_exists(fig.number)))
        if len(saved) <= 2:
            return real_save(fig, out_dir, name)
        return [Path(out_dir) / f"{name}.png", Path(out_dir) / f"{name}.pdf"]

    for name, spec in list(registry.REGISTRY.items()):
        monkeypatch.setitem(registry.REGISTRY, name, replace(spec, function=stand_in(name)))
    monkeypatch.setattr(figures, "save", save)
    out = tmp_path / "figs"
    assert cli.main(["figure", "all", "--profile", "quick", "--out", str(out)]) == 0
    assert made == [(name, "quick") for name in names]
    assert saved == [(name, True) for name in names]  # each saved while still open
    printed = capsys.readouterr().out.split()
    for name in names:
        assert str(out / f"{name}.png") in printed and str(out / f"{name}.pdf") in printed
    for name in names[:2]:
        for suffix in ("png", "pdf"):
            assert (out / f"{name}.{suffix}").stat().st_size > 500
    assert plt.get_fignums() == []  # every figure closed after saving


def test_list_in_process(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(registry.REGISTRY)
    for spec in registry.REGISTRY.values():
        assert any(line.startswith(spec.name) and spec.label in line for line in lines)


def test_a_bad_profile_is_refused_before_anything_is_computed(monkeypatch, capsys):
    monkeypatch.setenv("DNC_PROFILE", "bogus")
    monkeypatch.setattr(cli, "_registry", lambda: (_ for _ in ()).throw(AssertionError("ran")))
    assert cli.main(["figure", "random_feature_distance_ratio"]) == 2
    assert "DNC_PROFILE" in capsys.readouterr().err


def test_an_out_that_is_a_file_is_refused_before_the_figure_is_made(tmp_path, monkeypatch, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    monkeypatch.setattr(cli, "_registry", lambda: (_ for _ in ()).throw(AssertionError("ran")))
    assert cli.main(["figure", "class_mean_gram", "--out", str(target)]) == 2
    assert f"--out {target} is a file" in capsys.readouterr().err


def test_prefetch_jobs_from_the_environment_are_checked_by_name(monkeypatch, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import build_book

    monkeypatch.setenv("DNC_PREFETCH_JOBS", "0")
    assert build_book.main() == 2
    assert "DNC_PREFETCH_JOBS='0' must be a whole number >= 1" in capsys.readouterr().out
