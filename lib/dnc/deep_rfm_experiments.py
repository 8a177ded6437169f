"""Paper B's experiments, cached: NC1 per MLP layer part (Fig. 1) and Deep RFM layer by layer (Figs 2–3).

Each run keeps its quick and paper settings and picks one with :func:`dnc.profile.choose`;
results are stored by :func:`dnc.cache.cached` under (name, settings, code version).
"""

from __future__ import annotations

import numpy as np

from . import cache, data, mlp, rfm
from .profile import choose, current

# The files these runs execute: their cache entries are keyed by these alone (see dnc.cache).
RUN_CODE = (
    "deep_rfm_experiments.py",
    "mlp.py",
    "rfm.py",
    "agop.py",
    "data.py",
    "metrics.py",
    "_checks.py",
    "cache.py",
    "profile.py",
)

DATASETS = ("digits", "mnist1d")


def _load(dataset: str, n_per_class: int, seed: int):
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    kwargs = {"num_samples": 10 * max(2 * n_per_class, 100)} if dataset == "mnist1d" else {}
    return data.load(dataset, n_per_class=n_per_class, seed=seed, **kwargs)


def mlp_settings(profile=None) -> dict:
    """MLP of paper B §4: 5 bias-free hidden ReLU layers, small Xavier gain, Adam, MSE."""
    return choose(
        quick=dict(dataset="digits", n_per_class=40, width=128, depth=5, init_gain=0.1,
                   lr=1e-3, epochs=100, batch_size=32, record_every=10, seed=0),
        paper=dict(dataset="digits", n_per_class=170, width=256, depth=5, init_gain=0.1,
                   lr=1e-3, epochs=250, batch_size=64, record_every=10, seed=0),
        profile=profile,
    )  # fmt: skip


def mlp_run(profile=None, **overrides) -> dict:
    """Train the MLP; return NC1 decomposition (depth×3), NC1/NFA histories, loss, accuracy."""
    cfg = {**mlp_settings(profile), **overrides}

    def compute(_checkpoint):
        X, y = _load(cfg["dataset"], cfg["n_per_class"], cfg["seed"])
        train = {k: v for k, v in cfg.items() if k not in ("dataset", "n_per_class")}
        model, hist = mlp.train_mlp(X, y, **train)
        arrays = {f"history_{k}": v for k, v in hist.items()}
        arrays["decomposition"] = mlp.layer_nc1_decomposition(model, X, y)
        arrays["labels"] = y
        return arrays, {"profile": current(profile)}

    arrays, _ = cache.cached("paper_b_mlp", cfg, compute, modules=RUN_CODE)
    return arrays


def deep_rfm_settings(dataset: str = "digits", profile=None) -> dict:
    """Deep RFM of paper B §5.1 (Laplace kernel, ridgeless by default, ReLU random features)."""
    return choose(
        quick=dict(dataset=dataset, n_per_class=30, layers=12, width=512, bandwidth=10.0,
                   ridge=0.0, seed=0, gram_layers=[0, 1, 3, 11]),
        paper=dict(dataset=dataset, n_per_class=170 if dataset == "digits" else 300, layers=18,
                   width=1024, bandwidth=10.0, ridge=0.0, seed=0, gram_layers=[0, 2, 5, 17]),
        profile=profile,
    )  # fmt: skip


def centred_normalised_gram(H) -> np.ndarray:
    """G = H̃ᵀH̃ with h̃_i = (h_i − μ_G)/‖h_i − μ_G‖ for the columns h_i of the d×N matrix H."""
    H = np.asarray(H, dtype=np.float64)
    C = H - H.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(C, axis=0)
    C = C / np.where(norms > 0, norms, 1.0)
    return C.T @ C


def deep_rfm_run(dataset: str = "digits", profile=None, **overrides) -> dict:
    """Run Deep RFM; per-layer NC1/NC2 of X_l, M_l^{1/2}X_l, ReLU(W_l M_l^{1/2}X_l), and Grams."""
    cfg = {**deep_rfm_settings(dataset, profile), **overrides}

    def compute(_checkpoint):
        X, y = _load(cfg["dataset"], cfg["n_per_class"], cfg["seed"])
        keep = cfg["gram_layers"]
        out = rfm.deep_rfm(X, y, layers=cfg["layers"], width=cfg["width"],
                           bandwidth=cfg["bandwidth"], ridge=cfg["ridge"], seed=cfg["seed"],
                           keep=keep)  # fmt: skip
        arrays = {k: np.asarray(out[k]) for k in out if k.startswith("nc") or k == "train_accuracy"}
        arrays["grams"] = np.stack([centred_normalised_gram(out["X"][l].T) for l in keep])
        arrays["gram_layers"] = np.asarray(keep)
        arrays["labels"] = y
        return arrays, {"profile": current(profile)}

    arrays, _ = cache.cached("paper_b_deep_rfm", cfg, compute, modules=RUN_CODE)
    return arrays
