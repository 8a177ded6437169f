"""What reproduces: one row per headline claim of every chapter of the two paper parts.

A chapter's row function, registered with ``@rows(chapter, title)``, calls the same ``dnc``
functions as the chapter (they read the chapter's runs from the cache) and returns :class:`Row`
s, each with a computed verdict. Adding a claim is adding a ``Row`` to its chapter's function.
:func:`part_table` and :func:`summary_table` write the verdicts as Markdown for the book.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from dnc import profile, ufm
from dnc.agop import rfm, steps
from dnc.agop import theory as th
from dnc.book import markdown_table, mean_sd, significant
from dnc.experiments import ce_optimum, paper_a, paper_a_later, paper_b, realnet, relu_tables
from dnc.experiments.relu_tables import verdict
from dnc.figures import paper_a_relu
from dnc.spectra import cross_entropy, eigenbases, gradients, hessian, matrices, predictions
from dnc.ufm import collapse, outcomes

VERDICTS = ("holds", "partly", "not")
# The chapters of each paper part, in the order of _toc.yml (tests/unit/test_reproduction.py
# holds them to it); each part ends with its verdict page, which has no rows of its own.
PARTS = {
    "A": (
        "deep_linear_ufm",
        "hessian_kronecker",
        "papyan_decomposition",
        "gradient_alignment",
        "weight_spectra",
        "other_matrices",
        "relu_ufm",
        "cross_entropy",
        "full_hessian",
        "real_networks",
    ),
    "B": ("agop_mechanism", "deep_rfm", "random_features", "agop_theory"),
}
PAGES = {"A": "reproduces_a", "B": "reproduces_b"}
HEADER = ("chapter", "claim", "paper", "ours", "verdict", "why")


@dataclass(frozen=True)
class Row:
    """One claim: what the paper says, what we measure, the verdict, why, and where.

    ``link`` is the MyST label of the evidence (a section); empty, its chapter's label.
    """

    claim: str
    paper: str
    ours: str
    verdict: str
    why: str = ""
    link: str = ""

    def __post_init__(self):
        """Raise ValueError for a verdict not in :data:`VERDICTS` or a link that is no label."""
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if any(ch.isspace() or ch in "`<>" for ch in self.link):
            raise ValueError(f"link must be a MyST label, got {self.link!r}")


REGISTRY: dict[str, tuple[str, Callable[[], list[Row]]]] = {}


def rows(chapter: str, title: str):
    """Register the decorated function as the row function of ``chapter`` (shown as ``title``)."""

    def register(function):
        REGISTRY[chapter] = (title, function)
        return function

    return register


def label(chapter: str) -> str:
    """The MyST label of a chapter: its file name with hyphens, ``relu_ufm`` → ``relu-ufm``."""
    return chapter.replace("_", "-")


def fmt(values, digits: int = 2) -> str:
    """A number to ``digits`` significant figures; several (one per seed) as mean ± s.d."""
    x = np.asarray(values, dtype=np.float64).ravel()
    return significant(x[0], digits) if x.size == 1 else mean_sd(x, digits)


def holds_if(ok) -> str:
    """'holds' when the comparison passes, else 'not'."""
    return "holds" if bool(ok) else "not"


def why_not(found: str, reason: str, criterion: str = "") -> str:
    """The why cell: ``criterion`` always, ``reason`` only where the verdict is not 'holds'."""
    return "; ".join(t for t in (criterion, "" if found == "holds" else reason) if t)


@cache
def _chapter_rows(chapter: str, profile_name: str) -> tuple[Row, ...]:
    found = REGISTRY[chapter][1]()
    return tuple(replace(r, link=r.link or label(chapter)) for r in found)


def chapter_rows(chapter: str) -> list[Row]:
    """The rows of ``chapter`` in the current profile (computed once per process)."""
    return list(_chapter_rows(chapter, profile.current()))


def counts(chapters) -> dict[str, int]:
    """{verdict: how many rows of ``chapters`` have it}, for every verdict."""
    found = [r.verdict for c in chapters for r in chapter_rows(c)]
    return {v: found.count(v) for v in VERDICTS}


def part_table(part: str) -> str:
    """The Markdown table of part ``part`` ("A" or "B"): one row per claim, chapters in order.

    The chapter cell links to the row's label when it differs from the row above.
    """
    lines, previous = [], None
    for chapter in PARTS[part]:
        title = REGISTRY[chapter][0]
        for row in chapter_rows(chapter):
            where = f"{{ref}}`{title} <{row.link}>`" if row.link != previous else ""
            previous = row.link
            cells = [row.claim, row.paper, row.ours, f"**{row.verdict}**", row.why or "—"]
            lines.append([where, *(cell.replace("|", "\\|") for cell in cells)])
    return markdown_table(HEADER, lines)


def summary_table() -> str:
    """The Markdown table of the whole book: verdict counts per chapter and per part."""
    lines = []
    for part, chapters in PARTS.items():
        for chapter in chapters:
            n = counts([chapter])
            title = f"{{ref}}`{REGISTRY[chapter][0]} <{label(chapter)}>`"
            lines.append([part, title, sum(n.values()), *n.values()])
        n = counts(chapters)
        page = f"{{ref}}`all of paper {part} <{label(PAGES[part])}>`"
        lines.append([f"**{part}**", page, sum(n.values()), *(f"**{v}**" for v in n.values())])
    return markdown_table(["paper", "chapter", "claims", *VERDICTS], lines)


# --- paper A --------------------------------------------------------------------------------


@rows("deep_linear_ufm", "Deep linear UFM")
def _deep_linear_ufm() -> list[Row]:
    c = paper_a.deep_linear_setting().config
    run = paper_a.deep_linear_run()
    varied = paper_a.varied_lambda_setting()
    vc = varied.config
    gaps = [
        abs(r.final_loss[0] - o.loss) / o.loss
        for r, o in (
            (run, ufm.linear_optimum(c.K, c.n, c.lambda_W_list, c.lambda_H)),
            (paper_a.run(varied), ufm.linear_optimum(vc.K, vc.n, vc.lambda_W_list, vc.lambda_H)),
        )
    ]
    report = collapse.dnc_report(*run.params())
    worst = max(report[k].max() for k in ("nc1", "orthogonal", "norm_spread", "dnc3"))
    phase = outcomes.classify_runs(paper_a.phase_runs("linear"), paper_a.phase_setting()["ratios"])
    agree = int(np.sum(phase["outcome"] == phase["predicted"]))
    ends = verdict(agree, phase["outcome"].size)
    return [
        Row(
            "under condition (2) the global optimum is collapsed at every layer (Thm 3.1)",
            "DNC1–DNC3 hold exactly",
            f"objective at the closed-form minimum to {fmt(max(gaps))} (tolerance 1e-6, equal "
            f"and varied λ); DNC residuals ≤ {fmt(worst)} (tolerance 1e-8)",
            holds_if(max(gaps) < 1e-6 and worst < 1e-8),
        ),
        Row(
            "condition (2) decides where training ends, over λ and width (later version)",
            "collapsed below the bound, zero above it",
            f"{agree} of {phase['outcome'].size} runs end at the closed form's global optimum",
            ends,
            why_not(ends, "gradient descent can stop at other local minima or stationary points"),
        ),
    ]


def _deep_linear():
    """(setting, config, layer, run) of the deep linear run that five chapters share."""
    setting = paper_a.deep_linear_setting()
    return setting, setting.config, setting.layer, paper_a.deep_linear_run()


@rows("hessian_kronecker", "Kronecker Hessian")
def _hessian_kronecker() -> list[Row]:
    setting, c, l, run = _deep_linear()
    H1, Ws = run.params()
    spectrum = hessian.layer_hessian_spectrum(H1, Ws, l)
    top, rest = spectrum[: c.K**2], spectrum[c.K**2 :]
    spread = (top.max() - top.min()) / top.max()
    predicted = predictions.predicted_outlier_eigenvalues(H1, Ws, l)
    error = np.max(np.abs(predicted - top.mean())) / top.mean()
    misaligned = max(1 - predictions.predicted_alignments(H1, Ws, l).min(), 0.0)
    spectra = [hessian.layer_hessian_spectrum(*run.params(e), l) for e in setting.figure_epochs[1:]]
    separated = [hessian.outlier_count(v, 2 * c.K**2) == c.K**2 for v in spectra]
    spreads = np.array([(v[0] - v[c.K**2 - 1]) / v[0] for v in spectra])
    first = separated.index(True) if any(separated) else len(separated)
    stays = 0 < len(separated) - first and all(separated[first:])
    return [
        Row(
            f"Hess_l has exactly K² = {c.K**2} equal nonzero eigenvalues at the optimum (Thm 4.1)",
            f"rank {c.K**2}, all equal to λ*",
            f"spread {fmt(spread)} (tolerance 1e-8); rest ≤ {fmt(rest.max() / top.max())} of "
            "the top (tolerance 1e-10)",
            holds_if(spread < 1e-8 and rest.max() < 1e-10 * top.max()),
        ),
        Row(
            "the outliers have eigenvectors μ_c^(l+1) ⊗ μ_c'^(l) and value λ* (Thm 4.1)",
            "exact",
            f"1 − min f_cc' = {fmt(misaligned)}, λ* off by {fmt(error)} (tolerance 1e-8)",
            holds_if(misaligned < 1e-8 and error < 1e-8),
        ),
        Row(
            "the K² outliers leave the bulk early and equalise later (Fig. 3)",
            "separate, then merge into one value",
            f"{c.K**2} outliers at every figure epoch from "
            f"{setting.figure_epochs[1:][first] if stays else 'none'} on; their spread "
            f"{fmt(spreads[0])} → {fmt(spreads[-1])}",
            holds_if(stays and np.all(np.diff(spreads) < 0)),
            "criterion: once separated, they stay so, and the spread falls at every epoch shown",
        ),
    ]


@rows("papyan_decomposition", "Papyan's decomposition")
def _papyan_decomposition() -> list[Row]:
    setting, c, l, run = _deep_linear()
    K = c.K
    want = {"Hess": K * K, "minus class": K * (K - 1), "minus cross": K, "minus within": K * K}
    found = [
        {n: hessian.outlier_count(v, 2 * K * K) for n, v in hessian.knockout_spectra(*p, l).items()}
        for p in (run.params(e) for e in setting.knockout_epochs)
    ]
    parts = hessian.papyan_components(*run.params(setting.knockout_epochs[-1]), l)
    within = np.sum(parts["within"] ** 2) / sum(np.sum(U**2) for U in parts.values())
    overlap = np.linalg.norm(parts["class"] @ parts["cross"].T) / (
        np.linalg.norm(parts["class"]) * np.linalg.norm(parts["cross"])
    )
    removed_by_cross = K * K - found[-1]["minus cross"]
    n_ok = sum(f == want for f in found)
    sentence = holds_if(removed_by_cross == K)
    return [
        Row(
            "knockouts leave K(K−1), K and K² outliers (Thm 4.2, Figs 5–6)",
            f"{K * (K - 1)}, {K}, {K * K}",
            f"exact at {n_ok} of {len(found)} epochs (early and late): "
            + ", ".join(str(found[-1][n]) for n in ("minus class", "minus cross", "minus within")),
            verdict(n_ok, len(found)),
        ),
        Row(
            "at the optimum G_within vanishes and the class and cross ranges are orthogonal",
            "exact (Thm 4.2)",
            f"within share {fmt(within)} (tolerance 1e-12), overlap {fmt(overlap)} (1e-8)",
            holds_if(within < 1e-12 and overlap < 1e-8),
        ),
        Row(
            "§5.1: removing G_cross knocks out K outliers, removing G_class K(K−1)",
            f"{K} and {K * (K - 1)}",
            f"removing G_cross knocks out {removed_by_cross}",
            sentence,
            why_not(sentence, "the sentence swaps the two; Thm 4.2 and the counts agree"),
        ),
    ]


@rows("gradient_alignment", "Gradient alignment")
def _gradient_alignment() -> list[Row]:
    setting, c, l, run = _deep_linear()
    H1, Ws = run.params()
    f = gradients.natural_basis_coefficients(H1, Ws, l)
    diag_error = np.max(np.abs(np.diag(f) - 1 / c.K))
    off = f[~np.eye(c.K, dtype=bool)].max()
    g = gradients.data_gradient(H1, Ws, l)
    error = np.linalg.norm(g - gradients.predicted_data_gradient(H1, Ws, l)) / np.linalg.norm(g)
    natural = eigenbases.squared_coefficients(g, eigenbases.natural_basis(H1, Ws, l))
    early = setting.early_epochs[len(setting.early_epochs) // 4]
    coef_early = gradients.top_eigenvector_coefficients(*run.params(early), l)
    counts_k = [int(np.sum(natural > 1e-8)), int(np.sum(coef_early > 1e-2))]
    moves = paper_a.top_eigenspace_overlaps(run, l)
    settled = int(moves["epoch"][np.flatnonzero(moves["final"] < 0.99).max() + 1])
    k_of = verdict(sum(n == c.K for n in counts_k), 2)
    return [
        Row(
            "the data gradient is an equal-weight sum of the K diagonal μ ⊗ μ (Thm 4.3)",
            f"coefficients 1/K = {1 / c.K:.3f} on c = c', 0 off it",
            f"diagonal off by {fmt(diag_error)}, off-diagonal ≤ {fmt(off)}, formula within "
            f"{fmt(error)} (tolerance 1e-8)",
            holds_if(max(diag_error, off, error) < 1e-8),
        ),
        Row(
            "K of the K² top eigenvectors carry the gradient (after Gur-Ari et al.)",
            f"K = {c.K}",
            f"{counts_k[0]} in the natural basis at the end; {counts_k[1]} (> 1%) in the "
            f"eigenbasis at epoch {early}, where it is determined",
            k_of,
            why_not(k_of, "the count depends on the basis; f_top = 1 is the basis-free claim"),
        ),
        Row(
            "the top eigenspace stops moving early (Gur-Ari et al., App. C)",
            "early in training",
            f"overlap with the final eigenspace > 0.99 from epoch {settled} of {run.epochs}",
            holds_if(settled < 0.1 * run.epochs),
            "criterion: within the first tenth of training",
        ),
    ]


@rows("weight_spectra", "Weight spectra")
def _weight_spectra() -> list[Row]:
    varied = paper_a.varied_lambda_setting()
    vc = varied.config
    H1, Ws = paper_a.run(varied).params()
    balance = matrices.balance_residuals(H1, Ws, vc.lambda_W_list, vc.lambda_H)
    predicted = matrices.predicted_weight_gram_eigenvalues(H1, Ws, vc.lambda_W_list, vc.lambda_H)
    top = [matrices.weight_gram_spectrum(W)[: vc.K] for W in Ws]
    error = max(np.max(np.abs(t - p)) / p for t, p in zip(top, predicted, strict=True))
    printed = min(np.max(np.abs(t - predicted[0])) / predicted[0] for t in top[1:])
    setting, c, l, run = _deep_linear()
    K = c.K
    spectra = [
        matrices.weight_gram_spectrum(run.params(e)[1][l - 1]) for e in setting.figure_epochs[1:]
    ]
    bulk = np.array([v[K] / v[0] for v in spectra])
    spreads = np.array([(v[0] - v[K - 1]) / v[0] for v in spectra])
    as_printed = holds_if(printed < 1e-8)
    return [
        Row(
            "balance holds and W_lᵀW_l has K equal eigenvalues (λ_H/λ_{W_l}) n‖μ_c‖² (Thm 4.4)",
            "exact at the optimum",
            f"balance residual ≤ {fmt(balance.max())}, eigenvalues off by {fmt(error)} "
            "(tolerance 1e-8, a different λ on every layer)",
            holds_if(balance.max() < 1e-8 and error < 1e-8),
        ),
        Row(
            "Thm 4.4's eigenvalue as printed in our copy, with λ_{W_1} for λ_{W_l}",
            "(λ_H/λ_{W_1}) n‖μ_c‖²",
            f"off by ≥ {fmt(printed)} on every layer l ≥ 2 (tolerance 1e-8)",
            as_printed,
            why_not(as_printed, "a slip or an extraction artefact: Appendix D derives λ_{W_l}"),
        ),
        Row(
            "K weight outliers separate from the bulk and equalise (Fig. 8)",
            f"K = {K} outliers",
            f"bulk/top {fmt(bulk[0])} → {fmt(bulk[-1])}, spread {fmt(spreads[0])} → "
            f"{fmt(spreads[-1])} over the figure epochs",
            holds_if(np.all(np.diff(bulk) < 0) and np.all(np.diff(spreads) < 0)),
            "criterion: both fall from each figure epoch to the next",
        ),
    ]


@rows("other_matrices", "Other matrices")
def _other_matrices() -> list[Row]:
    setting, c, l, run = _deep_linear()
    K = c.K
    H1, Ws = run.params()
    found = matrices.appendix_e_outliers(H1, Ws, l)
    n = {k: len(v["measured"]) for k, v in found.items()}
    want = {"C": K - 1, "Delta large": K - 1, "Delta small": 1, "HtH": K}
    error = max(
        np.max(np.abs(v["measured"] - v["predicted"])) / v["predicted"] for v in found.values()
    )
    r = matrices.row_overlaps(Ws)
    spread = max(np.ptp(np.diag(t)) / np.diag(t).mean() for t in r)
    off = max((t - np.diag(np.diag(t))).max() / np.diag(t).mean() for t in r)
    return [
        Row(
            "C^(l), Δ^(l) and H^(l)ᵀH^(l) have K−1, K−1 + 1 and K outliers of given value (App. E)",
            f"{K - 1}, {K - 1} + 1, {K}",
            f"{n['C']}, {n['Delta large']} + {n['Delta small']}, {n['HtH']}; values within "
            f"{fmt(error)} (tolerance 1e-8)",
            holds_if(n == want and error < 1e-8),
        ),
        Row(
            "the rows of A^(l+1) form an orthogonal frame (App. G.2, Table 3, linear model)",
            "equal diagonal, zero off it",
            f"diagonal spread {fmt(spread)}, off-diagonal ≤ {fmt(off)} of it (tolerance 1e-8)",
            holds_if(spread < 1e-8 and off < 1e-8),
        ),
    ]


@rows("relu_ufm", "ReLU deep UFM")
def _relu_ufm() -> list[Row]:
    """The chapter's own table (:func:`dnc.experiments.relu_tables.synthesis`), from its runs."""
    setting, run = paper_a.relu_setting(), paper_a.relu_run()
    c, l = setting.config, setting.layer
    seeds, lr_run = paper_a.relu_seeds_run(), paper_a.relu_lr_run()
    epoch = paper_a.relu_width_runs()[0].epochs
    same_time = relu_tables.over_seeds(seeds, l, epoch)["table1"][:3]
    lr_f = float(np.abs(relu_tables.over_seeds(lr_run, l)["table1"] - same_time).max())
    tracks = paper_a_relu.convergence_tracks(run, l)
    facts = dict(
        K=c.K,
        L=c.L,
        seed_epochs=seeds.epochs,
        full_epochs=run.epochs,
        hess_slope=relu_tables.last_decade_exponent(tracks["epochs"], tracks["hessian_spread"] - 1),
        lr_f=lr_f,
        linear_decay=relu_tables.linear_decay(c),
    )
    per_seed = [relu_tables.structure(*seeds.params(b=b), l) for b in range(len(seeds.seeds))]
    table = relu_tables.synthesis(
        per_seed,
        relu_tables.structure(*run.params(), l),
        relu_tables.over_seeds(seeds, l),
        relu_tables.tables(*run.params(), l),
        facts,
    )
    return [Row(*cells, link="relu-synthesis") for cells in table["rows"]]


