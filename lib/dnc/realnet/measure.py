"""Paper A's measurements on the linear layers of a trained real network, beside the UFM's.

The head W_L ⋯ W_1 acting on H_1 = [h(x_1; θ̄), …, h(x_N; θ̄)] is a deep linear UFM on those
features, so every function of :mod:`dnc.spectra.hessian`, :mod:`dnc.spectra.gradients`,
:mod:`dnc.spectra.matrices` and :mod:`dnc.ufm.collapse` applies to (H_1, [W_1, …, W_L]) unchanged.
:func:`layer_table` collects, per layer l = 1..L, the numbers the theorems predict exactly at the
collapsed optimum:

- ``nc1`` ‖Σ_W Σ_B^†‖_F² of h^(l), ``nc1_ratio`` tr Σ_W / tr Σ_B (which stays finite and
  meaningful when the class means span fewer than K − 1 directions, where Σ_B^† amplifies
  within-class noise along the means' weakest directions), ``nc2`` distance of the means to an orthogonal frame,
  ``nc3`` residual of A^(l) ∝ H̄^(l)ᵀ (UFM: 0);
- ``hess_count`` outliers of Hess_l (UFM: K²), ``hess_spread`` (λ_1 − λ_{K²})/λ_1 of the top K²
  (UFM: 0), ``hess_gap`` λ_{K²}/λ_{K²+1} (UFM: ∞, floored at 10⁻¹² λ_1), ``hess_top_share``
  share of tr Hess_l in the top K² (UFM: 1), ``hess_prediction``
  |Av top K² − Theorem 4.1| / Av top K² (UFM: 0);
- ``alignment_min``/``alignment_mean`` of f_cc' (UFM: 1);
- ``grad_diag`` Av_c f̃_cc, ``grad_diag_min`` min_c f̃_cc and ``grad_off`` max_{c≠c'} f̃_cc'
  (UFM: 1/K, 1/K and 0);
- ``weight_count`` outliers of W_lᵀW_l and ``weight_gap`` λ_K/λ_{K+1} (UFM: K and ∞);
- ``nfa`` ρ(W_lᵀW_l, AGOP_l^{1/2}) with AGOP_l taken w.r.t. h^(l) (UFM: 1).

Two identities of the linear head make this cheap. The input Jacobian of h ↦ A^(l) h is A^(l)
for every sample, so AGOP_l = A^(l)ᵀA^(l) (:func:`head_agops`). And Hess_l = S ⊗ Σ with
S = A^(l+1)ᵀA^(l+1), Σ = Av{h^(l) h^(l)ᵀ}, so for v = u ⊗ w, Hess_l v = Su ⊗ Σw and
f(u ⊗ w) = f_S(u) f_Σ(w) with f_M(x) = (xᵀMx)²/(‖x‖²‖Mx‖²) (:func:`kronecker_alignments`).

The Hessian and gradient entries above use the MSE data term ½‖z − y‖² averaged over samples.
For a cross-entropy network (``loss="ce"``) they are NaN and the cross-entropy layer Hessian
Av_i{A^(l+1)ᵀ(diag p_i − p_i p_iᵀ)A^(l+1) ⊗ h_i^(l) h_i^(l)ᵀ} is measured instead against what
chapter "Cross-entropy" derives at a collapsed optimum with simplex-ETF means (rank ≤ (K−1)²,
K large outliers over a mini-bulk):

- ``ce_rank_gap`` λ_r/λ_{r+1} with r = (K−1)² (collapse: ∞), ``ce_rank_share`` share of
  tr Hess_l in the top r (collapse: 1), ``ce_large`` where the largest ratio λ_i/λ_{i+1} among
  the top r falls (collapse: K), ``ce_large_gap`` λ_K/λ_{K+1}.
"""

from __future__ import annotations

import numpy as np
import torch

from dnc import metrics, ufm
from dnc.agop import core as agop
from dnc.book import plus_minus, significant
from dnc.spectra import gradients, hessian, matrices, predictions
from dnc.spectra.cross_entropy import outlier_groups
from dnc.ufm import Point, check_loss, collapse

FLOOR = 1e-12
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


def _gap(vals, k: int) -> float:
    """λ_k/λ_{k+1} of a spectrum (λ_{k+1} floored at FLOOR·λ_1); ∞ when it has only k values."""
    vals = np.sort(np.asarray(vals))[::-1]
    if vals.size <= k:
        return float("inf")
    return float(vals[k - 1] / max(vals[k], FLOOR * vals[0]))


