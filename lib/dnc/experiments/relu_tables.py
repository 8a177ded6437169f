"""Paper A's Tables 1–4 (ReLU deep UFM, §5.2 and App. G.2) measured on a batch of seeds.

Table 1: f_cc' = |vᵀHess_l v|²/(‖v‖²‖Hess_l v‖²) for v = μ_c^(l+1) ⊗ μ_c'^(l), sorted descending.
Table 2: share (uᵀg̃)²/‖g̃‖² of the data gradient along each top-K² eigenvector u of Hess_l, sorted.
Table 3: r_c'c'' = |a_c' · a_c''| for the rows of A^(l+1) = W_L⋯W_{l+1}, l = 1..L−1.
Table 4: r̃_c'c'' = Av_ic |ã_icc' · ã_icc''| for the masked products Ã_ic^(l+1).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.optimize import brentq

from dnc.experiments.paper_a import branch_end_ratio, lambda_for_ratio
from dnc.spectra import gradients, hessian, matrices, predictions
from dnc.ufm import linear_optimum, regularisation_ratio

# Published values (paper A v1, one seed after 10⁶ epochs; Tables 1–4). Facts from the paper.
PAPER_TABLE1 = (0.997, 0.961, 0.939, 0.867, 0.859, 0.827, 0.791, 0.703, 0.673)
PAPER_TABLE2 = (0.425, 0.288, 0.287, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
PAPER_TABLE3 = (
    (12.05, 12.05, 12.05, 3.7e-3, 6.8e-3, 3.3e-3),
    (7.32, 7.32, 7.32, 7.6e-5, 2.4e-2, 8.5e-3),
    (4.45, 4.45, 4.45, 4.2e-3, 1.4e-2, 6.0e-3),
    (2.71, 2.71, 2.71, 3.7e-3, 6.8e-3, 3.3e-3),
)
PAPER_TABLE4 = (
    (0.32, 0.10, 0.078, 1.6e-4, 1.6e-3, 5.2e-4),
    (0.12, 0.23, 0.15, 8.6e-5, 2.4e-7, 2.0e-4),
    (0.33, 0.77, 0.81, 1.4e-3, 1.9e-3, 2.3e-3),
    (1.27, 1.12, 1.21, 4.0e-3, 1.1e-3, 8.5e-3),
)
# Columns of Tables 3 and 4: (c', c'') = 11, 22, 33, 12, 13, 23.
PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def tables(H1, Ws, layer: int, activation: str = "relu") -> dict[str, np.ndarray]:
    """Tables 1–4 of one model, in the paper's column order (K = 3).

    Returns ``table1`` (K²,), ``table2`` (K²,), ``table3`` and ``table4`` (L−1, 6); Tables 1
    and 2 sorted in descending order. Raises ValueError unless K = 3.
    """
    K = Ws[-1].shape[0]
    if K != 3:
        raise ValueError(f"paper A's Tables 3 and 4 have K = 3 classes, got K = {K}")
    f = predictions.predicted_alignments(H1, Ws, layer, activation).ravel()
    _, vecs = hessian.top_eigenpairs(H1, Ws, layer, K * K, activation)
    shares = hessian.coefficients(gradients.data_gradient(H1, Ws, layer, activation), vecs)
    r = matrices.row_overlaps(Ws)
    rt = matrices.masked_row_overlaps(H1, Ws, activation)
    pick = np.array(PAIRS).T
    return {
        "table1": np.sort(f)[::-1],
        "table2": np.sort(shares)[::-1],
        "table3": r[:, pick[0], pick[1]],
        "table4": rt[:, pick[0], pick[1]],
    }


def over_seeds(result, layer: int, epoch: int | None = None) -> dict[str, np.ndarray]:
    """:func:`tables` for every model of a batch at ``epoch`` (default: the last), seeds first.

    Each table is stacked on a leading seed axis.
    """
    per_seed = [
        tables(*result.params(epoch, b), layer, result.config.activation)
        for b in range(len(result.seeds))
    ]
    return {k: np.stack([t[k] for t in per_seed]) for k in per_seed[0]}


def diagonal(table: np.ndarray) -> np.ndarray:
    """The diagonal columns (r_11, r_22, r_33) of Table 3 or 4, shape (..., L−1, 3)."""
    return np.asarray(table)[..., :3]


def diagonal_spread(table: np.ndarray) -> np.ndarray:
    """Max/min − 1 of the diagonal at each layer: 0 for an equal-norm (orthogonal-frame) one."""
    diag = diagonal(table)
    return diag.max(axis=-1) / diag.min(axis=-1) - 1.0


def decay_per_layer(table: np.ndarray) -> np.ndarray:
    """Ratio of the mean diagonal of Table 3 at layer l to that at layer l + 1, l = 1..L−2."""
    mean = diagonal(table).mean(axis=-1)
    return mean[..., :-1] / mean[..., 1:]


def mean_sd(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation over ``axis`` (the seeds)."""
    values = np.asarray(values, dtype=np.float64)
    return values.mean(axis=axis), values.std(axis=axis, ddof=1)


