"""Bias-free ReLU MLP f(x) = W_{L+1} σ(W_L ⋯ σ(W_1 x)), trained with MSE on one-hot targets.

Paper B's network: L = 5 hidden layers, no biases, Xavier-uniform hidden weights with a small
gain, default readout, Adam. :func:`layer_nc1_decomposition` splits each hidden layer
h_l = σ(U S Vᵀ h_{l−1}) into its input h_{l−1}, the right singular part S Vᵀ h_{l−1}, and the
output after U and σ, and measures NC1 = tr Σ_W / tr Σ_B on each.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import metrics
from ._checks import as_labels, as_matrix, positive, positive_int
from .agop import layer_agops, nfa_correlation
from .data import one_hot


class MLP(nn.Module):
    """``depth`` bias-free hidden layers h_l = ReLU(W_l h_{l−1}) and a bias-free linear readout."""

    def __init__(self, in_dim: int, width: int, out_dim: int, depth: int = 5, init_gain=0.1):
        super().__init__()
        dims = [positive_int(in_dim, "in_dim")] + [positive_int(width, "width")] * positive_int(
            depth, "depth"
        )
        self.layers = nn.ModuleList(
            [nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:], strict=True)]
            + [nn.Linear(dims[-1], positive_int(out_dim, "out_dim"), bias=False)]
        )
        positive(init_gain, "init_gain")
        for layer in self.layers[:-1]:
            nn.init.xavier_uniform_(layer.weight, gain=init_gain)

    @property
    def depth(self) -> int:
        return len(self.layers) - 1

    def forward_from(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """The network from the input of weight layer l (0-based) to the output."""
        for i in range(l, len(self.layers)):
            h = self.layers[i](h)
            if i < self.depth:
                h = torch.relu(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from(0, x)

    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[h_0 = x, h_1, …, h_L]: the input of every weight layer (the readout's last)."""
        hs = [x]
        for layer in self.layers[:-1]:
            hs.append(torch.relu(layer(hs[-1])))
        return hs


def train_mlp(
    X,
    y,
    width: int = 256,
    depth: int = 5,
    init_gain: float = 0.1,
    lr: float = 1e-3,
    epochs: int = 100,
    batch_size: int = 128,
    seed: int = 0,
    record_every: int = 10,
):
    """Train :class:`MLP` by Adam on the MSE ‖f(x) − e_y‖², recording NC1 and NFA during training.

    Returns (model, history) with history arrays ``epoch``, ``loss``, ``accuracy``,
    ``nc1`` (records × (depth+1) NC1 of each layer input, trace ratio) and ``nfa``
    (records × (depth+1), ρ(W_lᵀW_l, AGOP_l^{1/2}) per layer).
    """
    X = as_matrix(X, "X")
    lab = as_labels(y, X.shape[0], "y")
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    record_every = positive_int(record_every, "record_every")
    positive(lr, "lr")
    torch.manual_seed(seed)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    T = torch.as_tensor(one_hot(lab), dtype=torch.float32)
    model = MLP(X.shape[1], width, T.shape[1], depth, init_gain)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history = {"epoch": [], "loss": [], "accuracy": [], "nc1": [], "nfa": []}

    def record(epoch):
        with torch.no_grad():
            out = model(Xt)
            history["loss"].append(float(((out - T) ** 2).sum(1).mean()))
            history["accuracy"].append(float((out.argmax(1).numpy() == lab).mean()))
            hs = model.layer_inputs(Xt)
        history["epoch"].append(epoch)
        history["nc1"].append([metrics.nc1(h.numpy().T, lab, kind="trace_ratio") for h in hs])
        history["nfa"].append(nfa_per_layer(model, Xt))

    record(0)
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(Xt.shape[0], generator=gen)
        for i in range(0, Xt.shape[0], batch_size):
            idx = perm[i : i + batch_size]
            loss = ((model(Xt[idx]) - T[idx]) ** 2).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % record_every == 0 or epoch == epochs:
            record(epoch)
    return model, {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}


def nfa_per_layer(model: MLP, X, power: float = 0.5) -> list[float]:
    """ρ(W_lᵀW_l, AGOP_l^p) for every weight layer l, AGOP_l w.r.t. that layer's input."""
    G = layer_agops(model, X)
    return [
        nfa_correlation(layer.weight.detach().double().numpy(), g, power)
        for layer, g in zip(model.layers, G, strict=True)
    ]


def layer_nc1_decomposition(model: MLP, X, y) -> np.ndarray:
    """depth × 3 array: NC1 of h_{l−1}, of S_l V_lᵀ h_{l−1}, and of h_l = σ(U_l S_l V_lᵀ h_{l−1}).

    NC1 is tr Σ_W / tr Σ_B (``kind="trace_ratio"``). Since U_l is orthogonal, the middle column
    equals the NC1 of W_l h_{l−1}: the rotation U_l cannot change it, only S_l V_lᵀ and σ can.
    """
    X = as_matrix(X, "X")
    lab = as_labels(y, X.shape[0], "y")
    with torch.no_grad():
        hs = [h.double().numpy() for h in model.layer_inputs(torch.as_tensor(X).float())]
    out = np.zeros((model.depth, 3))
    for l in range(model.depth):
        W = model.layers[l].weight.detach().double().numpy()
        _, s, Vt = np.linalg.svd(W, full_matrices=False)
        svh = (s[:, None] * Vt) @ hs[l].T
        out[l] = [
            metrics.nc1(hs[l].T, lab, kind="trace_ratio"),
            metrics.nc1(svh, lab, kind="trace_ratio"),
            metrics.nc1(hs[l + 1].T, lab, kind="trace_ratio"),
        ]
    return out
