"""The book's long runs, computed in parallel processes before the chapters execute.

Every entry of :data:`RUNS` holds a function (with its arguments) that computes one long run
through its own cache (:mod:`dnc.cache`) and returns; the chapters later call the same function
and only read the stored result. Adding a run is one line here.

``python -m dnc prefetch [--jobs N] [--profile quick|paper] [--only NAME ...]`` runs them, the
longest first, in ``N`` worker processes (default: the number of cores), each worker on
``threads`` CPU threads, and prints each run's time, their sum and the wall time, so that the
saving (wall / sum) is visible. A second prefetch finds everything cached and returns at once.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from dnc.experiments import ce_optimum, paper_a, paper_a_later, paper_b, probe_mlp, realnet


@dataclass(frozen=True)
class Run:
    """One long run: ``function(*args, **kwargs)`` computes it through its cache."""

    name: str
    function: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def varied_lambda_run(profile: str | None = None):
    """Chapter 2's run with a different λ on every layer.

    The setting is :func:`dnc.experiments.paper_a.varied_lambda_setting`.
    """
    return paper_a.run(paper_a.varied_lambda_setting(profile), progress=False)


# The longest first (measured at the paper profile); the order is the order of submission.
RUNS: tuple[Run, ...] = (
    Run("relu_ufm", paper_a.relu_run, kwargs={"progress": False}),
    Run("relu_seeds", paper_a.relu_seeds_run),
    Run("relu_widths", paper_a.relu_width_runs),
    Run("relu_lr", paper_a.relu_lr_run),
    Run("phase_relu", paper_a.phase_runs, ("relu",)),
    Run("phase_linear", paper_a.phase_runs, ("linear",)),
    # paper B: one entry per seed (paper_b.SEEDS), as the chapters' *_runs call them
    *(
        Run(f"deep_rfm_{data}_seed{s}", paper_b.deep_rfm_run, (data,), {"seed": s})
        for data in ("mnist", "digits")
        for s in (0, 1, 2)
    ),
    Run(
        "deep_rfm_digits_bandwidth10",
        paper_b.deep_rfm_run,
        ("digits",),
        {"bandwidth": 10.0},
    ),  # fmt: skip
    *(Run(f"paper_b_mlp_seed{s}", paper_b.mlp_run, kwargs={"seed": s}) for s in (0, 1, 2)),
    *(
        Run(f"paper_b_mlp_adam_seed{s}", paper_b.mlp_run, kwargs={"seed": s, "variant": "adam"})
        for s in (0, 1, 2)
    ),
    # the chapter "Real networks": one entry per (loss, seed) of realnet.setting()
    *(
        Run(f"realnet_{loss}_seed{s}", realnet.network_run, (loss, s))
        for loss in ("mse", "ce")
        for s in (0, 1, 2)
    ),
    # the chapter "Measure your own network": one MLP per seed, trained and probed
    *(Run(f"probe_mlp_seed{s}", probe_mlp.train_run, (s,)) for s in probe_mlp.setting().seeds),
    Run("realnet_ufm", realnet.ufm_run),
    Run("realnet_ce_ufm", realnet.ce_ufm_run),
    Run("realnet_full_hessian", realnet.full_hessian_run),
    Run("regularisation_sweep", paper_a.regularisation_sweep),
    Run("deep_linear", paper_a.deep_linear_run),
    Run("varied_lambda", varied_lambda_run),
    Run("one_layer", paper_a.one_layer_run),
    Run("cross_entropy", paper_a_later.cross_entropy_run),
    Run("ce_lowrank_sweep", ce_optimum.sweep),
    # the depth theorem's runs (paper_a_later.depth_setting().totals), one per total depth
    *(Run(f"depth_T{T}", paper_a_later.depth_run, (T,)) for T in range(12, 2, -1)),
)


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextmanager
def _thread_environment(threads: int):
    """Set the BLAS/OpenMP thread counts in the environment; restore the old values afterwards.

    Spawned workers inherit the environment before they load numpy and torch.
    """
    old = {var: os.environ.get(var) for var in _THREAD_VARIABLES}
    os.environ.update({var: str(threads) for var in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for var, value in old.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _run_one(run: Run, threads: int) -> tuple[str, float, int]:
    """Worker: compute ``run`` on ``threads`` torch threads; (name, seconds, pid)."""
    torch.set_num_threads(threads)
    start = time.perf_counter()
    run.function(*run.args, **run.kwargs)
    return run.name, time.perf_counter() - start, os.getpid()


def select(names=None) -> list[Run]:
    """The entries of :data:`RUNS` named in ``names`` (all when None).

    Raises ValueError naming every unknown name.
    """
    if names is None:
        return list(RUNS)
    known = {r.name: r for r in RUNS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown prefetch run(s) {unknown}; known: {sorted(known)}")
    return [known[n] for n in names]


def prefetch(
    names=None, jobs: int | None = None, threads: int = 1, verbose: bool = True
) -> dict[str, float]:
    """Compute the runs of :data:`RUNS` (or ``names``) through their caches in ``jobs`` processes.

    ``jobs`` defaults to the number of cores; ``jobs=1`` runs them in this process, one after the
    other. Returns each run's seconds and ``"_wall"``, the wall time of the whole prefetch.

    Raises:
        ValueError: a name is not in :data:`RUNS`, or ``jobs`` or ``threads`` is below 1.
    """
    runs = select(names)
    jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    start = time.perf_counter()
    times: dict[str, float] = {}

    def report(name, seconds):
        times[name] = seconds
        if verbose:
            print(f"[prefetch] {name:<24} {seconds:8.1f} s", flush=True)

    if jobs == 1:
        for run in runs:
            name, seconds, _ = _run_one(run, threads)
            report(name, seconds)
    else:
        # spawn: a fresh interpreter per worker, which reads its thread counts as it loads torch.
        context = multiprocessing.get_context("spawn")
        with _thread_environment(threads), ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = [pool.submit(_run_one, run, threads) for run in runs]
            for future in as_completed(futures):
                name, seconds, _ = future.result()
                report(name, seconds)
    wall = time.perf_counter() - start
    if verbose:
        total = sum(times.values())
        ratio = wall / total if total > 0 else float("nan")
        print(
            f"[prefetch] {len(runs)} runs: sum {total:.1f} s, wall {wall:.1f} s "
            f"(wall/sum = {ratio:.2f}) with {jobs} process(es)",
            flush=True,
        )
    times["_wall"] = wall
    return times
