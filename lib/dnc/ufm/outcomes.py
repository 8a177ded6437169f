"""Where gradient descent ends on the deep UFM, classified against the closed form of chapter 2.

With r = min(d, K), the output Z = f(H_1) has rank at most r, and the minimum of (1) for the linear
model is r·min φ + (K − r)·φ(0), φ the scalar problem of ``ufm.linear_optimum`` (φ(0) = 1/(2K)):
the lower bound of Theorem 3.1 holds for every factorisation, and r balanced directions attain it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from dnc.ufm import collapse, model, optimum

OUTCOMES = (
    "collapsed optimum",
    "collapsed local minimum",
    "rank-deficient optimum (d < K)",
    "rank-deficient stationary point",
    "zero solution",
    "not converged",
)
ALIVE = 0.05  # a direction of Z is alive when its singular value exceeds ALIVE·√n


def rank_limited_optimum(K: int, n: int, d: int, lambda_Ws, lambda_H) -> float:
    """Minimum of (1), linear model, width d: r·min φ + (K − r)/(2K), r = min(d, K)."""
    opt = optimum.linear_optimum(K, n, lambda_Ws, lambda_H)
    r = min(int(d), K)
    return opt.loss + (K - r) * (1.0 / (2 * K) - opt.loss / K)


def predicted_outcome(config: model.UFMConfig) -> str:
    """The global optimum's kind by the closed form: collapsed, rank-limited (d < K) or zero."""
    if not optimum.below_threshold(config.K, config.n, config.lambda_W_list, config.lambda_H):
        return "zero solution"
    return "collapsed optimum" if config.d >= config.K else "rank-deficient optimum (d < K)"


def classify(result, b: int = 0, rtol: float = 1e-4) -> dict:
    """Outcome of model b of a finished run, with the numbers it was judged on.

    A direction of Z is alive when its singular value exceeds ALIVE·√n. Linear model: the alive
    singular values must sit on the nonzero branch of φ (within ``rtol``) or the run is 'not
    converged'; the loss then tells the global optimum (within 10⁻⁶, rank-limited for d < K) from
    a local minimum (above the threshold) or from a run whose factors are not balanced yet (below
    it: 'not converged'). ReLU model (no closed form): K alive directions with NC1 < 10⁻⁶ at every
    layer count as collapsed.

    The dict holds ``rank`` (alive directions), ``s`` (the top K singular values of Z), ``loss``,
    ``loss_optimal`` (:func:`rank_limited_optimum`), ``predicted`` (:func:`predicted_outcome`)
    and ``outcome`` (one of :data:`OUTCOMES`).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # d < K is the point of the phase diagram
        config = result.config_of(b)
    K, n, d = config.K, config.n, config.d
    H1, Ws = result.params(b=b)
    s = np.linalg.svd(model.layer_inputs(H1, Ws, config.activation)[-1], compute_uv=False)[:K]
    alive = s > ALIVE * math.sqrt(n)
    rank = int(alive.sum())
    loss = float(result.final_loss[b])
    best = rank_limited_optimum(K, n, d, config.lambda_W_list, config.lambda_H)
    opt = optimum.linear_optimum(K, n, config.lambda_W_list, config.lambda_H)
    out = dict(rank=rank, s=s, loss=loss, loss_optimal=best, predicted=predicted_outcome(config))
    if rank == 0:
        out["outcome"] = "zero solution"
    elif config.activation == "linear":
        on_branch = opt.local_sv > 0 and np.all(
            np.abs(s[alive] - opt.local_sv) <= rtol * opt.local_sv
        )
        at_optimum = abs(loss - best) <= 1e-6 * best
        if not on_branch:
            out["outcome"] = "not converged"
        elif rank == K and at_optimum:
            out["outcome"] = "collapsed optimum"
        elif rank == K:  # on the branch but above the minimum: local above the threshold,
            below = out["predicted"] != "zero solution"  # still balancing below it
            out["outcome"] = "not converged" if below else "collapsed local minimum"
        elif rank == d and at_optimum:
            out["outcome"] = "rank-deficient optimum (d < K)"
        else:
            out["outcome"] = "rank-deficient stationary point"
    else:
        nc1 = collapse.dnc_report(H1, Ws, "relu")["nc1"].max()
        if rank == K:
            out["outcome"] = "collapsed optimum" if nc1 < 1e-6 else "not converged"
        else:
            out["outcome"] = "rank-deficient stationary point"
    return out


def classify_runs(runs, ratios) -> dict[str, np.ndarray]:
    """Classify every model of a list of λ batches, one batch per width.

    The dict holds arrays of shape (widths, ratios) for ``outcome``, ``predicted``, ``rank`` and
    ``loss_ratio`` (the loss over its minimum), and the axes ``width`` and ``ratio``.
    """
    rows = {k: [] for k in ("width", "outcome", "predicted", "rank", "loss_ratio")}
    for result in runs:
        found = [classify(result, b) for b in range(len(ratios))]
        rows["width"].append(result.config.d)
        rows["outcome"].append([f["outcome"] for f in found])
        rows["predicted"].append([f["predicted"] for f in found])
        rows["rank"].append([f["rank"] for f in found])
        rows["loss_ratio"].append([f["loss"] / f["loss_optimal"] for f in found])
    out = {k: np.asarray(v) for k, v in rows.items()}
    out["ratio"] = np.asarray(ratios, dtype=np.float64)
    return out


def outcome_counts(classes) -> dict:
    """A table of how many runs ended in each outcome, one row per width.

    Only outcomes that occur get a column: ``{"header": [...], "rows": [[...], ...]}``.
    """
    seen = [o for o in OUTCOMES if np.any(classes["outcome"] == o)]
    rows = [
        [f"d = {d}", *[int(np.sum(found == o)) for o in seen]]
        for d, found in zip(classes["width"], classes["outcome"], strict=True)
    ]
    return {"header": ["width", *seen], "rows": rows}


def _ratios(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def describe_disagreements(classes) -> str:
    """One sentence per kind of disagreement between the runs' outcomes and the closed form.

    Each sentence says how many runs ended elsewhere than the closed form's global optimum, and at
    which widths and ratios.
    """
    found, predicted = classes["outcome"], classes["predicted"]
    kinds = sorted(
        {(p, f) for p, f in zip(predicted.ravel(), found.ravel(), strict=True) if p != f}
    )
    if not kinds:
        return "Every run ends where the closed form puts the global optimum."
    sentences = []
    for p, f in kinds:
        parts = []
        for i, d in enumerate(classes["width"]):
            hit = (predicted[i] == p) & (found[i] == f)
            if hit.any():
                parts.append(f"d = {d} at ratio {_ratios(classes['ratio'][hit])}")
        count = int(np.sum((predicted == p) & (found == f)))
        if f == "not converged":
            ending = "had not converged"
        elif f == "zero solution":
            ending = "ended at the zero solution"
        else:
            ending = f"ended at a {f}"
        sentences.append(
            f"{count} run{'s' if count > 1 else ''} where the global optimum is the {p} "
            f"{ending} ({'; '.join(parts)})."
        )
    return " ".join(sentences)
