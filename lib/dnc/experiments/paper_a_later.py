"""Experiments of the chapters on the later version of paper A: cross-entropy and the full Hessian.

Settings come in ``quick`` and ``paper`` pairs; runs are cached by
:func:`dnc.ufm.loop.train_cached`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dnc.experiments import paper_a as experiments
from dnc.profile import choose
from dnc.spectra.full_hessian import (
    full_hessian_top_eigenvalues,
    off_block_norm,
    separated_block_top_eigenvalues,
)
from dnc.ufm import TrainResult, UFMConfig, optimal_loss, regularisation_ratio, train_cached


def cross_entropy_setting(profile: str | None = None) -> experiments.Setting:
    """The deep linear UFM of paper A §5.1 with the cross-entropy loss instead of MSE.

    Everything else (sizes, λ's, learning rate, epochs, layer, snapshots) is that of
    :func:`dnc.experiments.paper_a.deep_linear_setting`.
    """
    base = experiments.deep_linear_setting(profile)
    return replace(base, config=replace(base.config, loss="ce"))


def cross_entropy_run(profile: str | None = None) -> TrainResult:
    """The cached training run of :func:`cross_entropy_setting` (trained on the first call)."""
    return experiments.run(cross_entropy_setting(profile))


@dataclass(frozen=True)
class DepthSetting:
    """Deep linear UFMs of total depth T = L̄ + L: a feature map of L̄ layers, then L more layers.

    The L layers on top are the separated ones; there is one run per T and per regularisation
    schedule.
    """

    K: int
    n: int
    d: int
    totals: tuple[int, ...]
    feature_depths: tuple[int, ...]
    lam: float
    epochs: int
    lr: float
    decay_from: int  # the decaying schedule is λ·decay_from/T (equal to λ at T = decay_from)

    def lambdas(self, T: int, schedule: str) -> float:
        """λ for every W_l and H_1 at depth T: ``fixed`` λ, or ``decaying`` λ·decay_from/T."""
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        return self.lam if schedule == "fixed" else self.lam * self.decay_from / T

    def config(self, T: int, schedule: str) -> UFMConfig:
        """The UFM configuration at depth T with :meth:`lambdas` (T, schedule) on every layer."""
        lam = self.lambdas(T, schedule)
        return UFMConfig(K=self.K, n=self.n, d=self.d, L=T, lambda_W=lam, lambda_H=lam, seed=0)


SCHEDULES = ("fixed", "decaying")


def depth_setting(profile: str | None = None) -> DepthSetting:
    """Total depths 3…12, so that L = T − L̄ covers 2…10 for L̄ = 1 and 2 (and 11 for L̄ = 1).

    L̄ = 2 also gives L = 1 at T = 3.
    """
    quick = dict(K=3, n=5, d=12, epochs=3000)
    paper = dict(K=3, n=40, d=60, epochs=10000)
    s = choose(quick, paper, profile)
    return DepthSetting(
        K=s["K"],
        n=s["n"],
        d=s["d"],
        totals=tuple(range(3, 13)),
        feature_depths=(1, 2),
        lam=5e-3,
        epochs=s["epochs"],
        lr=0.5,
        decay_from=3,
    )


def depth_run(T: int, profile: str | None = None) -> TrainResult:
    """Both schedules at depth T, trained as one batch from one initialisation.

    Model b of the result uses ``SCHEDULES[b]``.
    """
    s = depth_setting(profile)
    lams = [s.lambdas(T, name) for name in SCHEDULES]
    return train_cached(
        s.config(T, "fixed"),
        s.epochs,
        s.lr,
        log_every=max(1, s.epochs // 200),
        lambdas=[([lam] * T, lam) for lam in lams],
    )


def depth_sweep(profile: str | None = None, schedules=SCHEDULES) -> dict[str, np.ndarray]:
    """Full-Hessian and Hess_{L,L} spectra, their gap and Weyl's bound, for each schedule, L̄ and L.

    For each case: the top K² eigenvalues of the full Hessian and of Hess_{L,L}, the measured gap
    max_i |λ_i(Hess) − λ_i(Hess_{L,L})| and Weyl's bound ‖E‖₂, both relative to
    λ_1(Hess_{L,L}), and the relative loss gap to the optimum. Arrays indexed
    [schedule, L̄, L] over ``setting.totals``.
    """
    s = depth_setting(profile)
    k = s.K * s.K
    rows = []
    for b, schedule in enumerate(SCHEDULES):
        if schedule not in schedules:
            continue
        for T in s.totals:
            run = depth_run(T, profile)
            H, Ws = run.params(b=b)
            config = run.config_of(b)
            optimum = optimal_loss(config.K, config.n, config.lambda_W_list, config.lambda_H)
            for Lbar in s.feature_depths:
                if T - Lbar < 1:
                    continue
                feats, sep = Ws[:Lbar], Ws[Lbar:]
                full = full_hessian_top_eigenvalues(H, sep, k, feature_map=feats)
                block = separated_block_top_eigenvalues(H, sep, k, feature_map=feats)
                bound = off_block_norm(H, sep, feature_map=feats)
                rows.append(
                    dict(
                        schedule=schedule,
                        Lbar=Lbar,
                        L=T - Lbar,
                        full=full,
                        block=block,
                        gap=np.max(np.abs(full - block)) / block[0],
                        bound=bound / block[0],
                        loss_gap=(float(run.final_loss[b]) - optimum) / optimum,
                    )
                )
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


def condition_ratio_by_depth(depths, profile: str | None = None) -> dict[str, np.ndarray]:
    """Left side over right side of paper A's condition (2) at each total depth.

    Computed for the fixed and the decaying schedule of :func:`depth_setting` (below 1: the
    optimum is collapsed, not zero).
    """
    s = depth_setting(profile)
    out = {"depth": np.asarray(depths)}
    for schedule in SCHEDULES:
        out[schedule] = np.array(
            [
                regularisation_ratio(s.K, s.n, [s.lambdas(T, schedule)] * T, s.lambdas(T, schedule))
                for T in depths
            ]
        )
    return out
