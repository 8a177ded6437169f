"""Step-by-step accounting of Deep RFM runs: which half of each layer lowers NC1 and NC2.

A layer has two steps: the AGOP step X_l → M_l^{1/2}X_l and the random-feature (RF) step
M_l^{1/2}X_l → X_{l+1} = ReLU(W_l M_l^{1/2}X_l). For a metric m the log-reduction of a step is
log(m before / m after), positive when the step lowers m.
"""

from __future__ import annotations

import numpy as np


def step_reductions(run: dict, metric: str = "nc1") -> tuple[np.ndarray, np.ndarray]:
    """(AGOP steps, RF steps) log-reductions of ``metric`` ∈ {nc1, nc2}.

    RF step l (0-based) enters layer l + 2 (1-based). Raises ValueError for another metric.
    """
    if metric not in ("nc1", "nc2"):
        raise ValueError(f"metric must be 'nc1' or 'nc2', got {metric!r}")
    before, after = np.asarray(run[f"{metric}_in"]), np.asarray(run[f"{metric}_agop"])
    return np.log(before / after), np.log(after[:-1] / before[1:])


def summary(runs: list[dict]) -> dict:
    """Counts over seeds of the steps that lower or raise NC1 and NC2, and mean summary values.

    Counted are the AGOP steps that lower NC1 and NC2, the RF steps that raise NC1 and that lower
    NC2 (with the 1-based layers they enter); averaged over seeds are the NC1 reduction factor
    over the run (first input to last AGOP output) and NC2 at the first input and after the last
    AGOP step.
    """
    nc1 = [step_reductions(r, "nc1") for r in runs]
    nc2 = [step_reductions(r, "nc2") for r in runs]
    return dict(
        factor=float(np.mean([r["nc1_in"][0] / r["nc1_agop"][-1] for r in runs])),
        agop_lower=sum(int((a > 0).sum()) for a, _ in nc1),
        agop_count=sum(a.size for a, _ in nc1),
        rf_raise=sum(int((b < 0).sum()) for _, b in nc1),
        rf_count=sum(b.size for _, b in nc1),
        agop_nc2_lower=sum(int((a > 0).sum()) for a, _ in nc2),
        rf_nc2_lower=sum(int((b > 0).sum()) for _, b in nc2),
        rf_nc2_layers=sorted({int(l) + 2 for _, b in nc2 for l in np.flatnonzero(b > 0)}),
        nc2_first=float(np.mean([r["nc2_in"][0] for r in runs])),
        nc2_last=float(np.mean([r["nc2_agop"][-1] for r in runs])),
    )


def gram_blocks(gram, labels) -> tuple[float, float]:
    """Mean off-diagonal entry of a sample Gram matrix within classes and between classes."""
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(labels.size, dtype=bool)
    gram = np.asarray(gram)
    return float(gram[same & off].mean()), float(gram[~same].mean())