@rows("cross_entropy", "Cross-entropy")
def _cross_entropy() -> list[Row]:
    setting, run = paper_a_later.cross_entropy_setting(), paper_a_later.cross_entropy_run()
    c, l = setting.config, setting.layer
    K = c.K
    H, Ws = run.params()
    rank, large = cross_entropy.outlier_groups(
        hessian.layer_hessian_spectrum(H, Ws, l, loss="ce"), 2 * K * K
    )
    sweep_s = ce_optimum.sweep_setting()
    group_error = 0.0
    for k in sweep_s.classes:
        measured, margin = ce_optimum.trained_groups(k, 1, sweep_s.lambdas[0])
        values, n = cross_entropy.collapsed_hessian_groups(k, margin)
        group_error = max(group_error, np.abs(measured - np.repeat(values, n)).max())
    coefficients = cross_entropy.gradient_coefficients(H, Ws, l)
    shares = np.where(np.eye(K, dtype=bool), 1 / (K - 1), 1 / (K - 1) ** 3)
    coef_error = np.max(np.abs(coefficients - shares))
    svals = [np.linalg.svd(W, compute_uv=False) for W in Ws]
    sv_spread = max(np.ptp(s[: K - 1]) / s[0] for s in svals)
    grid = ce_optimum.sweep()
    beats = int(np.sum(grid["below"] > 1e-3))
    classes = ", ".join(str(k) for k in sweep_s.classes)
    etf = verdict(grid["K"].size - beats, grid["K"].size)
    return [
        Row(
            "with CE, Hess_l has K large outliers and a mini-bulk (later version)",
            f"K = {K} outliers and a mini-bulk",
            f"rank {rank} = (K−1)², of which {large} large",
            holds_if((rank, large) == ((K - 1) ** 2, K)),
            "the simplex ETF loses one direction on each Kronecker factor",
        ),
        Row(
            "the three eigenvalue groups at a collapsed ETF (our Thm, trained CE UFMs)",
            "not given (the book's derivation)",
            f"within {fmt(group_error)} for K = {classes} (tolerance 1e-6)",
            holds_if(group_error < 1e-6),
        ),
        Row(
            "CE analogues of the gradient and weight theorems (Thms 4.3–4.4) hold",
            "conjectured",
            f"gradient shares 1/(K−1), 1/(K−1)³ within {fmt(coef_error)} (1e-5); K−1 equal "
            f"singular values of W_l, spread {fmt(sv_spread)} (1e-6)",
            holds_if(coef_error < 1e-5 and sv_spread < 1e-6),
            "with K − 1 in place of K: the ETF spans K − 1 dimensions",
        ),
        Row(
            "the collapsed simplex ETF is the CE UFM's optimum",
            "assumed by the CE hierarchy",
            f"beaten by a low-rank point in {beats} of {grid['K'].size} runs over K, L and λ "
            "(margin 1e-3)",
            etf,
            why_not(etf, "weight decay on many factors favours low rank (Garrod and Keating)"),
            link="ce-low-rank",
        ),
    ]


