"""The book's long runs, computed in parallel processes before the chapters execute.

Every entry of :data:`RUNS` names a function (``"module:function"``, with its arguments) that
computes one long run through its own cache (:mod:`dnc.cache`) and returns; the chapters later
call the same function and only read the stored result. Adding a run is one line here.

``python -m dnc prefetch [--jobs N] [--profile quick|paper] [--only NAME ...]`` runs them, the
longest first, in ``N`` worker processes (default: the number of cores), each worker on
``threads`` CPU threads, and prints each run's time, their sum and the wall time, so that the
saving (wall / sum) is visible. A second prefetch finds everything cached and returns at once.
"""

from __future__ import annotations

import importlib
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """One long run: ``target`` is ``"module:function"`` in ``dnc``; ``args`` are passed to it."""

    name: str
    target: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def function(self):
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(f"dnc.{module}"), attr)


# The longest first (measured at the paper profile); the order is the order of submission.
RUNS: tuple[Run, ...] = (
    Run("relu_ufm", "experiments:relu_run", kwargs={"progress": False}),
    Run("relu_seeds", "experiments:relu_seeds_run"),
    Run("relu_widths", "experiments:relu_width_runs"),
    Run("relu_lr", "experiments:relu_lr_run"),
    Run("phase_relu", "experiments:phase_runs", ("relu",)),
    Run("phase_linear", "experiments:phase_runs", ("linear",)),
    # paper B: one entry per seed (deep_rfm_experiments.SEEDS), as the chapters' *_runs call them
    *(
        Run(f"deep_rfm_{data}_seed{s}", "deep_rfm_experiments:deep_rfm_run", (data,), {"seed": s})
        for data in ("mnist", "digits")
        for s in (0, 1, 2)
    ),
    Run(
        "deep_rfm_digits_bandwidth10",
        "deep_rfm_experiments:deep_rfm_run",
        ("digits",),
        {"bandwidth": 10.0},
    ),  # fmt: skip
    *(
        Run(f"paper_b_mlp_seed{s}", "deep_rfm_experiments:mlp_run", kwargs={"seed": s})
        for s in (0, 1, 2)
    ),
    # the chapter "Real networks": one entry per (loss, seed) of realnet.experiments.setting()
    *(
        Run(f"realnet_{loss}_seed{s}", "realnet.experiments:network_run", (loss, s))
        for loss in ("mse", "ce")
        for s in (0, 1, 2)
    ),
    Run("realnet_ufm", "realnet.experiments:ufm_run"),
    Run("regularisation_sweep", "experiments:regularisation_sweep"),
    Run("deep_linear", "experiments:deep_linear_run"),
    Run("varied_lambda", "prefetch:varied_lambda_run"),
    Run("one_layer", "experiments:one_layer_run"),
    Run("cross_entropy", "experiments_later:cross_entropy_run"),
    # the depth theorem's runs (experiments_later.depth_setting().totals), one per total depth
    *(Run(f"depth_T{T}", "experiments_later:depth_run", (T,)) for T in range(12, 2, -1)),
)


def varied_lambda_run(profile: str | None = None):
    """Chapter 2's run with a different λ on every layer (:func:`dnc.experiments.varied_lambda_setting`)."""
    from . import experiments

    return experiments.run(experiments.varied_lambda_setting(profile), progress=False)


def _run_one(run: Run, threads: int) -> tuple[str, float, int]:
    """Worker: compute ``run`` on ``threads`` CPU threads; (name, seconds, pid)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    run.function()(*run.args, **run.kwargs)
    return run.name, time.perf_counter() - start, os.getpid()


def select(names=None) -> list[Run]:
    """The entries of :data:`RUNS` named in ``names`` (all when None); an unknown name is an error."""
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
    """Compute the runs of :data:`RUNS` (or ``names``) through their caches in ``jobs`` processes
    (default: the number of cores; ``jobs=1`` runs them in this process, one after the other).
    Returns each run's seconds and ``"_wall"``, the wall time of the whole prefetch."""
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
        import multiprocessing

        # spawn: a fresh interpreter per worker, so each sets its thread counts before torch loads.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
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
