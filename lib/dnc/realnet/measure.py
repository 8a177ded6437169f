"""Paper A's measurements on the linear layers of a trained real network, beside the UFM's.

The network is measured through :func:`dnc.probe.measure`, on the L layers of its head
(:func:`network_report`), and the trained deep linear UFM through the same call on the head
W_L ⋯ W_1 as a network of its own fed with H_1 (:func:`ufm_report`); :func:`layer_table` keeps
the entries below, whose values at the UFM's collapsed optimum the theorems fix:

- ``nc1`` ‖Σ_W Σ_B^†‖_F² of h^(l), ``nc1_ratio`` tr Σ_W / tr Σ_B (which stays finite and
  meaningful when the class means span fewer than K − 1 directions, where Σ_B^† amplifies
  within-class noise along the means' weakest directions), ``nc2`` distance of the means to an
  orthogonal frame, ``nc3`` residual of A^(l) ∝ H̄^(l)ᵀ (UFM: 0);
- ``hess_count`` outliers of Hess_l (UFM: K²), ``hess_spread`` (λ_1 − λ_{K²})/λ_1 of the top K²
  (UFM: 0), ``hess_gap`` λ_{K²}/λ_{K²+1} (UFM: ∞, floored at 10⁻¹² λ_1), ``hess_top_share``
  share of tr Hess_l in the top K² (UFM: 1), ``hess_prediction``
  |Av top K² − Theorem 4.1| / Av top K² (UFM: 0);
- ``alignment_min``/``alignment_mean`` of f_cc' (UFM: 1);
- ``grad_diag`` Av_c f̃_cc, ``grad_diag_min`` min_c f̃_cc and ``grad_off`` max_{c≠c'} f̃_cc'
  (UFM: 1/K, 1/K and 0);
- ``weight_count`` outliers of W_lᵀW_l and ``weight_gap`` λ_K/λ_{K+1} (UFM: K and ∞);
- ``nfa`` ρ(W_lᵀW_l, AGOP_l^{1/2}) with AGOP_l taken w.r.t. h^(l) (UFM: 1).

The head is followed only by linear maps, so the probe uses the closed forms: AGOP_l =
A^(l)ᵀA^(l), and Hess_l = S ⊗ Σ with S = A^(l+1)ᵀA^(l+1), Σ = Av{h^(l) h^(l)ᵀ}, so that
f(u ⊗ w) = f_S(u) f_Σ(w). For a cross-entropy network (``loss="ce"``) the MSE Hessian and
gradient entries are NaN and the cross-entropy layer Hessian is measured instead against what
chapter "Cross-entropy" derives at a collapsed optimum with simplex-ETF means (rank ≤ (K−1)²,
K large outliers over a mini-bulk):

- ``ce_rank_gap`` λ_r/λ_{r+1} with r = (K−1)² (collapse: ∞), ``ce_rank_share`` share of
  tr Hess_l in the top r (collapse: 1), ``ce_large`` where the largest ratio λ_i/λ_{i+1} among
  the top r falls (collapse: K), ``ce_large_gap`` λ_K/λ_{K+1}.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dnc import probe
from dnc.book import plus_minus, significant
from dnc.spectra import hessian

KEYS = (
    "nc1",
    "nc1_ratio",
    "nc2",
    "nc3",
    "hess_count",
    "hess_spread",
    "hess_gap",
    "hess_top_share",
    "hess_prediction",
    "alignment_min",
    "alignment_mean",
    "grad_diag",
    "grad_diag_min",
    "grad_off",
    "weight_count",
    "weight_gap",
    "nfa",
    "ce_rank_gap",
    "ce_rank_share",
    "ce_large",
    "ce_large_gap",
)


def head_params(model, images: torch.Tensor, chunk: int = 500):
    """(H_1, [W_1, …, W_L]) in float64: H_1 = h(x; θ̄) of the images as columns (d_0 × N).

    The features are computed without gradients, ``chunk`` images at a time. The model itself is
    converted to float64 and put in eval mode, in place (``model.double().eval()``); it and the
    images must be on the CPU.

    Args:
        model: a :class:`~dnc.realnet.model.RealNet` (anything with ``features`` and
            ``weights()``).
        images: N × C × H × W tensor, ordered by class (n per class) for :func:`layer_table`.
        chunk: images per forward pass.

    Returns:
        H_1 of shape d_0 × N and [W_1, …, W_L], W_l of shape d_l × d_{l−1}, as float64 numpy
        arrays that share no memory with the model.

    Raises:
        ValueError: the images' shape does not fit the feature map
            (:meth:`~dnc.realnet.model.ResidualFeatures.forward`).
        TypeError: the model is on a GPU (its outputs cannot become numpy arrays directly).
    """
    model = model.double().eval()
    with torch.no_grad():
        H = torch.cat(
            [model.features(images[i : i + chunk].double()) for i in range(0, len(images), chunk)]
        )
    return H.numpy().T.copy(), [W.detach().numpy().copy() for W in model.weights()]


def head_layers(model) -> list[str]:
    """The names of the head's linear layers, W_1 … W_L, as ``model.named_modules()`` gives them."""
    return [f"head.layers.{i}" for i in range(len(model.head.layers))]


