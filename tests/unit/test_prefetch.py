"""dnc.experiments.runs: the registry of long runs, computed in worker processes through the cache."""

import os
from pathlib import Path

import numpy as np
import pytest

from dnc.experiments import paper_a as experiments
from dnc.experiments import paper_a_later, paper_b, realnet
from dnc.experiments import runs as prefetch


def _files(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*.npz")} if root.exists() else {}


def test_every_entry_names_a_function_of_dnc():
    assert len({r.name for r in prefetch.RUNS}) == len(prefetch.RUNS)
    for run in prefetch.RUNS:
        assert callable(run.function) and run.function.__module__.startswith("dnc."), run.name


def test_the_paper_b_runs_cover_every_seed():
    for function in (paper_b.mlp_run, paper_b.deep_rfm_run):
        seeds = {r.kwargs.get("seed") for r in prefetch.RUNS if r.function is function}
        assert set(paper_b.SEEDS) <= seeds, function.__name__


def test_the_depth_runs_are_those_of_the_depth_setting():
    registered = {r.args[0] for r in prefetch.RUNS if r.function is paper_a_later.depth_run}
    for profile in ("quick", "paper"):
        assert registered == set(paper_a_later.depth_setting(profile).totals)


def test_the_real_network_runs_are_those_of_the_chapter_setting():
    registered = {r.args for r in prefetch.RUNS if r.function is realnet.network_run}
    for profile in ("quick", "paper"):
        seeds = realnet.setting(profile).seeds
        assert registered == {(loss, s) for loss in ("mse", "ce") for s in seeds}


def test_prefetch_in_processes_fills_the_cache_that_the_chapters_read(tmp_path, monkeypatch):
    monkeypatch.setenv("DNC_PROFILE", "quick")
    cache = Path(os.environ["DNC_CACHE_DIR"])
    names = ["one_layer", "varied_lambda"]
    times = prefetch.prefetch(names, jobs=2, verbose=False)
    assert set(times) == {*names, "_wall"}
    written = _files(cache)
    assert len(written) == 2  # one stored result per run, no checkpoint left behind
    # The chapters' own calls now read those files: nothing is computed or written again.
    result = experiments.one_layer_run()
    varied = experiments.run(experiments.varied_lambda_setting())
    assert _files(cache) == written
    assert np.isfinite(result.final_loss).all() and np.isfinite(varied.final_loss).all()

    # A second prefetch is a no-op: the same files, untouched, nothing computed or stored.
    def no_store(*args, **kwargs):
        raise AssertionError("a cached run was computed again")

    monkeypatch.setattr("dnc.cache.save_arrays", no_store)
    prefetch.prefetch(names, jobs=1, verbose=False)
    assert _files(cache) == written


def test_prefetch_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown prefetch run"):
        prefetch.select(["nonexistent"])
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        prefetch.prefetch(["one_layer"], jobs=0)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        prefetch.prefetch(["one_layer"], threads=0)