def number(x: float) -> str:
    """Three significant figures, scientific below 10⁻² (as the paper prints its tables)."""
    if x == 0:
        return "0"
    return f"{x:.2e}" if abs(x) < 1e-2 else f"{x:.3g}"


def pm(values, axis: int = 0, fmt=None) -> list:
    """'mean ± s.d.' strings over ``axis`` (each number through ``fmt``, default :func:`number`)."""
    fmt = fmt or number
    mean, sd = mean_sd(values, axis)
    return [f"{fmt(m)} ± {number(s)}" for m, s in zip(np.ravel(mean), np.ravel(sd), strict=True)]


def four_decimals(x: float) -> str:
    """Four decimals, for alignments that crowd towards 1 (0.99996 must not print as 1)."""
    return f"{x:.4f}"


def ranked_rows(measured, paper, single=None, labels=("",), fmt=None) -> list[list[str]]:
    """Rows of Table 1 or 2: the paper's sorted values, ours as mean ± s.d. over seeds.

    Optionally one further run (``single``) adds a third row; ``labels`` holds the rows' first
    cells. Our numbers go through ``fmt`` (default :func:`number`).
    """
    fmt = fmt or number
    rows = [[labels[0], *[number(v) for v in paper]], [labels[1], *pm(measured, fmt=fmt)]]
    if single is not None:
        rows.append([labels[2], *[fmt(v) for v in single]])
    return rows


def layer_rows(measured, paper) -> list[list[str]]:
    """Rows of Table 3 or 4, one per layer: 'ours mean ± s.d. (paper value)' in each cell."""
    mean, sd = mean_sd(measured)
    rows = []
    for l, (m_row, s_row, p_row) in enumerate(zip(mean, sd, paper, strict=True), start=1):
        cells = [
            f"{number(m)} ± {number(s)} ({number(p)})"
            for m, s, p in zip(m_row, s_row, p_row, strict=True)
        ]
        rows.append([f"l = {l}", *cells])
    return rows


def structure(H1, Ws, layer: int, activation: str = "relu") -> dict:
    """What §5.2 checks beyond the tables, for one model.

    The number of Hessian outliers and of each knockout's (max 2K²), the relative spread
    (max/min − 1) of the top K² Hessian and top K weight eigenvalues, the gap between outliers and
    bulk, and how many top-K² eigenvectors carry more than 1% of the data gradient (None unless
    K = 3).
    """
    K = Ws[-1].shape[0]
    spectrum = hessian.layer_hessian_spectrum(H1, Ws, layer, activation)
    knock = {
        name: hessian.outlier_count(vals, 2 * K * K)
        for name, vals in hessian.knockout_spectra(H1, Ws, layer, activation).items()
    }
    weights = matrices.weight_gram_spectrum(Ws[layer - 1])
    top = spectrum[: K * K]
    shares = tables(H1, Ws, layer, activation)["table2"] if K == 3 else None
    return {
        "outliers": hessian.outlier_count(spectrum, 2 * K * K),
        "knockouts": knock,
        "hessian_spread": float(top.max() / top.min() - 1),
        "weight_spread": float(weights[0] / weights[K - 1] - 1),
        "bulk_gap": float(top.min() / spectrum[K * K]),
        "gradient_directions": None if shares is None else int(np.sum(shares > 1e-2)),
    }