def linear_head(Ws) -> nn.Sequential:
    """W_L ⋯ W_1 as an ``nn.Sequential`` of bias-free float64 ``nn.Linear`` layers "0" … "L−1"."""
    layers = []
    for W in Ws:
        layer = nn.Linear(W.shape[1], W.shape[0], bias=False, dtype=torch.float64)
        layer.weight.data = torch.as_tensor(np.array(W, dtype=np.float64))
        layers.append(layer)
    return nn.Sequential(*layers)


def network_report(model, images, labels, loss: str = "mse") -> probe.Report:
    """:func:`dnc.probe.measure` of the head's L layers of a :class:`~dnc.realnet.model.RealNet`."""
    return probe.measure(model, (images, labels), head_layers(model), loss)


def ufm_report(H1, Ws, loss: str = "mse") -> probe.Report:
    """:func:`dnc.probe.measure` of a linear UFM (H1's columns ordered by class, n per class)."""
    K, N = np.shape(Ws[-1])[0], np.shape(H1)[1]
    labels = np.repeat(np.arange(K), N // K)
    head = linear_head(Ws)
    return probe.measure(
        head, (np.asarray(H1, dtype=np.float64).T, labels), [str(i) for i in range(len(Ws))], loss
    )


def layer_table(report: probe.Report) -> dict[str, np.ndarray]:
    """{key: float64 array over the layers} for every key of :data:`KEYS`, from a probe report."""
    return report.table(list(KEYS))


def knockouts(H1, Ws, l: int) -> tuple[dict[str, int], float]:
    """Papyan's knockouts of Hess_l: outlier counts with each part removed, and the within share.

    Returns ({spectrum: outlier count among the top K² + K} for ``"Hess"`` and each
    ``"minus <part>"`` of :func:`dnc.spectra.hessian.knockout_spectra`, the within-class part's
    share of tr Hess_l, 1 − tr(Hess_l − within)/tr Hess_l).
    """
    K = Ws[-1].shape[0]
    spectra = hessian.knockout_spectra(H1, Ws, l)
    counts = {name: hessian.outlier_count(v, K * K + K) for name, v in spectra.items()}
    return counts, float(1 - spectra["minus within"].sum() / spectra["Hess"].sum())


# Counts are integers that a trained network hits or misses; they are claims to assert over every
# layer and seed ("K² outliers"), not numbers to pin by a band.
COUNT_KEYS = ("hess_count", "weight_count", "ce_large")
# Positive quantities that vary over decades between seeds: compared on a log scale.
LOG_KEYS = ("nc1", "nc1_ratio", "nc2", "nc3", "hess_spread", "hess_gap", "hess_prediction", "grad_off",
            "weight_gap", "ce_rank_gap", "ce_large_gap")  # fmt: skip


class SeedTables:
    """The layer tables of several seeds, stacked: ``tables.hess_gap`` is a seeds × L array.

    Every key of :data:`KEYS` is an attribute (NaN where a loss does not measure it);
    :meth:`measured` gives those measured for this loss.
    """

    def __init__(self, tables):
        """Stack ``tables``, a list of :func:`layer_table` results, one per seed.

        Raises:
            ValueError: no table, or tables without the keys of :data:`KEYS`.
        """
        tables = list(tables)
        if not tables or any(set(KEYS) - set(t) for t in tables):
            raise ValueError(
                f"tables must be a non-empty list of layer_table results, got {tables!r}"
            )
        self.arrays = {
            k: np.stack([np.asarray(t[k], dtype=np.float64) for t in tables]) for k in KEYS
        }
        self.seeds, self.L = self.arrays[KEYS[0]].shape

    def __getattr__(self, name: str) -> np.ndarray:
        """The seeds × L array of measurement ``name``."""
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(f"no measurement {name!r}; the keys are {KEYS}") from None

    def measured(self) -> dict[str, np.ndarray]:
        """{key: seeds × L array} for the keys measured for this loss (not NaN everywhere)."""
        return {k: v for k, v in self.arrays.items() if not np.all(np.isnan(v))}

    def summary(self) -> dict[str, np.ndarray]:
        """{key: (2, L) array}: mean and standard deviation over seeds.

        The standard deviation has ddof 1, as :func:`dnc.book.mean_sd` (ddof 0 for a single
        seed).
        """
        ddof = 1 if self.seeds > 1 else 0
        return {k: np.stack([v.mean(0), v.std(0, ddof=ddof)]) for k, v in self.arrays.items()}


# What the deep linear UFM's theorems give for each entry at the collapsed optimum (the labels
# the probe's own table uses).
PREDICTIONS = probe.report.LABELS


# The entries whose theorem value is 0, and those whose value is 1.
ZERO_KEYS = ("nc1", "nc1_ratio", "nc2", "nc3", "hess_spread", "hess_prediction", "grad_off")
ONE_KEYS = ("hess_top_share", "alignment_min", "nfa")


def largest_deviation(tables: SeedTables) -> float:
    """How far trained models are from the collapsed optimum: the largest |value − theorem value|.

    The maximum runs over seeds, layers and the entries of :data:`ZERO_KEYS` and
    :data:`ONE_KEYS`.
    """
    return max(
        float(np.abs(tables.arrays[k] - target).max())
        for keys, target in ((ZERO_KEYS, 0.0), (ONE_KEYS, 1.0))
        for k in keys
    )


def knockout_table(params, l: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """:func:`knockouts` of layer l for each seed's (H_1, Ws) in ``params``, stacked over seeds.

    Returns ({part removed: outlier counts over seeds}, the within-class shares over seeds).
    """
    per_seed = [knockouts(H1, Ws, l) for H1, Ws in params]
    counts = {name: np.array([c[name] for c, _ in per_seed]) for name in per_seed[0][0]}
    return counts, np.array([share for _, share in per_seed])


def _cell(mean, std=None) -> str:
    if np.isnan(mean):
        return "–"
    return significant(mean, 3) if std is None else plus_minus(mean, std)


def comparison_markdown(
    network, ufm, keys=None, ufm_name: str = "deep linear UFM", theorem: bool = True
) -> str:
    """A Markdown table comparing the network with the theorems and with the trained UFM.

    Each row gives a quantity's theorem value (the MSE UFM's collapsed optimum; left out when
    ``theorem`` is False), the trained UFM's range over layers (column ``ufm_name``), and the
    network's mean ± std over seeds per layer (``network``, ``ufm``: :meth:`SeedTables.summary`).
    """
    keys = [k for k in (keys or KEYS) if not np.all(np.isnan(network[k][0]))]
    L = network[keys[0]].shape[1]
    head = (
        "| quantity |"
        + (" theorem |" if theorem else "")
        + f" {ufm_name} | "
        + " | ".join(f"l = {l}" for l in range(1, L + 1))
    )
    rows = [head + " |", "|" + " --- |" * (2 + theorem + L)]
    for k in keys:
        name, value = PREDICTIONS[k]
        lo, hi = np.min(ufm[k][0]), np.max(ufm[k][0])
        if np.isnan(lo) or np.isclose(lo, hi, rtol=1e-3):
            ufm_text = _cell(lo)
        else:
            ufm_text = f"{_cell(lo)} – {_cell(hi)}"
        cells = [_cell(m, s) for m, s in zip(network[k][0], network[k][1], strict=True)]
        value = f" {value} |" if theorem else ""
        rows.append(f"| {name} |{value} {ufm_text} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
