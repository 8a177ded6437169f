"""Experiments of the chapters on the later version of paper A: cross-entropy and the full Hessian.

The full Hessian: the depth sweep of trained models (:func:`depth_sweep`, the gap to Hess_{L,L};
:func:`depth_inheritance`, the relative spectra, eigenvectors and outliers against one layer's)
and exact stationary points of any rank (:func:`stationary_point`, :func:`stationary_comparison`).

Settings come in ``quick`` and ``paper`` pairs; runs are cached by
:func:`dnc.ufm.loop.train_cached`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from dnc.cache import cached
from dnc.experiments import paper_a as experiments
from dnc.profile import choose, current
from dnc.spectra.full_hessian import (
    autograd_full_hessian,
    full_hessian_top_eigenpairs,
    full_hessian_top_eigenvalues,
    layer_prediction_overlap,
    next_eigenvalue,
    off_block_norm,
    relative_spectrum_deviation,
    separated_block_top_eigenvalues,
)
from dnc.spectra.hessian import layer_hessian_spectrum
from dnc.ufm import (
    TrainResult,
    UFMConfig,
    linear_optimum,
    optimal_loss,
    regularisation_ratio,
    targets,
    train_cached,
)
from dnc.ufm.factorisation import balanced_factors


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


def _inheritance_arrays(profile: str) -> dict[str, np.ndarray]:
    """What :func:`depth_inheritance` returns, computed (schedule as its index in SCHEDULES)."""
    s = depth_setting(profile)
    k = s.K * s.K
    rows = []
    for b, _ in enumerate(SCHEDULES):
        for T in s.totals:
            run = depth_run(T, profile)
            H, Ws = run.params(b=b)
            config = run.config_of(b)
            optimum = optimal_loss(config.K, config.n, config.lambda_W_list, config.lambda_H)
            whole, vectors = full_hessian_top_eigenpairs(H, Ws, k)
            layers = [layer_hessian_spectrum(H, Ws, l)[:k] for l in range(1, T + 1)]
            rows.append(
                dict(
                    schedule=b,
                    T=T,
                    whole=whole,
                    next=next_eigenvalue(H, Ws, vectors),
                    layer=layers[-1],
                    layer_spread=max(relative_spectrum_deviation(v, np.ones(k), k) for v in layers),
                    deviation=relative_spectrum_deviation(whole, layers[-1], k),
                    overlap=layer_prediction_overlap(H, Ws, vectors),
                    loss_gap=(float(run.final_loss[b]) - optimum) / optimum,
                )
            )
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


def depth_inheritance(profile: str | None = None) -> dict[str, np.ndarray]:
    """What the full-Hessian theorem claims, measured on every model of :func:`depth_run`.

    For each schedule and total depth T (the whole Hessian over all T layers does not depend on
    L̄): ``whole``, its top K² eigenvalues, and ``next``, λ_{K²+1} (outliers against the bulk);
    ``layer``, the top K² eigenvalues of the layer Hessian Hess_T of the top layer, the
    single-layer reference; ``layer_spread``, max over layers l of max_{i≤K²} |1 − λ_i/λ_1| of
    Hess_l (0 for K² equal outliers); ``deviation``, the two top-K² spectra compared each over its
    own λ_1 (:func:`~dnc.spectra.full_hessian.relative_spectrum_deviation`); ``overlap``, the
    share of the top-K² eigenvectors that lies in the layer-wise predictions
    (:func:`~dnc.spectra.full_hessian.layer_prediction_overlap`); ``loss_gap``, the relative
    distance of the objective to its optimum. Stored by :func:`dnc.cache.cached` (a minute in
    the paper profile).
    """
    name = current(profile)
    arrays, _ = cached(
        "full_hessian_inheritance",
        {"profile": name},
        lambda checkpoint: (_inheritance_arrays(name), {}),
        code=(_inheritance_arrays,),
    )
    out = dict(arrays)
    out["schedule"] = np.array(SCHEDULES)[arrays["schedule"]]
    return out


def separated_deviation(sweep: dict, inheritance: dict) -> np.ndarray:
    """For each row of :func:`depth_sweep`, Hess_{L,L}'s top K² against the single layer's.

    Each spectrum over its own λ_1 (:func:`~dnc.spectra.full_hessian.relative_spectrum_deviation`),
    the reference being ``inheritance["layer"]`` of the same schedule and T = L̄ + L.
    """
    out = []
    for schedule, T, block in zip(
        sweep["schedule"], sweep["Lbar"] + sweep["L"], sweep["block"], strict=True
    ):
        row = np.flatnonzero((inheritance["schedule"] == schedule) & (inheritance["T"] == T))[0]
        out.append(relative_spectrum_deviation(block, inheritance["layer"][row], block.size))
    return np.array(out)


def stationary_point(K: int, n: int, d: int, T: int, lam: float, rank: int, seed: int = 0):
    """(H_1, [W_1, …, W_T]) at a stationary point of the deep linear UFM whose product has rank r.

    The product W_T ⋯ W_1 H_1 is s·Y_r/√n: the targets Y with the rows of classes r … K−1 set to
    zero, s the optimum's singular value (:func:`dnc.ufm.linear_optimum`), split into balanced
    factors (:func:`dnc.ufm.factorisation.balanced_factors`) with λ on H_1 and every W_l. Each
    kept singular value sits where φ'(s) = 0 and each dropped one at 0 with all its factors, so
    the gradient vanishes (:func:`objective_gradient_norm` measures it); r = K is the global
    optimum.

    Raises:
        ValueError: r outside 1..K, or the λ above paper A's condition (2) (zero optimum).
    """
    if not 1 <= rank <= K:
        raise ValueError(f"rank must be in 1..K = {K}, got {rank}")
    optimum = linear_optimum(K, n, [lam] * T, lam)
    if not optimum.collapsed:
        raise ValueError(f"λ = {lam} at depth {T} is above condition (2): the optimum is zero")
    Y = targets(K, n)
    Y[rank:] = 0.0
    factors = balanced_factors(optimum.product_sv * Y / np.sqrt(n), [lam] * (T + 1), d, seed)
    return factors[0], factors[1:]


def objective_gradient_norm(H1, Ws, lam: float) -> float:
    """‖∇ objective‖ over (H_1, W_1, …, W_T), relative to ‖(H_1, W_1, …, W_T)‖ (MSE, λ on all).

    By autograd in float64 on ½‖W_T⋯W_1H_1 − Y‖²/N + ½λ Σ‖·‖² (tests and small models).
    """
    mats = [torch.tensor(np.asarray(M, dtype=np.float64)) for M in [H1, *Ws]]
    K, N = mats[-1].shape[0], mats[0].shape[1]
    Y = torch.tensor(targets(K, N // K))

    def obj(*ms):
        Z = ms[0]
        for W in ms[1:]:
            Z = W @ Z
        return ((Z - Y) ** 2).sum() / (2 * N) + 0.5 * lam * sum((M**2).sum() for M in ms)

    grads = torch.func.grad(obj, argnums=tuple(range(len(mats))))(*mats)
    size = np.sqrt(sum(float((M**2).sum()) for M in mats))
    return float(np.sqrt(sum(float((g**2).sum()) for g in grads))) / size


def stationary_comparison(
    K: int = 3, n: int = 5, d: int = 6, T: int = 5, lam: float = 5e-3, Lbar: int = 1, ranks=(3, 2)
) -> dict[str, np.ndarray]:
    """The two measures of inheritance at stationary points of rank r (dense Hessians, small).

    For each r in ``ranks`` (:func:`stationary_point`, L̄ = ``Lbar`` layers as the feature map):
    ``gradient``, :func:`objective_gradient_norm`; ``gap``, max_{i≤K²} |λ_i(Hess) −
    λ_i(Hess_{L,L})| / λ_1(Hess_{L,L}), the balancedness measure of :func:`depth_sweep`;
    ``spectrum``, the top K²+1 eigenvalues of the whole Hessian over its λ_1; ``layer``, the same
    for Hess_T; ``deviation`` between the two (:func:`relative_spectrum_deviation` over K²);
    ``outliers``, how many eigenvalues of the whole Hessian exceed 10⁻² λ_1.
    """
    k = K * K
    rows = []
    for rank in ranks:
        H1, Ws = stationary_point(K, n, d, T, lam, rank)
        dense = autograd_full_hessian(H1, Ws[Lbar:], feature_map=Ws[:Lbar])
        start = sum(W.size for W in Ws[:Lbar])
        whole = np.sort(np.linalg.eigvalsh(dense))[::-1]
        block = np.sort(np.linalg.eigvalsh(dense[start:, start:]))[::-1]
        layer = layer_hessian_spectrum(H1, Ws, T)
        rows.append(
            dict(
                rank=rank,
                gradient=objective_gradient_norm(H1, Ws, lam),
                gap=np.max(np.abs(whole[:k] - block[:k])) / block[0],
                spectrum=whole[: k + 1] / whole[0],
                layer=layer[: k + 1] / layer[0],
                deviation=relative_spectrum_deviation(whole, layer, k),
                outliers=int(np.sum(whole > 1e-2 * whole[0])),
            )
        )
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}