@rows("full_hessian", "Full Hessian")
def _full_hessian() -> list[Row]:
    inh = paper_a_later.depth_inheritance()
    separation = inh["next"] / inh["whole"][:, -1]
    n = inh["T"].size
    n_out = int(np.sum((inh["overlap"] > 0.999) & (separation < 0.05)))
    shrinks = []
    for schedule in paper_a_later.SCHEDULES:
        dev = inh["deviation"][inh["schedule"] == schedule]
        shrinks.append((schedule, dev[0], dev[-1], dev[-1] < dev[0] / 2))
    approach = verdict(sum(ok for *_, ok in shrinks), len(shrinks))
    stuck = " and ".join(s for s, *_, ok in shrinks if not ok)
    return [
        Row(
            "the full Hessian has K² outliers with the layer-wise eigenvectors (Thm 6, later)",
            "inherited from a single layer",
            f"{n_out} of {n} models: eigenspace outside the predictions < 1e-3, "
            "λ_{K²+1}/λ_{K²} < 0.05",
            verdict(n_out, n),
            link="full-hessian-inherits",
        ),
        Row(
            "its relative top-K² spectrum approaches a single layer's as depth grows (Thm 6)",
            "the difference → 0 with L",
            "; ".join(f"{s} λ: {fmt(a)} → {fmt(b)}" for s, a, b, _ in shrinks)
            + " from the shallowest to the deepest model",
            approach,
            why_not(approach, f"not with {stuck} λ", "criterion: halved by the deepest model"),
            link="full-hessian-inherits",
        ),
    ]


