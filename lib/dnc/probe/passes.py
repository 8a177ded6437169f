"""The passes over the data: class statistics (one pass, no gradients) and gradients (one more).

Pass 1 streams each named layer's inputs h and outputs z into :class:`~dnc.probe.stats.ClassStats`
and finds each layer's tail (:mod:`dnc.probe.layers`); it also keeps the inputs while they fit a
memory budget, so that NC4 (which needs the class means first) can be counted without running the
network again. Pass 2 comes second because it needs the means: it accumulates the data gradient G_l = ∂ℓ/∂W_l, the nearest-class-mean disagreement (NC4)
and, for layers whose tail is not affine, the Jacobians ∂f(x_i)/∂z_i and ∂f(x_i)/∂z_i W_l that
give the mean Jacobian A^(l+1) and the AGOP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dnc.probe import layers as tails
from dnc.probe.curvature import data_term
from dnc.probe.data import check_labels, prepared
from dnc.probe.stats import ClassStats


@dataclass
class FirstPass:
    """What pass 1 found: sizes, statistics, tails, and the inputs kept for the curvature."""

    N: int = 0
    K: int = 0
    correct: int = 0
    loss: float = 0.0
    inputs: dict = field(default_factory=dict)  # name → ClassStats of h
    outputs: dict = field(default_factory=dict)  # name → ClassStats of z
    tails: dict = field(default_factory=dict)  # name → list of module names, or None
    chain: dict = field(default_factory=dict)  # name → tail reproduces the output
    kept: dict = field(default_factory=dict)  # name → list of input batches (when asked)
    kept_labels: list = field(default_factory=list)
    kept_outputs: list = field(default_factory=list)
    features: dict | None = None  # name → input batches, while within the budget (NC4)
    predictions: list = field(default_factory=list)  # argmax of the outputs, per batch

    def affine(self, modules, name: str) -> bool:
        """Whether layer ``name`` is followed by an affine chain (the closed forms apply)."""
        return bool(self.chain[name]) and tails.is_affine(modules, self.tails[name])


class _Capture:
    """Forward hooks that keep the last (input, output) of each named layer."""

    def __init__(self, named):
        self.seen: dict = {}
        self.handles = [
            module.register_forward_hook(
                lambda _m, inp, out, n=name: self.seen.__setitem__(n, (inp[0], out))
            )
            for name, module in named
        ]

    def get(self, name: str):
        h, z = self.seen[name]
        if h.ndim != 2:
            raise ValueError(
                f"layer {name!r} receives inputs of shape {tuple(h.shape)}; the probe measures "
                "layers whose input is a (batch, features) matrix"
            )
        return h, z

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _output(out) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the model must return a (batch, K) tensor of outputs, got {shape}")
    return out


def first_pass(net, named, batches, device, loss: str, keep, budget: int = 0) -> FirstPass:
    """Pass 1 over ``batches()``: class statistics, tails, accuracy and the data term.

    ``keep(result, modules, name) -> bool`` says, after the first batch, which layers' inputs to
    keep for the curvature. The inputs of every layer are also kept for NC4 while they take at
    most ``budget`` bytes (``features``; None once they would take more).

    Raises:
        ValueError: the data yields no samples, labels outside 0..K−1, fewer than two classes,
            a class without samples, a layer run twice per pass, or outputs that are not (batch, K).
    """
    res = FirstPass(features={name: [] for name, _ in named} if budget > 0 else None)
    held = 0
    modules = dict(net.named_modules())
    capture, order = _Capture(named), tails.CallOrder(net)
    try:
        for batch in batches():
            x, y = prepared(batch, device)
            if y.numel() == 0:
                continue
            with torch.no_grad():
                out = _output(net(x))
            if res.K == 0:
                res.K = out.shape[1]
                order.close()
                for name, _ in named:
                    res.tails[name] = order.tail(name)
                    res.chain[name] = res.tails[name] is not None
            check_labels(y, res.K)
            seen = {name: capture.get(name) for name, _ in named}  # before a tail reruns a layer
            for name, _ in named:
                h, z = seen[name]
                if name not in res.inputs:
                    res.inputs[name] = ClassStats(res.K, h.shape[1], device)
                    res.outputs[name] = ClassStats(res.K, z.shape[1], device)
                    if keep(res, modules, name):
                        res.kept[name] = []
                res.inputs[name].add(h, y)
                res.outputs[name].add(z, y)
                if res.chain[name]:
                    with torch.no_grad():
                        res.chain[name] = tails.reproduces(modules, res.tails[name], z, out)
                if name in res.kept:
                    res.kept[name].append(h.detach())
                if res.features is not None:
                    res.features[name].append(h.detach())
                    held += h.numel() * h.element_size()
            if res.features is not None and held > budget:
                res.features = None
            res.predictions.append(out.argmax(1))
            if res.kept:
                res.kept_labels.append(y)
                res.kept_outputs.append(out.detach())
            res.N += y.numel()
            res.correct += int((out.argmax(1) == y).sum())
            res.loss += float(data_term(out, y, loss, 1))
    finally:
        capture.close()
        order.close()
    _check_classes(res)
    res.loss /= res.N
    return res


def _check_classes(res: FirstPass) -> None:
    if res.N == 0:
        raise ValueError("the data yields no samples")
    counts = next(iter(res.inputs.values())).counts
    present = int((counts > 0).sum())
    if present < 2:
        raise ValueError(
            "the labels hold a single class; collapse compares classes, so at least two must appear"
        )
    missing = [c for c in range(res.K) if counts[c] == 0]
    if missing:
        raise ValueError(
            f"classes {missing} have no samples; every class 0..{res.K - 1} of the model's "
            "outputs must appear in the data"
        )


def kept_disagreements(first: FirstPass, name: str) -> int:
    """:func:`nearest_mean_disagreements` of layer ``name`` over the features kept in pass 1."""
    means = first.inputs[name].class_mean
    return sum(
        nearest_mean_disagreements(h, means, pred)
        for h, pred in zip(first.features[name], first.predictions, strict=True)
    )


def nearest_mean_disagreements(h: torch.Tensor, means: torch.Tensor, pred: torch.Tensor) -> int:
    """How many rows have the prediction ``pred`` ≠ argmin_c ‖h − μ_c‖ (means: K × d)."""
    dists = h.square().sum(1, keepdim=True) - 2 * h @ means.T + means.square().sum(1)
    return int((dists.argmin(1) != pred).sum())


@dataclass
class SecondPass:
    """What pass 2 found: data gradients, NC4 counts, and Jacobian statistics."""

    gradients: dict = field(default_factory=dict)  # name → G_l (d_out × d_in)
    disagreements: dict = field(default_factory=dict)  # name → count
    agops: dict = field(default_factory=dict)  # name → Σ_i J_hᵀJ_h / N (non-affine tails)
    mean_jacobians: dict = field(default_factory=dict)  # name → Av_i ∂f_i/∂z_i (K × d_out)
    mean_input_jacobians: dict = field(default_factory=dict)  # name → Av_i ∂f_i/∂h_i


def second_pass(net, named, batches, device, first: FirstPass, loss: str, jacobians, grad=True):
    """Pass 2: G_l, NC4 against the means of pass 1, and the Jacobians of ``jacobians``.

    ``jacobians`` names the layers whose tails are not affine. With ``grad=False`` only NC4.
    """
    means = {n: first.inputs[n].class_mean for n, _ in named}
    res = SecondPass(disagreements={n: 0 for n, _ in named})
    weights = [m.weight for _, m in named]
    for W in weights:
        W.requires_grad_(grad)
    capture = _Capture(named)
    N = first.N
    try:
        for batch in batches():
            x, y = prepared(batch, device)
            if y.numel() == 0:
                continue
            with torch.set_grad_enabled(grad):
                out = _output(net(x))
            for name, _ in named:
                h, _z = capture.get(name)
                res.disagreements[name] += nearest_mean_disagreements(
                    h.detach(), means[name], out.argmax(1)
                )
            if not grad:
                continue
            value = data_term(out, y, loss, N)
            gs = torch.autograd.grad(value, weights, retain_graph=bool(jacobians))
            for (name, _), g in zip(named, gs, strict=True):
                res.gradients[name] = res.gradients.get(name, 0) + g
            if jacobians:
                _jacobians(res, capture, out, [(n, m) for n, m in named if n in jacobians], N)
    finally:
        capture.close()
        for W in weights:
            W.requires_grad_(False)
    return res


def _jacobians(res: SecondPass, capture: _Capture, out, layers, N: int) -> None:
    """Add one batch's Jacobians (one backward pass per output) to the running sums.

    J_z = ∂f(x_i)/∂z_i by automatic differentiation, and J_h = J_z W_l: the Jacobian with respect to
    the layer's input through the layer itself (a skip connection that also reads h is not part
    of it), as in the Neural Feature Ansatz.
    """
    targets = [capture.get(name)[1] for name, _ in layers]
    K = out.shape[1]
    rows = [[] for _ in targets]
    for k in range(K):
        gs = torch.autograd.grad(
            out[:, k].sum(), targets, retain_graph=k < K - 1, allow_unused=True
        )
        for j, g in enumerate(gs):
            rows[j].append(torch.zeros_like(targets[j]) if g is None else g)
    for (name, module), row in zip(layers, rows, strict=True):
        J_z = torch.stack(row, 1).detach()  # batch × K × d_out
        J_h = J_z @ module.weight.detach()  # batch × K × d_in
        res.agops[name] = res.agops.get(name, 0) + torch.einsum("nkd,nke->de", J_h, J_h) / N
        res.mean_jacobians[name] = res.mean_jacobians.get(name, 0) + J_z.sum(0) / N
        res.mean_input_jacobians[name] = res.mean_input_jacobians.get(name, 0) + J_h.sum(0) / N
