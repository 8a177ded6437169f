"""``measure``: the book's measurements, layer by layer, on any network the reader brings.

For each named ``nn.Linear`` layer l with input h^(l), output z = W_l h^(l) + b_l and the rest of
the network after it (its tail):

- collapse of h^(l): NC1 (‖Σ_W Σ_B^†‖_F², tr(Σ_W Σ_B^†)/K, tr Σ_W/tr Σ_B and the authors' ÷ K),
  NC2 (orthogonal frame, simplex ETF, the authors'), NC3 (residual of A^(l) ∝ H̄^(l)ᵀ, A^(l) the
  mean Jacobian of the output with respect to h^(l)), NC4 (share of samples whose nearest class
  mean is not the network's prediction);
- the layer Hessian of the data term (:mod:`dnc.probe.curvature`): its top eigenvalues, the outlier
  count and gap, the share of the trace in the top K² (MSE) or (K−1)² (CE), the overlap of the top
  eigenvectors with span{μ_c^(l+1)} ⊗ span{μ_c'^(l)} (Theorem 4.1, MSE) or with
  span{a_c − ā} ⊗ span{μ_c'^(l)} (the CE rank theorem, a_c the rows of A^(l+1)), Theorem 4.1's
  eigenvalue Av α² ‖μ_c^(l+1)‖²‖μ_c'^(l)‖²/K against the measured top K², and the alignments
  f_cc' of the predicted vectors;
- the data gradient's shares f̃_cc' along μ_c^(l+1) ⊗ μ_c'^(l) (1/K on the diagonal at collapse);
- the weight Gram W_lᵀW_l's outliers, the AGOP with respect to h^(l) (through the layer: J = ∂f/∂z W_l) and the NFA
  correlations ρ(W_lᵀW_l, AGOP^p) for p = 1/2 and for p = 1/m, m the weight layers from l to the
  output (exact for a balanced linear tail, chapter "AGOP theory").
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from dnc.agop.core import nfa_correlation
from dnc.probe import curvature as curv
from dnc.probe import layers as tails
from dnc.probe.data import BATCH, passes, prepared
from dnc.probe.passes import first_pass, kept_disagreements, second_pass
from dnc.probe.report import Report
from dnc.spectra import hessian, matrices
from dnc.spectra.cross_entropy import outlier_groups
from dnc.spectra.gradients import natural_basis_shares
from dnc.ufm import check_loss
from dnc.ufm.collapse import scaling_constant

FLOOR = 1e-12
# Bytes of layer inputs kept in pass 1 so that NC4 needs no second pass over the network; beyond
# it the features are dropped and the network runs again (memory stays independent of N).
FEATURE_BUDGET = 256 * 2**20


def gap(vals, k: int) -> float:
    """λ_k/λ_{k+1} of a spectrum (λ_{k+1} floored at FLOOR·λ_1); ∞ when it has only k values."""
    vals = np.sort(np.asarray(vals))[::-1]
    if vals.size <= k:
        return float("inf")
    return float(vals[k - 1] / max(vals[k], FLOOR * vals[0]))


def measure(model: nn.Module, data, layers, loss: str = "mse", heldout=None, top=None,
            batch_size: int = BATCH) -> Report:  # fmt: skip
    """Measure collapse, the layer Hessian, the gradient and the AGOP at each named layer.

    The model is copied to float64 in eval mode on its own device (a GPU if it is on one); the
    original is not changed. Class statistics stream (memory independent of N); the curvature of
    a layer whose tail is not affine, or of a CE layer, keeps that layer's inputs (N × d_in).

    Args:
        model: any ``torch.nn.Module`` mapping a batch to (batch, K) outputs.
        data: a ``DataLoader``, a ``Dataset`` of (x, y) or an (X, y) pair; labels 0..K−1.
        layers: names of ``nn.Linear`` layers, as ``model.named_modules()`` gives them.
        loss: ``"mse"`` (½‖f(x) − e_y‖² averaged over samples) or ``"ce"``.
        heldout: data in the same forms, on which the collapse metrics are also measured.
        top: how many top Hessian eigenvalues (default K² + K + 1).
        batch_size: rows per batch for a dataset or a pair.

    Returns:
        A :class:`~dnc.probe.report.Report`.

    Raises:
        ValueError: an unknown loss, a layer name the model does not have, empty data, labels
            outside 0..K−1, a single class, a class without samples, non-(batch, K) outputs.
        TypeError: a named layer that is not ``nn.Linear``, or data of another type.
    """
    check_loss(loss)
    net, named, modules, device = _prepare(model, layers)
    train = passes(data, batch_size)
    clock = time.perf_counter()

    def keep(res, mods, name):
        return (
            not res.affine(mods, name)
            and res.chain[name]
            or (loss == "ce" and res.affine(mods, name))
        )

    first = first_pass(net, named, train, device, loss, keep)
    general = [n for n, _ in named if not first.affine(modules, n)]
    second = second_pass(net, named, train, device, first, loss, general)
    report = Report(
        loss=loss, K=first.K, N=first.N, accuracy=first.correct / first.N, data_term=first.loss
    )
    report.seconds["passes"] = time.perf_counter() - clock
    k = top or first.K**2 + first.K + 1
    for name, module in named:
        clock = time.perf_counter()
        report.layers[name] = _layer(
            net, modules, name, module, first, second, loss, k, train, device
        )
        report.layers[name]["nc4"] = second.disagreements[name] / first.N
        report.seconds[name] = time.perf_counter() - clock
    if heldout is not None:
        _heldout(report, net, named, passes(heldout, batch_size), device)
    return report


def _prepare(model, layers):
    """(float64 eval copy with frozen parameters, its named layers, its modules, the device)."""
    tails.resolve(model, layers)  # errors name the caller's model
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    net = copy.deepcopy(model).to(torch.float64).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, tails.resolve(net, layers), dict(net.named_modules()), device


def collapse(model: nn.Module, data, layers, batch_size: int = BATCH) -> dict[str, dict]:
    """The collapse metrics alone (NC1, NC2 and NC4 of each named layer's input).

    One pass streams the class statistics (NC1, NC2) and keeps the layers' inputs while they fit
    :data:`FEATURE_BUDGET`; NC4, which needs the class means first, compares each sample's nearest
    mean with the prediction on those inputs, or in a second pass over the network when they did
    not fit. No gradients are taken.

    Returns:
        {layer name: {metric: value}}, the keys of :meth:`ClassStats.collapse` and ``nc4``.

    Raises:
        The errors of :func:`measure` about the layers and the data.
    """
    net, named, _, device = _prepare(model, layers)
    return _collapse(net, named, passes(data, batch_size), device)[0]


def _collapse(net, named, batches, device):
    """({name: NC1, NC2 and NC4 entries}, the first pass) without gradients.

    NC4 comes from the features kept in pass 1 when they fit :data:`FEATURE_BUDGET`, and from a
    second pass over the network otherwise.
    """
    first = first_pass(net, named, batches, device, "mse", lambda *_: False, FEATURE_BUDGET)
    if first.features is None:
        counts = second_pass(
            net, named, batches, device, first, "mse", [], grad=False
        ).disagreements
    else:
        counts = {name: kept_disagreements(first, name) for name, _ in named}
    out = {}
    for name, _ in named:
        out[name] = first.inputs[name].collapse()
        out[name]["nc4"] = counts[name] / first.N
    return out, first


def _heldout(report: Report, net, named, batches, device) -> None:
    """Collapse metrics and accuracy on held-out data, as ``heldout_*`` entries."""
    metrics, first = _collapse(net, named, batches, device)
    report.heldout_accuracy = first.correct / first.N
    for name, _ in named:
        for key, value in metrics[name].items():
            report.layers[name][f"heldout_{key}"] = value


def _layer(net, modules, name, module, first, second, loss, k, batches, device) -> dict:
    """Every measurement of one layer (see the module docstring)."""
    K = first.K
    W = module.weight.detach()
    stats_in, stats_out = first.inputs[name], first.outputs[name]
    upper, lower = stats_out.means(), stats_in.means()
    out = dict(stats_in.collapse())
    affine = first.affine(modules, name)
    if affine:
        A = tails.tail_jacobian(modules, first.tails[name], W.shape[0], W)
        A_h = A @ W
        agop = (A_h.T @ A_h).cpu().numpy()
        A_up, A_in = A.cpu().numpy(), A_h.cpu().numpy()
    else:
        agop = second.agops[name].cpu().numpy()
        A_up = second.mean_jacobians[name].cpu().numpy()
        A_in = second.mean_input_jacobians[name].cpu().numpy()
    out["nc3"] = scaling_constant(A_in, lower)[1]
    out["agop"] = agop
    W_np = W.cpu().numpy()
    out["nfa"] = nfa_correlation(W_np, agop, 0.5)
    depth = _depth(modules, first.tails[name]) if first.chain[name] else None
    out["nfa_depth_power"] = float("nan") if depth is None else 1.0 / depth
    out["nfa_depth"] = float("nan") if depth is None else nfa_correlation(W_np, agop, 1.0 / depth)
    w_vals = matrices.weight_gram_spectrum(W_np)
    out["weight_count"] = hessian.outlier_count(w_vals, 2 * K)
    out["weight_gap"] = gap(w_vals, K)
    G = second.gradients[name].cpu().numpy()
    shares = natural_basis_shares(G, upper, lower)
    out["grad_coefficients"] = shares
    off = ~np.eye(K, dtype=bool)
    out["grad_diag"] = float(np.diag(shares).mean()) if loss == "mse" else float("nan")
    out["grad_diag_min"] = float(np.diag(shares).min()) if loss == "mse" else float("nan")
    out["grad_off"] = float(shares[off].max()) if loss == "mse" else float("nan")
    out.update(
        _hessian(
            net, modules, name, module, first, loss, k, batches, device, affine, A_up, upper, lower
        )
    )
    return out


def _depth(modules, tail) -> int:
    """Weight layers from l to the output: 1 + the ``nn.Linear`` modules of the tail."""
    return 1 + sum(isinstance(modules[n], nn.Linear) for n in tail)


def _hessian(
    net, modules, name, module, first, loss, k, batches, device, affine, A_up, upper, lower
):
    """The Hessian entries of one layer, by the route its tail allows."""
    K, W = first.K, module.weight.detach()
    shape = tuple(W.shape)
    r = K * K if loss == "mse" else (K - 1) ** 2
    pred_upper = upper if loss == "mse" else A_up.T @ (np.eye(K) - 1.0 / K)
    out = {
        "hess_route": "",
        "hess_residual": 0.0,
        "hess_products": 0,
        "alignments": np.full((K, K), np.nan),
    }
    if affine and loss == "mse":
        A = torch.as_tensor(A_up, dtype=W.dtype, device=W.device)
        S, Sigma = (A.T @ A).cpu().numpy(), first.inputs[name].second_moment()
        vals, pairs, U, Wv, trace = curv.kronecker_top(S, Sigma, k)
        Pu, Pl = curv.orthonormal_basis(pred_upper), curv.orthonormal_basis(lower)
        a, b = pairs[:r, 0], pairs[:r, 1]
        overlap = float(
            np.mean(np.sum((Pu.T @ U[:, a]) ** 2, 0) * np.sum((Pl.T @ Wv[:, b]) ** 2, 0))
        )
        out["alignments"] = np.outer(
            curv.factor_alignment(S, upper), curv.factor_alignment(Sigma, lower)
        )
        out["hess_route"] = "Kronecker closed form"
    else:
        product, route, spectrum = _product(
            net, modules, name, module, first, loss, batches, device, affine
        )
        vals, vecs, residual, count = curv.top_eigenpairs(
            product, W, r if spectrum is not None else k
        )
        trace = float("nan")
        if spectrum is not None:  # the closed form's exact values; Lanczos only for the vectors
            vals, trace, residual = spectrum[:k], float(spectrum.sum()), 0.0
        overlap = curv.subspace_overlap(vecs[:, :r], pred_upper, lower, shape)
        if loss == "mse":
            out["alignments"] = curv.alignments(product, upper, lower, W)
            count += K * K
        out.update(hess_route=route, hess_residual=residual, hess_products=count)
    out["hessian_top"] = np.asarray(vals)
    out["hess_trace"] = trace
    out["hess_overlap"] = overlap
    nan = float("nan")
    if loss == "mse":
        top = vals[:r]
        alpha, _ = scaling_constant(A_up, upper)
        predicted = alpha**2 * np.outer(np.sum(upper**2, 0), np.sum(lower**2, 0)) / K
        out.update(
            hess_count=hessian.outlier_count(vals, K * K + K),
            hess_spread=float((top[0] - top[-1]) / top[0]),
            hess_gap=gap(vals, r),
            hess_top_share=float(top.sum() / trace) if np.isfinite(trace) else nan,
            hess_prediction=float(abs(top.mean() - predicted.mean()) / top.mean()),
            alignment_min=float(out["alignments"].min()),
            alignment_mean=float(out["alignments"].mean()),
        )
        out.update(ce_rank_gap=nan, ce_rank_share=nan, ce_large=nan, ce_large_gap=nan)
    else:
        out.update(
            ce_rank_gap=gap(vals, r),
            ce_rank_share=float(vals[:r].sum() / trace) if np.isfinite(trace) else nan,
            ce_large=outlier_groups(vals[:r], r, rtol=0.0)[1],
            ce_large_gap=gap(vals, K),
        )
        for key in ("hess_count", "hess_spread", "hess_gap", "hess_top_share", "hess_prediction",
                    "alignment_min", "alignment_mean"):  # fmt: skip
            out[key] = nan
    return out


def _product(net, modules, name, module, first, loss, batches, device, affine):
    """(V ↦ Hess_l V, route name, every eigenvalue or None) for a layer without the Kronecker form."""
    W, bias = module.weight.detach(), module.bias
    N = first.N
    if affine:  # CE through an affine tail: closed form from the kept inputs and outputs
        A = tails.tail_jacobian(modules, first.tails[name], W.shape[0], W)
        H = torch.cat(first.kept[name])
        P = torch.softmax(torch.cat(first.kept_outputs), 1)
        spectrum = curv.ce_spectrum(A, H, P)
        return curv.ce_product(A, H, P), "CE closed form", spectrum
    if first.chain[name]:  # through the tail alone, on the kept inputs
        H, Y = first.kept[name], first.kept_labels
        tail = first.tails[name]

        def tail_loss(w, batch):
            h, y = batch
            z = torch.nn.functional.linear(h, w, bias)
            return curv.data_term(tails.apply_tail(modules, tail, z), y, loss, N)

        return (
            curv.hvp_operator(tail_loss, lambda: zip(H, Y, strict=True), W),
            "autograd through the tail",
            None,
        )
    key = f"{name}.weight"

    def network_loss(w, batch):
        x, y = prepared(batch, device)
        out = torch.func.functional_call(net, {key: w}, (x,))
        return curv.data_term(out, y, loss, N)

    return curv.hvp_operator(network_loss, batches, W), "autograd through the network", None