def linear_decay(config) -> float:
    """The factor by which Table 3's diagonal falls per layer at the linear closed form.

    The point is the collapsed stationary point with the same λ's: σ_{W_l}² = c s^{2/q}/λ_{W_l},
    s the nonzero minimiser of φ (the global optimum below condition (2)'s threshold, a local one
    above it; 0 past the branch). The λ used is that of W_{L−1}.
    """
    opt = linear_optimum(config.K, config.n, config.lambda_W_list, config.lambda_H)
    q = config.L + 1
    c = float(np.prod(config.lambda_W_list) * config.lambda_H) ** (1 / q)
    return c * opt.local_sv ** (2 / q) / config.lambda_W_list[-2]


def lambda_for_decay(config, factor: float) -> float:
    """The common λ at which the linear closed form has Table 3 falling by ``factor`` per layer.

    The closed form is the linear model's collapsed stationary point; λ is found by bisection in
    log λ on the nonzero branch, and is NaN when no λ there gives ``factor``.
    """
    end = lambda_for_ratio(
        config.K, config.n, config.L, branch_end_ratio(config.K, config.n, config.L)
    )

    def gap(log_lam):
        lam = float(np.exp(log_lam))
        return linear_decay(replace(config, lambda_W=lam, lambda_H=lam)) - factor

    lo, hi = np.log(1e-8), np.log(end * (1 - 1e-9))
    if gap(lo) * gap(hi) > 0:
        return float("nan")  # no λ on the nonzero branch gives this factor at these sizes
    return float(np.exp(brentq(gap, lo, hi, xtol=1e-13)))


def describe_paper_decay(config, factor: float) -> str:
    """A sentence on the common λ at which the linear closed form falls by the paper's ``factor``.

    The sentence says on which side of condition (2)'s threshold that λ lies (or that none
    exists).
    """
    lam = lambda_for_decay(config, factor)
    if not np.isfinite(lam):
        return (
            f"At n = {config.n} no common λ on the nonzero branch of the linear closed form gives "
            f"that factor, so the comparison needs the paper's sizes (the `paper` profile)."
        )
    ratio = regularisation_ratio(config.K, config.n, [lam] * config.L, lam)
    side = "below" if ratio < 1 else "above"
    return (
        f"If the paper's model followed the same law, that factor would need a common λ of "
        f"{lam:.4f}, {side} the threshold of condition (2) (ratio {ratio:.2f})."
    )


def width_summary(by_width: dict, label: str = "width d") -> dict:
    """Tables 1–4 condensed per width, as a ``header`` and ``rows`` of 'mean ± s.d.' strings.

    ``by_width`` maps d → :func:`over_seeds` output (any other key, e.g. a learning rate, with
    its ``label``). Columns: smallest f_cc', number of f_cc' above 0.999, share of the data
    gradient on the top K eigenvectors, Table 3's decay per layer, and the largest spread of
    Table 4's diagonal.
    """
    header = [
        label,
        "seeds",
        "smallest f_cc'",
        "f_cc' > 0.999",
        "top-K gradient share",
        "Table 3 decay per layer",
        "Table 4 diagonal spread (max)",
    ]
    rows = []
    for d, T in by_width.items():
        K = int(round(np.sqrt(T["table1"].shape[1])))
        rows.append(
            [
                f"{d}",
                f"{T['table1'].shape[0]}",
                pm(T["table1"][:, -1])[0],
                pm((T["table1"] > 0.999).sum(axis=1))[0],
                pm(T["table2"][:, :K].sum(axis=1))[0],
                pm(decay_per_layer(T["table3"]).mean(axis=1))[0],
                pm(diagonal_spread(T["table4"]).max(axis=1))[0],
            ]
        )
    return {"header": header, "rows": rows}


def _where(widths, holds) -> str:
    chosen = [d for d, h in zip(widths, holds, strict=True) if h]
    if len(chosen) == len(widths):
        return "at every width"
    if not chosen:
        return "at no width"
    return "only at d = " + ", ".join(str(d) for d in chosen)


