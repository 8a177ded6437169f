"""The probe's result: per-layer measurements, a table, and a plain dict for saving."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dnc.book import markdown_table, significant

# The rows of the summary table: key, label, value at the collapsed optimum of the deep linear UFM.
ROWS = {
    "nc1": ("NC1 ‖Σ_W Σ_B^†‖_F²", "0"),
    "nc1_ratio": ("NC1 tr Σ_W / tr Σ_B", "0"),
    "nc2": ("NC2, orthogonal frame", "0"),
    "nc2_etf": ("NC2, simplex ETF", "0"),
    "nc3": ("NC3, A^(l) ∝ H̄^(l)ᵀ residual", "0"),
    "nc4": ("NC4, prediction ≠ nearest mean", "0"),
    "hess_count": ("outliers of Hess_l", "K²"),
    "hess_gap": ("λ_{K²}/λ_{K²+1}", "∞"),
    "hess_overlap": ("top eigenvectors in the predicted span", "1"),
    "hess_prediction": ("top K² vs Theorem 4.1 (relative)", "0"),
    "alignment_min": ("smallest f_cc′", "1"),
    "grad_diag": ("mean gradient share f̃_cc", "1/K"),
    "grad_off": ("largest f̃_cc′, c ≠ c′", "0"),
    "ce_rank_gap": ("λ_r/λ_{r+1}, r = (K−1)² (CE)", "∞"),
    "ce_large": ("large CE outliers", "K"),
    "weight_count": ("outliers of W_lᵀW_l", "K"),
    "nfa": ("NFA ρ(WᵀW, AGOP^{1/2})", "1"),
    "nfa_depth": ("NFA ρ(WᵀW, AGOP^{1/m})", "1"),
}


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
        rows = [[ROWS[k][0], ROWS[k][1]] + [_cell(k, v) for v in self.table([k])[k]] for k in keys]
        return markdown_table(head, rows)

    def _repr_markdown_(self) -> str:
        heldout = (
            "" if np.isnan(self.heldout_accuracy) else f", held-out {self.heldout_accuracy:.1%}"
        )
        return (
            f"Probe of {len(self.layers)} layers, K = {self.K}, N = {self.N}, {self.loss.upper()} "
            f"loss; training accuracy {self.accuracy:.1%}{heldout}\n\n" + self.markdown()
        )
