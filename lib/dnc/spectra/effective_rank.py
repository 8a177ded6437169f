"""Effective rank over training (the later version of paper A, App. G.2 and open question 3).

erank(M) = exp(−Σ_i p_i log p_i) with p_i = λ_i / Σ_j λ_j over the eigenvalues λ_i ≥ 0 of a PSD
matrix M (Roy and Vetterli): K for K equal nonzero eigenvalues and zeros, between 1 and rank M.
"""

from __future__ import annotations

import numpy as np

from dnc.spectra import hessian, matrices
from dnc.ufm import tracking


def effective_rank(eigenvalues) -> float:
    """The exponential of the Shannon entropy of the normalised nonnegative eigenvalues.

    Negative eigenvalues, from round-off, count as 0.

    Raises:
        ValueError: no eigenvalue is positive (the effective rank of a zero matrix).
    """
    vals = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    total = vals.sum()
    if total <= 0:
        raise ValueError("the effective rank of a zero matrix is undefined")
    p = vals[vals > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def tracks(result, layer: int) -> dict[str, np.ndarray]:
    """The effective rank of W_lᵀW_l and of Hess_l at every stored snapshot after initialisation.

    Hess_l is the MSE layer Hessian (:func:`dnc.spectra.hessian.layer_hessian_spectrum` with its
    default loss), whatever the run's loss. Returns ``epochs``, ``weights`` and ``hessian``.
    """
    activation = result.config.activation

    def measure(H1, Ws):
        weight = matrices.weight_gram_spectrum(Ws[layer - 1])
        hess = hessian.layer_hessian_spectrum(H1, Ws, layer, activation)
        return [effective_rank(weight), effective_rank(hess)]

    epochs, values = tracking.over_snapshots(result, measure)
    keep = epochs > 0
    return {"epochs": epochs[keep], "weights": values[keep, 0], "hessian": values[keep, 1]}


def approach(epochs, values, limit: float, start_fraction: float = 0.01, rtol: float = 1e-3) -> str:
    """From which side ``values`` approach ``limit``: 'from above', 'from below' or both.

    Judged on the snapshots with epoch at least ``start_fraction`` of the last that are still
    more than ``rtol``·limit away from it: 'from above' (all above), 'from below' (all below),
    'from both sides', or 'at its limit already'.
    """
    epochs = np.asarray(epochs)
    values = np.asarray(values, dtype=np.float64)
    late = values[epochs >= start_fraction * epochs[-1]]
    away = late[np.abs(late - limit) > rtol * abs(limit)]
    if away.size == 0:
        return "at its limit already"
    if np.all(away > limit):
        return "from above"
    if np.all(away < limit):
        return "from below"
    return "from both sides"