@rows("real_networks", "Real networks")
def _real_networks() -> list[Row]:
    s = realnet.setting()
    result = realnet.measurements(s)
    net, K = result["mse"], 10
    n_hess = int(np.sum(net.hess_count == K * K))
    exact = (net.hess_spread < 1e-3) & (net.alignment_min > 1 - 1e-3)
    weights = net.weight_count[:, :-1]
    n_w = int(np.sum(weights == K))
    equal = verdict(int(exact.sum()), exact.size)
    return [
        Row(
            "the linear layers' Hessians have K² outliers (later version, ResNet + MLP)",
            f"K² = {K * K}, 'with more noise'",
            f"{n_hess} of {net.hess_count.size} layers × seeds",
            verdict(n_hess, net.hess_count.size),
        ),
        Row(
            "the outliers are equal and μ ⊗ μ are eigenvectors (Thm 4.1)",
            "with more noise",
            f"spread {fmt(net.hess_spread.min())}–{fmt(net.hess_spread.max())}, smallest f_cc' "
            f"{fmt(net.alignment_min.min())}; within 1e-3 in {int(exact.sum())} of {exact.size}",
            equal,
            why_not(
                equal,
                f"the class means are no orthogonal frame (NC2 ≥ {fmt(net.nc2.min())})",
                "tolerance 1e-3, which the trained UFM meets",
            ),
        ),
        Row(
            "W_lᵀW_l has K outliers (Thm 4.4), layers 1 … L−1",
            f"K = {K}",
            f"{n_w} of {weights.size} layers × seeds; counts "
            + ", ".join(str(int(v)) for v in sorted(set(weights.ravel()))),
            verdict(n_w, weights.size),
        ),
    ]