def layer_table(H1, Ws, loss: str = "mse") -> dict[str, np.ndarray]:
    """The measurements of the module docstring for l = 1..L, each an array of length L.

    Columns of H1 must be ordered by class, n per class. The model is checked and run once
    (:class:`dnc.ufm.Point`), as the linear head W_L ⋯ W_1 on H1.

    Args:
        H1: H_1 = [h(x_1; θ̄), …, h(x_N; θ̄)], d_0 × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        loss: ``"mse"`` (the Hessian and gradient entries) or ``"ce"`` (the cross-entropy
            Hess_l, the ``ce_*`` entries).

    Returns:
        {key: float64 array of length L} for every key of :data:`KEYS`; the entries that are not
        measured for this loss are NaN.

    Raises:
        ValueError: an unknown loss, the checks of :class:`~dnc.ufm.point.Point` (shapes that
            do not chain, non-finite entries, N not a multiple of K), those of
            :func:`dnc.agop.core.nfa_correlation`, or (MSE) a data gradient that is exactly zero.
    """
    check_loss(loss)
    point = Point(H1, Ws)
    L, K, Ws = point.L, point.K, point.Ws
    report = collapse.report_at(point)
    out = {k: np.full(L, np.nan) for k in KEYS}
    out["nc1"], out["nc2"], out["nc3"] = report["nc1"], report["orthogonal"], report["dnc3"]
    out["nc1_ratio"] = np.array(
        [metrics.nc1(x, point.labels, kind="trace_ratio") for x in point.inputs[:L]]
    )
    agops = head_agops(Ws)
    off = ~np.eye(K, dtype=bool)
    for i in range(L):
        l = i + 1
        w_vals = matrices.weight_gram_spectrum(Ws[i])
        out["weight_count"][i] = hessian.outlier_count(w_vals, 2 * K)
        out["weight_gap"][i] = _gap(w_vals, K)
        out["nfa"][i] = agop.nfa_correlation(Ws[i], agops[i])
        if loss == "ce":
            _cross_entropy_hessian(out, i, hessian.spectrum_at(point, l, loss="ce"), K)
            continue
        spec = hessian.spectrum_at(point, l)
        top = spec[: K * K]
        out["hess_count"][i] = hessian.outlier_count(spec, K * K + K)
        out["hess_spread"][i] = (top[0] - top[-1]) / top[0]
        out["hess_gap"][i] = _gap(spec, K * K)
        out["hess_top_share"][i] = top.sum() / spec.sum()
        predicted = predictions.outlier_eigenvalues_at(point, l).mean()
        out["hess_prediction"][i] = abs(top.mean() - predicted) / top.mean()
        f = kronecker_alignments_at(point, l)
        out["alignment_min"][i], out["alignment_mean"][i] = f.min(), f.mean()
        ft = gradients.natural_basis_coefficients_at(point, l)
        out["grad_diag"][i], out["grad_off"][i] = np.diag(ft).mean(), ft[off].max()
        out["grad_diag_min"][i] = np.diag(ft).min()
    return out


def _cross_entropy_hessian(out, i: int, spec, K: int) -> None:
    """The ``ce_*`` entries of layer i + 1 from the cross-entropy Hess_l's spectrum."""
    r = (K - 1) ** 2
    out["ce_rank_gap"][i] = _gap(spec, r)
    out["ce_rank_share"][i] = spec[:r].sum() / spec.sum()
    out["ce_large"][i] = outlier_groups(spec[:r], r, rtol=0.0)[1]
    out["ce_large_gap"][i] = _gap(spec, K)


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


def head_agops(Ws) -> list[np.ndarray]:
    """[AGOP_1, …, AGOP_L] of the linear head, AGOP_l = A^(l)ᵀA^(l) with A^(l) = W_L ⋯ W_l.

    The Jacobian of a linear map is the map, the same at every sample, so this equals
    :func:`dnc.agop.core.layer_agops` on any inputs.
    """
    return [A.T @ A for A in ufm.products(Ws)[:-1]]


def _factor_alignment(M, X) -> np.ndarray:
    """f_M(x) = (xᵀMx)²/(‖x‖²‖Mx‖²) for each column x of X."""
    MX = M @ X
    return np.sum(X * MX, axis=0) ** 2 / (np.sum(X**2, axis=0) * np.sum(MX**2, axis=0))


def kronecker_alignments(H1, Ws, l) -> np.ndarray:
    """K×K f_cc' of μ_c^(l+1) ⊗ μ_c'^(l) for the linear head, as f_S(μ_c^(l+1)) f_Σ(μ_c'^(l)).

    Equal to :func:`dnc.spectra.predictions.predicted_alignments`, at O(K d²) instead of
    O(K² N d²).
    """
    return kronecker_alignments_at(Point(H1, Ws), l)


def kronecker_alignments_at(point: Point, l) -> np.ndarray:
    """:func:`kronecker_alignments` at ``point`` (a linear model)."""
    l = point.layer(l)
    X, A, means = point.inputs[l - 1], point.products[l], point.means
    upper = _factor_alignment(A.T @ A, means[l])
    lower = _factor_alignment(X @ X.T / X.shape[1], means[l - 1])
    return np.outer(upper, lower)


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


# What the deep linear UFM's theorems give for each entry at the collapsed optimum.
PREDICTIONS = {
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
}


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