def describe_widths(by_width: dict, linear_decay: float, rtol: float = 0.02) -> str:
    """Sentences saying at which widths each of four properties holds in every seed.

    The properties: Table 3 falling at the linear closed form's rate (within ``rtol``), exactly K
    eigenvectors with more than 1% of the gradient, all K² alignments above 0.99, and Table 4's
    diagonal constant to 1%.
    """
    widths = list(by_width)
    T = list(by_width.values())
    K = int(round(np.sqrt(T[0]["table1"].shape[1])))
    decay_ok = [
        bool(np.all(np.abs(decay_per_layer(t["table3"]) / linear_decay - 1) < rtol)) for t in T
    ]
    grad_ok = [bool(np.all((t["table2"] > 1e-2).sum(axis=1) == K)) for t in T]
    f_ok = [bool(np.all(t["table1"] > 0.99)) for t in T]
    t4_ok = [bool(np.all(diagonal_spread(t["table4"]) < 1e-2)) for t in T]
    return (
        f"In every seed, Table 3's diagonal falls at the linear closed form's rate "
        f"({linear_decay:.3f} per layer, within {rtol:.0%}) {_where(widths, decay_ok)}; exactly "
        f"K = {K} eigenvectors carry more than 1% of the data gradient {_where(widths, grad_ok)}; "
        f"all K² = {K * K} values of f_cc' exceed 0.99 {_where(widths, f_ok)}; and Table 4's "
        f"diagonal is constant to 1% at every layer {_where(widths, t4_ok)}."
    )


def within_seed_range(measured, paper) -> int:
    """How many of the paper's values lie within [min, max] of ours over seeds, rank by rank."""
    measured = np.asarray(measured)
    paper = np.asarray(paper)
    return int(np.sum((paper >= measured.min(axis=0)) & (paper <= measured.max(axis=0))))


def last_decade_exponent(epochs, values) -> float:
    """Slope of log(values) against log(epochs) over the last decade of epochs."""
    epochs = np.asarray(epochs, dtype=np.float64)
    last = epochs >= epochs[-1] / 10
    return float(np.polyfit(np.log(epochs[last]), np.log(np.asarray(values)[last]), 1)[0])


def trend(exponent: float) -> str:
    """Words for a power-law exponent: below −0.2 shrinking, above 0.2 not, else levelled off."""
    if exponent < -0.2:
        return "was still shrinking when the run stopped"
    if exponent > 0.2:
        return "was not shrinking over the last decade"
    return "had roughly levelled off"


def frame_findings(T: dict, config, rtol: float = 0.02) -> tuple[dict, dict]:
    """What Tables 3 and 4 over seeds say about the orthogonal frame, as (numbers, words).

    numbers: ``decay`` (per seed, mean over layers), its 'mean ± s.d.' text, the paper's decay,
    the linear closed form's, the gap to the paper in seed standard deviations, the largest
    relative spread of Table 3's diagonal and its largest off-diagonal entry over its smallest
    diagonal one, Table 4's diagonal spreads (range, and how many (seed, layer) pairs are constant
    to 1%), and the paper's smallest Table 4 spread. words: ``decay_verdict`` (whether ours matches
    the closed form within ``rtol``) and ``paper_lambda`` (:func:`describe_paper_decay`).
    """
    decay = decay_per_layer(T["table3"]).mean(axis=1)
    paper_decay = float(decay_per_layer(np.array(PAPER_TABLE3)).mean())
    closed = linear_decay(config)
    t4 = diagonal_spread(T["table4"])
    numbers = {
        "decay": decay,
        "decay_text": pm(decay)[0],
        "paper_decay": paper_decay,
        "linear_decay": closed,
        "decay_gap_in_sd": abs(decay.mean() - paper_decay) / float(np.std(decay, ddof=1)),
        "t3_spread": float(diagonal_spread(T["table3"]).max()),
        "t3_off": float(T["table3"][..., 3:].max() / diagonal(T["table3"]).min()),
        "t4_spread_range": f"{t4.min():.1e} to {t4.max():.1e}",
        "n_t4_constant": int(np.sum(t4 < 1e-2)),
        "n_t4": int(t4.size),
        "paper_t4_spread": float(diagonal_spread(np.array(PAPER_TABLE4)).min()),
    }
    change = abs(decay.mean() / closed - 1)
    words = {
        "decay_verdict": "matches it" if change < rtol else f"differs from it by {change:.0%}",
        "paper_lambda": describe_paper_decay(config, paper_decay),
    }
    return numbers, words
