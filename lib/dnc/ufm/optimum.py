"""The optimum of the deep UFM in closed form, for MSE and for cross-entropy.

Paper A's condition (2) and the collapsed global minimiser of the deep linear model (MSE), and the
cross-entropy analogue within the collapsed simplex-ETF family (the later version of paper A).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from dnc._checks import positive, positive_int

# --------------------------------------------------------------------------------------------
# The global optimum of the deep linear UFM in closed form.
# --------------------------------------------------------------------------------------------


def _lambdas(lambda_Ws, lambda_H):
    lam = [positive(v, f"lambda_Ws[{i}]") for i, v in enumerate(np.atleast_1d(lambda_Ws))]
    if not lam:
        raise ValueError("lambda_Ws needs at least one λ (one per layer), got none")
    return lam, positive(lambda_H, "lambda_H")


def regularisation_ratio(K: int, n: int, lambda_Ws, lambda_H) -> float:
    """(K^{L+1} n Π λ) / ((L−1)^{L−1}/L^{2L}); condition (2) of paper A holds iff this is < 1.

    Raises:
        TypeError: a size or λ that is not a number.
        ValueError: K or n not a positive integer, no λ_W, or a λ that is not positive.
    """
    K, n = positive_int(K, "K"), positive_int(n, "n")
    lam, lam_h = _lambdas(lambda_Ws, lambda_H)
    L = len(lam)
    log_lhs = (L + 1) * math.log(K) + math.log(n) + sum(map(math.log, lam)) + math.log(lam_h)
    log_rhs = ((L - 1) * math.log(L - 1) if L > 1 else 0.0) - 2 * L * math.log(L)
    return math.exp(log_lhs - log_rhs)


def below_threshold(K: int, n: int, lambda_Ws, lambda_H) -> bool:
    """Whether paper A's condition (2) holds, so that the optimum is collapsed and nonzero."""
    return regularisation_ratio(K, n, lambda_Ws, lambda_H) < 1.0


@dataclass(frozen=True)
class LinearOptimum:
    """Closed-form global optimum of the deep linear UFM (all K singular values equal).

    ``product_sv``: singular value s of W_L⋯W_1H_1; ``factor_sv``: singular values σ of
    [H_1, W_1, …, W_L] with λ σ² = c s^{2/q} equal across factors (balance); ``loss``: min of (1).
    ``local_sv``: the nonzero local minimiser of φ when one exists (it is the global one below
    the threshold of condition (2), a mere local one slightly above it), else 0.
    """

    loss: float
    product_sv: float
    factor_sv: tuple[float, ...]
    collapsed: bool
    local_sv: float


def linear_optimum(K: int, n: int, lambda_Ws, lambda_H) -> LinearOptimum:
    """Global minimum of eq. (1) with σ = identity.

    With q = L+1 factors and c = (λ_{H_1} Π_l λ_{W_l})^{1/q}, balancing the factors reduces (1) to
    K copies of φ(s) = (s − √n)²/(2Kn) + (q/2) c s^{2/q} over the shared singular value s ≥ 0
    (Dang et al.). The minimum is at s = 0 or at the largest root of
    (1 − t) t^{1−2/q} = K c n^{1/q}, s = t√n.
    """
    positive_int(K, "K"), positive_int(n, "n")
    lam, lam_h = _lambdas(lambda_Ws, lambda_H)
    q = len(lam) + 1
    log_c = (sum(map(math.log, lam)) + math.log(lam_h)) / q
    c = math.exp(log_c)
    N = K * n

    def phi(s):
        return (s - math.sqrt(n)) ** 2 / (2 * N) + 0.5 * q * c * s ** (2 / q)

    beta = K * c * n ** (1 / q)
    t_peak = (q - 2) / (2 * q - 2)  # maximiser of (1 − t) t^{1−2/q} on [0, 1]

    def g(t):
        return (1 - t) * t ** (1 - 2 / q) - beta

    s_best, best, s_local = 0.0, phi(0.0), 0.0
    if g(max(t_peak, 1e-300)) > 0:
        t = brentq(g, max(t_peak, 1e-300), 1.0, xtol=1e-15, rtol=1e-15, maxiter=500)
        s_local = t * math.sqrt(n)
        if phi(s_local) < best:
            s_best, best = s_local, phi(s_local)
    kappa = c * s_best ** (2 / q)
    factor_sv = tuple(math.sqrt(kappa / lam_i) for lam_i in [lam_h, *lam])
    return LinearOptimum(K * best, s_best, factor_sv, s_best > 0, s_local)


def optimal_loss(K: int, n: int, lambda_Ws, lambda_H) -> float:
    """Minimum of paper A eq. (1) for the deep linear UFM (see :func:`linear_optimum`)."""
    return linear_optimum(K, n, lambda_Ws, lambda_H).loss


# --------------------------------------------------------------------------------------------
# Cross-entropy: the zero solution against the collapsed simplex-ETF family.
# --------------------------------------------------------------------------------------------


def ce_collapsed_objective(t, K: int, n: int, lambda_Ws, lambda_H) -> float:
    """ψ(t) = log(1 + (K−1)e^{−t}) + (K−1)(q/2) c (t√n)^{2/q}, the CE objective at margin t.

    ψ is the CE objective of the best balanced factorisation of the simplex-ETF outputs
    z_i = t (e_{y_i} − 1_K/K), with q = L+1 factors and c = (λ_{H_1} Π λ_{W_l})^{1/q}.
    ψ(0) = log K is the zero solution.
    """
    lam, lam_h = _lambdas(lambda_Ws, lambda_H)
    q = len(lam) + 1
    c = math.exp((sum(map(math.log, lam)) + math.log(lam_h)) / q)
    t = float(t)
    return math.log1p((K - 1) * math.exp(-t)) + (K - 1) * 0.5 * q * c * (t * math.sqrt(n)) ** (
        2 / q
    )


def ce_collapsed_optimum(K: int, n: int, lambda_Ws, lambda_H) -> tuple[float, float]:
    """(t*, ψ(t*)): the minimiser of :func:`ce_collapsed_objective` over t ≥ 0, and its value.

    t* = 0 when the zero solution wins. The search runs on a log grid of t in [10⁻⁶, 10³],
    refined by Brent's bounded method around the best grid point.
    """
    positive_int(K, "K"), positive_int(n, "n")

    def psi(t):
        return ce_collapsed_objective(t, K, n, lambda_Ws, lambda_H)

    grid = np.geomspace(1e-6, 1e3, 400)
    values = [psi(t) for t in grid]
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    best = minimize_scalar(psi, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    t, value = float(best.x), float(best.fun)
    if value >= psi(0.0):
        return 0.0, psi(0.0)
    return t, value


def ce_below_threshold(K: int, n: int, lambda_Ws, lambda_H) -> bool:
    """Whether some collapsed simplex-ETF configuration beats the zero solution (objective log K).

    This is the CE analogue of condition (2) within the collapsed family. It is the exact threshold
    only where the nonzero global minimisers are collapsed simplex ETFs with equal logit margins;
    for deep models lower-rank configurations can do better (Garrod & Keating, arXiv 2410.23169;
    the chapter "Cross-entropy" trains such cases).
    """
    return ce_collapsed_optimum(K, n, lambda_Ws, lambda_H)[0] > 0.0