# --- paper B --------------------------------------------------------------------------------


@rows("agop_mechanism", "Linear denoising")
def _agop_mechanism() -> list[Row]:
    summary = paper_b.mlp_summary(paper_b.mlp_runs())
    share, gain = summary["share"], summary["nc2_authors_gain"]
    last_best = int(np.sum(np.argmax(gain, axis=1) == gain.shape[1] - 1))
    last_share = 100 * gain[:, -1] / gain.sum(1)
    return [
        Row(
            "the linear step S_l V_lᵀ does most of the NC1 reduction in a trained MLP (§4, Fig. 1)",
            "most of it",
            f"{fmt(share)}% of the log-reduction over the hidden layers; > 50% in "
            f"{int(np.sum(share > 50))} of {share.size} seeds",
            verdict(int(np.sum(share > 50)), share.size),
        ),
        Row(
            "NC2 improves strongly only in the last hidden layer (§4)",
            "the last layer",
            f"the last layer improves NC2 most in {last_best} of {gain.shape[0]} seeds, with "
            f"{fmt(last_share)}% of the log-reduction",
            verdict(last_best, gain.shape[0]),
            "the authors' NC2; criterion: the largest log-reduction of any layer",
        ),
    ]


@rows("deep_rfm", "Deep RFM")
def _deep_rfm() -> list[Row]:
    runs = {name: paper_b.deep_rfm_runs(name.lower()) for name in ("MNIST", "digits")}
    summary = {name: steps.summary(r) for name, r in runs.items()}
    factors = {name: paper_b.per_layer_factors(r).mean(0) for name, r in runs.items()}
    res = runs["MNIST"][0]
    K = int(res["labels"].max()) + 1
    within, between = steps.gram_blocks(res["grams"][-1], res["labels"])
    agop_all = sum(s["agop_lower"] == s["agop_count"] for s in summary.values())
    rf_most = sum(s["rf_raise"] >= 0.9 * s["rf_count"] for s in summary.values())
    return [
        Row(
            "Deep RFM's features collapse layer by layer (§5.1, Fig. 3)",
            "NC1 falls with depth",
            "NC1 falls by a factor "
            + ", ".join(f"{fmt(s['factor'])} ({n})" for n, s in summary.items())
            + "; every layer lowers it on average in "
            + f"{sum(np.all(f > 1) for f in factors.values())} of 2 data sets",
            verdict(sum(np.all(f > 1) for f in factors.values()), 2),
        ),
        Row(
            "the AGOP step collapses, the random features do not (Fig. 3)",
            "NC1 falls at the AGOP step",
            "AGOP steps lowering NC1: "
            + ", ".join(f"{s['agop_lower']} of {s['agop_count']}" for s in summary.values())
            + "; random-feature steps raising it: "
            + ", ".join(f"{s['rf_raise']} of {s['rf_count']}" for s in summary.values()),
            verdict(agop_all + rf_most, 2 * len(summary)),
            "criterion: every AGOP step lowers NC1, nine in ten random-feature steps raise it",
        ),
        Row(
            "the features' Gram takes the simplex ETF's block pattern (Fig. 2)",
            "1 within a class, −1/(K−1) between classes",
            f"{fmt(within, 4)} within, {fmt(between, 3)} between, where −1/(K−1) = "
            f"{fmt(-1 / (K - 1), 3)} (tolerance 0.01)",
            holds_if(abs(within - 1) < 0.01 and abs(between + 1 / (K - 1)) < 0.01),
        ),
    ]


