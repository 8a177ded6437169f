"""When the collapsed simplex ETF is the optimum of the deep cross-entropy UFM, and when it is not.

The chapter "Cross-entropy" trains deep linear UFMs with the CE loss over a grid of class counts
K, depths L and regularisations λ (the same λ on every W_l and on H_1), and compares each
trained objective with ψ(t*), the best objective among collapsed simplex-ETF configurations
(:func:`dnc.ufm.ce_collapsed_optimum`). A trained objective below ψ(t*) proves that the ETF is not
the global minimiser there; a trained model at ψ(t*) whose weights have rank K − 1 is an ETF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnc.profile import choose
from dnc.spectra.cross_entropy import simplex_etf_residual, softmax_margin
from dnc.spectra.hessian import layer_hessian_spectrum
from dnc.spectra.matrices import numerical_rank
from dnc.ufm import UFMConfig, ce_collapsed_optimum, collapse, train_cached


@dataclass(frozen=True)
class SweepSetting:
    """The grid: classes, depths and λ's; the sizes n, d; epochs and learning rate of every run."""

    classes: tuple[int, ...]
    depths: tuple[int, ...]
    lambdas: tuple[float, ...]
    n: int
    d: int
    epochs: int
    lr: float

    def config(self, K: int, L: int, lam: float) -> UFMConfig:
        """The CE UFM of one grid point, seed 0."""
        return UFMConfig(K=K, n=self.n, d=self.d, L=L, loss="ce", lambda_W=lam, lambda_H=lam)


def sweep_setting(profile: str | None = None) -> SweepSetting:
    """K = 3, 4, 5; L = 1…4; λ = 5·10⁻³ (the deep linear chapters' λ) and 10⁻²; d ≥ K.

    Quick: n = 10, d = 20, 4,000 epochs; paper: n = 40, d = 60 (paper A §5.1's sizes), 8,000
    epochs; lr 0.5 in both.
    """
    quick = dict(n=10, d=20, epochs=4000)
    paper = dict(n=40, d=60, epochs=8000)
    s = choose(quick, paper, profile)
    return SweepSetting((3, 4, 5), (1, 2, 3, 4), (5e-3, 1e-2), s["n"], s["d"], s["epochs"], 0.5)


def sweep_run(K: int, L: int, lam: float, profile: str | None = None):
    """The cached training run of one grid point of :func:`sweep_setting`."""
    s = sweep_setting(profile)
    return train_cached(s.config(K, L, lam), s.epochs, s.lr, log_every=s.epochs)


def sweep(profile: str | None = None) -> dict[str, np.ndarray]:
    """One row per grid point (K, L, λ): the trained objective against the best simplex ETF.

    Returns arrays ``K``, ``L``, ``lam``, ``objective`` (trained), ``etf`` (ψ(t*)),
    ``below`` ((ψ(t*) − objective)/ψ(t*), positive when training beat every ETF), ``rank`` (the
    largest numerical rank of the W_l, singular values above 10⁻³ of the largest) and
    ``etf_residual`` (distance of the first layer's class means to a simplex ETF).
    """
    s = sweep_setting(profile)
    rows = []
    for K in s.classes:
        for L in s.depths:
            for lam in s.lambdas:
                run = sweep_run(K, L, lam, profile)
                H1, Ws = run.params()
                _, etf = ce_collapsed_optimum(K, s.n, [lam] * L, lam)
                objective = float(run.final_loss[0])
                means = collapse.layer_class_means(H1, Ws)[0]
                rows.append(
                    (
                        K,
                        L,
                        lam,
                        objective,
                        etf,
                        (etf - objective) / etf,
                        max(numerical_rank(W) for W in Ws),
                        simplex_etf_residual(means),
                    )
                )
    names = ("K", "L", "lam", "objective", "etf", "below", "rank", "etf_residual")
    columns = np.array(rows, dtype=np.float64).T
    return {name: column for name, column in zip(names, columns, strict=True)}


def trained_groups(K: int, L: int, lam: float, profile: str | None = None, layer: int = 1):
    """(measured, margin): the trained CE Hess_l's top (K−1)² eigenvalues over the largest, and δ.

    δ is the mean softmax margin of the trained model (:func:`softmax_margin`), the one number
    :func:`dnc.spectra.cross_entropy.collapsed_hessian_groups` needs.
    """
    H1, Ws = sweep_run(K, L, lam, profile).params()
    spectrum = layer_hessian_spectrum(H1, Ws, layer, loss="ce")[: (K - 1) ** 2]
    return spectrum / spectrum[0], softmax_margin(H1, Ws)
