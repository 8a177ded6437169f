"""The probe's result: per-layer measurements, a table, and a plain dict for saving."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dnc.book import markdown_table, significant

# Each entry's label and its value at the collapsed optimum of the deep linear UFM (Markdown with
# LaTeX; the real-network chapter's tables use the same).
LABELS = {
    "nc1": (r"NC1 $\Vert\Sigma_W \Sigma_B^\dagger\Vert_F^2$", "0"),
    "nc1_ratio": (r"NC1 $\operatorname{tr}\Sigma_W / \operatorname{tr}\Sigma_B$", "0"),
    "nc2": ("NC2 (distance to an orthogonal frame)", "0"),
    "nc3": (r"NC3 (residual of $A^{(l)} \propto \bar H^{(l)\top}$)", "0"),
    "hess_count": (r"outliers of $\mathrm{Hess}_l$", "$K^2$"),
    "hess_spread": (r"spread of the top $K^2$ of $\mathrm{Hess}_l$", "0"),
    "hess_gap": (r"$\lambda_{K^2}/\lambda_{K^2+1}$ of $\mathrm{Hess}_l$", r"$\infty$"),
    "hess_top_share": (r"share of $\operatorname{tr}\mathrm{Hess}_l$ in the top $K^2$", "1"),
    "hess_prediction": (r"top $K^2$ against Theorem 4.1 (relative)", "0"),
    "alignment_min": (r"smallest $f_{cc'}$", "1"),
    "alignment_mean": (r"mean $f_{cc'}$", "1"),
    "grad_diag": (r"mean $\tilde f_{cc}$", "$1/K$"),
    "grad_diag_min": (r"smallest $\tilde f_{cc}$", "$1/K$"),
    "grad_off": (r"largest $\tilde f_{cc'}$, $c \ne c'$", "0"),
    "weight_count": (r"outliers of $W_l^\top W_l$", "$K$"),
    "weight_gap": (r"$\lambda_K/\lambda_{K+1}$ of $W_l^\top W_l$", r"$\infty$"),
    "nfa": (r"NFA $\rho(W_l^\top W_l, \mathrm{AGOP}_l^{1/2})$", "1"),
    "ce_rank_gap": (
        r"$\lambda_r/\lambda_{r+1}$ of the CE $\mathrm{Hess}_l$, $r = (K-1)^2$",
        r"$\infty$",
    ),
    "ce_rank_share": (
        r"share of $\operatorname{tr}\mathrm{Hess}_l$ (CE) in the top $(K-1)^2$",
        "1",
    ),
    "ce_large": (r"large outliers of the CE $\mathrm{Hess}_l$ (largest gap)", "$K$"),
    "ce_large_gap": (r"$\lambda_K/\lambda_{K+1}$ of the CE $\mathrm{Hess}_l$", "$> 1$"),
    "nc2_etf": ("NC2 (distance to a simplex ETF)", "0"),
    "nc4": ("NC4 (prediction is not the nearest class mean)", "0"),
    "hess_overlap": (r"top eigenvectors in the predicted span", "1"),
    "nfa_depth": (r"NFA $\rho(W_l^\top W_l, \mathrm{AGOP}_l^{1/m})$", "1"),
}

# The rows of :meth:`Report.markdown` by default.
ROWS = ("nc1", "nc1_ratio", "nc2", "nc2_etf", "nc3", "nc4", "hess_count", "hess_gap", "hess_overlap",
        "hess_prediction", "alignment_min", "grad_diag", "grad_off", "ce_rank_gap", "ce_large",
        "weight_count", "nfa", "nfa_depth")  # fmt: skip


COUNTS = ("hess_count", "ce_large", "weight_count")


def _cell(key: str, value: float) -> str:
    return str(int(value)) if key in COUNTS and np.isfinite(value) else significant(value, 3)


@dataclass
class Report:
    """What :func:`dnc.probe.measure` found.

    ``layers`` maps each layer name to its measurements (floats, ints, strings, numpy arrays);
    ``accuracy`` and ``data_term`` are the network's on the training data, ``heldout_accuracy``
    on held-out data (NaN without).
    """

    loss: str
    K: int
    N: int
    accuracy: float
    data_term: float
    heldout_accuracy: float = float("nan")
    layers: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)  # "passes" (both passes), then one per layer

    def table(self, keys=None) -> dict[str, np.ndarray]:
        """{key: float64 array over the layers, in the order measured} for the scalar entries."""
        first = next(iter(self.layers.values()))
        keys = keys or [k for k, v in first.items() if np.ndim(v) == 0 and not isinstance(v, str)]
        return {k: np.array([float(d[k]) for d in self.layers.values()]) for k in keys}

    def to_dict(self) -> dict:
        """{layer name: {key: number or list}}, plain Python, for ``json.dump``."""
        return {
            name: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in entry.items()}
            for name, entry in self.layers.items()
        }

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, meta) for :func:`dnc.cache.save_arrays`, inverted by :meth:`from_arrays`.

        Arrays are named ``"<layer>/<key>"``; sizes, accuracies, strings and the layer order go in
        ``meta``.
        """
        arrays, strings = {}, {}
        for name, entry in self.layers.items():
            for key, value in entry.items():
                if isinstance(value, str):
                    strings[f"{name}/{key}"] = value
                else:
                    arrays[f"{name}/{key}"] = np.asarray(value)
        meta = {
            "loss": self.loss, "K": self.K, "N": self.N, "accuracy": self.accuracy,
            "data_term": self.data_term, "heldout_accuracy": self.heldout_accuracy,
            "layers": list(self.layers), "strings": strings, "seconds": self.seconds,
        }  # fmt: skip
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> Report:
        """The report whose :meth:`to_arrays` gave (arrays, meta)."""
        report = cls(**{k: meta[k] for k in ("loss", "K", "N", "accuracy", "data_term")})
        report.heldout_accuracy = float(meta["heldout_accuracy"])
        report.seconds = dict(meta["seconds"])
        report.layers = {name: {} for name in meta["layers"]}
        for path, value in [*arrays.items(), *meta["strings"].items()]:
            name, key = path.rsplit("/", 1)
            scalar = isinstance(value, np.ndarray) and value.ndim == 0
            report.layers[name][key] = value.item() if scalar else value
        return report

    def markdown(self, keys=None) -> str:
        """A Markdown table: one row per quantity (with its collapsed-UFM value), one column per layer."""
        keys = [k for k in (keys or ROWS) if not np.all(np.isnan(self.table([k])[k]))]
        head = ["quantity", "at collapse"] + [f"`{n}`" for n in self.layers]
        rows = [
            [LABELS[k][0], LABELS[k][1]] + [_cell(k, v) for v in self.table([k])[k]] for k in keys
        ]
        return markdown_table(head, rows)

    def _repr_markdown_(self) -> str:
        heldout = (
            "" if np.isnan(self.heldout_accuracy) else f", held-out {self.heldout_accuracy:.1%}"
        )
        return (
            f"Probe of {len(self.layers)} layers, K = {self.K}, N = {self.N}, {self.loss.upper()} "
            f"loss; training accuracy {self.accuracy:.1%}{heldout}\n\n" + self.markdown()
        )