@rows("random_features", "Random features")
def _random_features() -> list[Row]:
    delta = np.linspace(1e-3, 2, 2000)
    ratio = rfm.relu_feature_distance(delta) / delta
    ok = np.all(np.diff(ratio) < 0) and abs(ratio.min() - 2**-0.5) < 1e-9
    ok = ok and abs(ratio.max() - 1) < 1e-3
    summary = [steps.summary(paper_b.deep_rfm_runs(name)) for name in ("mnist", "digits")]
    raised, n = sum(s["rf_raise"] for s in summary), sum(s["rf_count"] for s in summary)
    never = verdict(raised, n)
    return [
        Row(
            "a random ReLU layer shrinks distances less for close points (Prop. 5.1)",
            "ratio falls from 1 to 1/√2",
            f"ratio from {fmt(ratio.max(), 4)} to {fmt(ratio.min(), 4)}, decreasing (tolerances "
            "1e-3, 1e-9)",
            holds_if(ok),
        ),
        Row(
            "random features cannot lower NC1 (Prop. 5.1)",
            "NC1 does not fall",
            f"random-feature steps of Deep RFM raise NC1 in {raised} of {n} (MNIST, digits)",
            never,
            why_not(never, "the proposition needs separated classes and infinite width"),
        ),
    ]


