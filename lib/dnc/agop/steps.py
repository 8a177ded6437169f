"""Step-by-step accounting of Deep RFM runs: which part of each layer lowers NC1 and NC2.

A layer has three parts: the AGOP step X_l → M_l^{1/2}X_l, the random-feature (RF) map
M_l^{1/2}X_l → σ(W_l M_l^{1/2}X_l), and the next layer's row normalisation σ(W_l M_l^{1/2}X_l) →
X_{l+1}. For a metric m the log-reduction of a part is log(m before / m after), positive when it
lowers m. Runs that hold no ``<metric>_rf`` (the features before the normalisation) count the RF
map and the normalisation together, as one step M_l^{1/2}X_l → X_{l+1}.
"""

from __future__ import annotations

import numpy as np


def _check(metric: str) -> None:
    if metric not in ("nc1", "nc2"):
        raise ValueError(f"metric must be 'nc1' or 'nc2', got {metric!r}")


def step_reductions(run: dict, metric: str = "nc1") -> tuple[np.ndarray, np.ndarray]:
    """(AGOP steps, RF maps) log-reductions of ``metric`` ∈ {nc1, nc2}, layer l at index l − 1.

    The RF map of layer l is M_l^{1/2}X_l → σ(W_l M_l^{1/2}X_l) when the run holds
    ``<metric>_rf``; otherwise it is the whole step to X_{l+1} (one fewer, the last layer's
    output being nobody's input). Raises ValueError for another metric.
    """
    _check(metric)
    before, after = np.asarray(run[f"{metric}_in"]), np.asarray(run[f"{metric}_agop"])
    if f"{metric}_rf" in run:
        return np.log(before / after), np.log(after / np.asarray(run[f"{metric}_rf"]))
    return np.log(before / after), np.log(after[:-1] / before[1:])


def renormalisation(run: dict, metric: str = "nc1") -> np.ndarray:
    """Log-reductions of ``metric`` by the row normalisation σ(W_l M_l^{1/2}X_l) → X_{l+1}.

    Needs ``<metric>_rf`` in the run; raises ValueError for another metric.
    """
    _check(metric)
    return np.log(np.asarray(run[f"{metric}_rf"])[:-1] / np.asarray(run[f"{metric}_in"])[1:])


def summary(runs: list[dict]) -> dict:
    """Counts over seeds of the steps that lower or raise NC1 and NC2, and mean summary values.

    Counted are the AGOP steps that lower NC1 and NC2, the RF maps that raise NC1 and that lower
    NC2 (with the 1-based layers they belong to); averaged over seeds are the NC1 reduction
    factor over the run (first input to last AGOP output) and NC2 at the first input and after
    the last AGOP step. When the runs hold the features before normalisation, ``renorm_nc1`` and
    ``renorm_nc2`` are the largest relative change |m after / m before − 1| the row
    normalisation makes over all layers and seeds.
    """
    nc1 = [step_reductions(r, "nc1") for r in runs]
    nc2 = [step_reductions(r, "nc2") for r in runs]
    out = dict(
        factor=float(np.mean([r["nc1_in"][0] / r["nc1_agop"][-1] for r in runs])),
        agop_lower=sum(int((a > 0).sum()) for a, _ in nc1),
        agop_count=sum(a.size for a, _ in nc1),
        rf_raise=sum(int((b < 0).sum()) for _, b in nc1),
        rf_count=sum(b.size for _, b in nc1),
        agop_nc2_lower=sum(int((a > 0).sum()) for a, _ in nc2),
        rf_nc2_lower=sum(int((b > 0).sum()) for _, b in nc2),
        rf_nc2_layers=sorted({int(l) + 1 for _, b in nc2 for l in np.flatnonzero(b > 0)}),
        nc2_first=float(np.mean([r["nc2_in"][0] for r in runs])),
        nc2_last=float(np.mean([r["nc2_agop"][-1] for r in runs])),
    )
    if all("nc1_rf" in r and "nc2_rf" in r for r in runs):
        for metric in ("nc1", "nc2"):
            change = np.concatenate([np.expm1(-renormalisation(r, metric)) for r in runs])
            out[f"renorm_{metric}"] = float(np.abs(change).max())
    return out


def gram_blocks(gram, labels) -> tuple[float, float]:
    """Mean off-diagonal entry of a sample Gram matrix within classes and between classes."""
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(labels.size, dtype=bool)
    gram = np.asarray(gram)
    return float(gram[same & off].mean()), float(gram[~same].mean())
