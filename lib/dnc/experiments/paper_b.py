"""Paper B's experiments, cached: NC1 per MLP layer part (Fig. 1), Deep RFM by layer (Figs 2–3).

Each run keeps its quick and paper settings and picks one with :func:`dnc.profile.choose`;
results are stored by :func:`dnc.cache.cached` under (name, settings, code version).
"""

from __future__ import annotations

import numpy as np
import torch

from dnc import cache, data
from dnc.agop import mlp, rfm
from dnc.profile import choose, current

DATASETS = ("mnist", "digits", "mnist1d")
SEEDS = (0, 1, 2)  # the authors' code reports three seeds, mean ± std


def _load(dataset: str, n_per_class: int, seed: int):
    """A class-balanced, standardised subset (the data draw is seeded by ``seed``)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    kwargs = {"num_samples": 10 * max(2 * n_per_class, 100)} if dataset == "mnist1d" else {}
    return data.load(dataset, n_per_class=n_per_class, seed=seed, **kwargs)


def _source(dataset: str) -> str:
    return data.mnist_source() if dataset == "mnist" else dataset


# The authors' MLP (their nc_nn.py and paper B §4): width 512, 5 hidden layers, no biases, Xavier
# gain 0.1, Adam lr 5e-5, batch 128, mean MSE to ±1 targets, 250 epochs, three seeds.
AUTHORS_MLP = dict(width=512, depth=5, init_gain=0.1, lr=5e-5, batch_size=128, epochs=250)


def mlp_settings(profile=None) -> dict:
    """MLP of paper B §4 on real MNIST, at a larger learning rate than the authors'.

    With gain-0.1 initialisation the network sits on a plateau (it predicts the mean target) for
    thousands of Adam steps at the authors' lr 5e-5, which their ~10⁵ steps leave behind; within
    a CPU budget both profiles use lr 1e-3 (quick: batch 32).
    """
    return choose(
        quick=dict(dataset="mnist", n_per_class=30,
                   **{**AUTHORS_MLP, "epochs": 60, "lr": 1e-3, "batch_size": 32},
                   record_every=10, target_off=-1.0),
        paper=dict(dataset="mnist", n_per_class=200, **{**AUTHORS_MLP, "epochs": 150, "lr": 1e-3},
                   record_every=10, target_off=-1.0),
        profile=profile,
    )  # fmt: skip


def mlp_run(profile=None, seed: int = 0, **overrides) -> dict:
    """Train the MLP; return NC1 decomposition (depth×3), NC1/NFA histories, loss, accuracy."""
    cfg = {**mlp_settings(profile), **overrides, "seed": int(seed)}
    cfg["source"] = _source(cfg["dataset"])

    def compute(_checkpoint):
        X, y = _load(cfg["dataset"], cfg["n_per_class"], cfg["seed"])
        train = {k: v for k, v in cfg.items() if k not in ("dataset", "n_per_class", "source")}
        model, hist = mlp.train_mlp(X, y, **train)
        arrays = {f"history_{k}": v for k, v in hist.items()}
        arrays["decomposition"] = mlp.layer_nc1_decomposition(model, X, y)
        arrays["labels"] = y
        return arrays, {"profile": current(profile)}

    arrays, _ = cache.cached("paper_b_mlp", cfg, compute)
    return arrays


def mlp_runs(profile=None, seeds=SEEDS, **overrides) -> list[dict]:
    """:func:`mlp_run` for each seed (the seed draws the data subset, the weights and batches)."""
    return [mlp_run(profile, seed=s, **overrides) for s in seeds]


def stack(runs: list[dict], key: str) -> np.ndarray:
    """The arrays ``key`` of several runs stacked on a new first axis (seeds)."""
    return np.stack([np.asarray(r[key], dtype=np.float64) for r in runs])


def deep_rfm_settings(dataset: str = "mnist", profile=None) -> dict:
    """Deep RFM of paper B §5.1 with the authors' code's settings.

    Laplace L = 2, ridge 1e-3, ±1 targets, width 512; the profiles differ in N (samples per
    class) only, both have 12 layers.
    """
    big = {"mnist": 200, "digits": 170, "mnist1d": 300}[dataset] if dataset in DATASETS else 0
    return choose(
        quick=dict(dataset=dataset, n_per_class=30, layers=12, width=512,
                   bandwidth=rfm.BANDWIDTH, ridge=rfm.RIDGE, gram_layers=[0, 1, 3, 11]),
        paper=dict(dataset=dataset, n_per_class=big, layers=12, width=512,
                   bandwidth=rfm.BANDWIDTH, ridge=rfm.RIDGE, gram_layers=[0, 1, 3, 11]),
        profile=profile,
    )  # fmt: skip


def centred_normalised_gram(H) -> np.ndarray:
    """G = H̃ᵀH̃ with h̃_i = (h_i − μ_G)/‖h_i − μ_G‖ for the columns h_i of the d×N matrix H."""
    H = np.asarray(H, dtype=np.float64)
    C = H - H.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(C, axis=0)
    C = C / np.where(norms > 0, norms, 1.0)
    return C.T @ C


def deep_rfm_run(dataset: str = "mnist", profile=None, seed: int = 0, **overrides) -> dict:
    """Run Deep RFM; per-layer NC1/NC2 of X_l, M_l^{1/2}X_l, ReLU(W_l M_l^{1/2}X_l), and Grams.

    ``dtype="float32"`` runs the kernel solve and AGOP in single precision (NC1/NC2 and the
    matrix square root stay float64).
    """
    cfg = {**deep_rfm_settings(dataset, profile), **overrides, "seed": int(seed)}
    cfg["source"] = _source(cfg["dataset"])
    dtype = {"float64": torch.float64, "float32": torch.float32}[cfg.get("dtype", "float64")]

    def compute(_checkpoint):
        X, y = _load(cfg["dataset"], cfg["n_per_class"], cfg["seed"])
        keep = cfg["gram_layers"]
        out = rfm.deep_rfm(X, y, layers=cfg["layers"], width=cfg["width"],
                           bandwidth=cfg["bandwidth"], ridge=cfg["ridge"], seed=cfg["seed"],
                           keep=keep, dtype=dtype)  # fmt: skip
        arrays = {k: np.asarray(out[k]) for k in out if k.startswith("nc") or k == "train_accuracy"}
        arrays["grams"] = np.stack([centred_normalised_gram(out["X"][l].T) for l in keep])
        arrays["gram_layers"] = np.asarray(keep)
        arrays["labels"] = y
        return arrays, {"profile": current(profile)}

    arrays, _ = cache.cached("paper_b_deep_rfm", cfg, compute)
    return arrays


def deep_rfm_runs(dataset: str = "mnist", profile=None, seeds=SEEDS, **overrides) -> list[dict]:
    """:func:`deep_rfm_run` for each seed (data subset and random features)."""
    return [deep_rfm_run(dataset, profile, seed=s, **overrides) for s in seeds]