@rows("agop_theory", "AGOP theory")
def _agop_theory() -> list[Row]:
    hyp = th.measured_hypotheses("mnist", n_per_class=15, layers=4)
    ratio = hyp["lambda_k"] / hyp["lambda_phi"]
    met = [hyp["D"] > hyp["N"], ratio.max() < 1, bool(np.all(hyp["min_eig"] >= hyp["lambda_phi"]))]
    runs = paper_b.deep_rfm_runs("mnist")
    fits = np.array([th.exponential_floor_fit(r["nc1_in"]) for r in runs])
    nc2 = paper_b.stack(runs, "nc2_in").mean(0)
    fit_ok, nc2_ok = fits[:, 2].min() > 0.95, nc2[-1] <= 1.01 * nc2.min()
    failed = [
        t for ok, t in ((fit_ok, "NC1 leaves the fit"), (nc2_ok, "NC2 rises again")) if not ok
    ]
    n = 10
    y = np.repeat([1.0, -1.0], n)
    optimum = th.relaxed_objective(th.collapsed_kernel(n), y, 1.0)
    others = [
        th.relaxed_objective(th.random_unit_diagonal_kernel(2 * n, seed=i), y, 1.0)
        for i in range(500)
    ]
    gap = min(others) - optimum
    hypotheses = verdict(sum(met), 3)
    rate = verdict(int(fit_ok) + int(nc2_ok), 2)
    return [
        Row(
            "Thm 5.4's hypotheses hold for a real Deep RFM (MNIST)",
            "D > N, λ_k/λ_Φ small, λ_min(G_l) ≥ λ_Φ",
            f"{sum(met)} of 3: D = {hyp['D']}, N = {hyp['N']}; λ_k/λ_Φ "
            f"{fmt(ratio.min())}–{fmt(ratio.max())}; λ_min(G_l) ≤ {fmt(hyp['min_eig'].max())}",
            hypotheses,
            why_not(hypotheses, "the real kernels are far from linear", "criterion for small: < 1"),
        ),
        Row(
            "Deep RFM's NC1 and NC2 converge exponentially in depth (Thm 5.4)",
            "both converge exponentially",
            f"NC1: A e^(−rl) + ε fits with R² ≥ {fmt(fits[:, 2].min(), 3)}; NC2 ends at "
            f"{fmt(nc2[-1])}, its minimum {fmt(nc2.min())}",
            rate,
            why_not(
                rate, ", ".join(failed), "criteria: R² > 0.95, NC2 ends within 1% of its minimum"
            ),
        ),
        Row(
            "the collapsed kernel minimises the relaxed kernel ridge objective (Thm 5.5)",
            "k* is optimal",
            f"500 random kernels all above it, by ≥ {fmt(gap)}",
            holds_if(gap > 0),
        ),
    ]
