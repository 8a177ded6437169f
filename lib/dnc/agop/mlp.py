"""Bias-free ReLU MLP f(x) = W_{L+1} σ(W_L ⋯ σ(W_1 x)), trained with MSE on ±1 targets.

Paper B's network as the authors' code builds it: L = 5 hidden layers of width 512, no biases,
Xavier-uniform hidden weights, PyTorch's default readout, trained in batches of 128 on the mean
squared error (mean over samples and outputs) to targets 1/−1, by SGD or Adam.
:func:`layer_nc1_decomposition` splits each hidden layer h_l = σ(U S Vᵀ h_{l−1}) into its input
h_{l−1}, the right singular part S Vᵀ h_{l−1}, and the output after U and σ, and measures
NC1 = tr Σ_W / tr Σ_B on each.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dnc import metrics
from dnc._checks import as_matrix, class_labels, positive, positive_int, whole
from dnc.agop.core import layer_agops, nfa_correlation
from dnc.data import one_hot
from dnc.device import choose_device, torch_threads
from dnc.progress import bar as progress_bar


class MLP(nn.Module):
    """``depth`` bias-free hidden layers h_l = ReLU(W_l h_{l−1}) and a bias-free linear readout."""

    def __init__(self, in_dim: int, width: int, out_dim: int, depth: int = 5, init_gain=0.1):
        """Build the layers in_dim → width (``depth`` times) → out_dim, hidden ones Xavier-uniform.

        The hidden weights are drawn by ``xavier_uniform_`` with gain ``init_gain``; the readout
        keeps PyTorch's default initialisation of ``nn.Linear``. Raises ValueError if a size is
        not a positive integer or ``init_gain`` is not a positive finite number.
        """
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
        """The number L of hidden layers (weight layers minus the readout)."""
        return len(self.layers) - 1

    def forward_from(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """The network from the input of weight layer l (0-based) to the output."""
        for i in range(l, len(self.layers)):
            h = self.layers[i](h)
            if i < self.depth:
                h = torch.relu(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) for an N×in_dim batch: the N×out_dim outputs of the whole network."""
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
    width: int = 512,
    depth: int = 5,
    init_gain: float = 0.1,
    lr: float = 5e-5,
    epochs: int = 250,
    batch_size: int = 128,
    seed: int = 0,
    record_every: int = 25,
    target_off: float = -1.0,
    threads: int | None = 1,
    progress: bool | None = None,
    optimizer: str = "adam",
):
    """Train :class:`MLP` by ``optimizer`` ("adam" or plain "sgd") on the mean squared error.

    The loss is mean_{i,k} (f_k(x_i) − t_ik)² to targets 1/``target_off``, as torch's
    ``MSELoss``. Returns (model, history) with history arrays ``epoch``, ``loss``, ``accuracy``
    (full batch, at the recorded epochs), ``epoch_loss`` (epochs: the mean minibatch loss of each
    epoch, as the authors' code logs it), ``nc1`` (records × (depth+1): NC1 = tr Σ_W/tr Σ_B of
    the input and of every hidden layer's output), ``nc2`` (the same, NC2 against the simplex
    ETF), ``nc2_authors`` (the same, paper B's code's NC2, :func:`dnc.metrics.nc2_authors`),
    ``trace_fractions`` and ``trace_fractions_authors`` (records × (depth+1) × 2,
    :func:`dnc.metrics.trace_fractions`), ``nfa`` and ``nfa_sqrt``
    (records × depth: ρ(W_lᵀW_l, AGOP_l) and ρ(W_lᵀW_l, AGOP_l^{1/2}) for the hidden layers, as
    the authors' code measures them), ``decomposition`` (records × depth × 3, see
    :func:`layer_nc1_decomposition`) and ``nc2_decomposition``, ``nc2_decomposition_authors``
    (the same three stages measured by NC2, ours and the authors'). Runs on the GPU when one is present, else on ``threads``
    CPU threads (1 by default: float32 sums split across threads round differently, so the
    trajectory, and every pinned number, would depend on the machine's core count); the
    measurements at the recorded epochs, in float64, use every thread torch had on entry.
    ``progress``: False for none, else as ``$DNC_PROGRESS`` says (:func:`dnc.progress.bar`).
    """
    measure_threads = torch.get_num_threads()
    with torch_threads(threads):
        return _train_mlp(X, y, width, depth, init_gain, lr, epochs, batch_size, seed,
                          record_every, target_off, progress, optimizer,
                          measure_threads)  # fmt: skip


OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def _train_mlp(
    X, y, width, depth, init_gain, lr, epochs, batch_size, seed, record_every, target_off,
    progress=None, optimizer="adam", measure_threads=None,
):  # fmt: skip
    X = as_matrix(X, "X")
    lab = class_labels(y, X.shape[0], "y")
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    record_every = positive_int(record_every, "record_every")
    positive(lr, "lr")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    dev = choose_device()
    torch.manual_seed(whole(seed, "seed"))
    Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
    T = torch.as_tensor(one_hot(lab, off=float(target_off)), dtype=torch.float32, device=dev)
    model = MLP(X.shape[1], width, T.shape[1], depth, init_gain).to(dev)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history = {"epoch": [], "loss": [], "accuracy": [], "nc1": [], "nfa": [], "nfa_sqrt": []}
    for key in (
        "decomposition",
        "nc2",
        "nc2_authors",
        "trace_fractions",
        "trace_fractions_authors",
        "nc2_decomposition",
        "nc2_decomposition_authors",
    ):
        history[key] = []
    epoch_loss = []

    def record(epoch):
        with torch_threads(measure_threads):  # measurements only: the trajectory stays 1-thread
            _record(epoch)

    def _record(epoch):
        with torch.no_grad():
            out = model(Xt)
            history["loss"].append(float(((out - T) ** 2).mean()))
            history["accuracy"].append(float((out.argmax(1).cpu().numpy() == lab).mean()))
            hs = model.layer_inputs(Xt)
        history["epoch"].append(epoch)
        feats = [h.cpu().double().numpy().T for h in hs]
        history["nc1"].append([metrics.nc1(H, lab, kind="trace_ratio") for H in feats])
        history["nc2"].append([metrics.nc2(H, lab, frame="etf") for H in feats])
        history["nc2_authors"].append([metrics.nc2_authors(H, lab) for H in feats])
        history["trace_fractions"].append([metrics.trace_fractions(H, lab) for H in feats])
        history["trace_fractions_authors"].append(
            [metrics.trace_fractions(H, lab, authors=True) for H in feats]
        )
        G = hidden_agops(model, Xt)
        Ws = [layer.weight.detach().cpu().double().numpy() for layer in model.layers[:-1]]
        history["nfa"].append([nfa_correlation(W, g, 1.0) for W, g in zip(Ws, G, strict=True)])
        history["nfa_sqrt"].append([nfa_correlation(W, g, 0.5) for W, g in zip(Ws, G, strict=True)])
        stages = _stages(Ws, hs)
        history["decomposition"].append(_decompose(stages, lab))
        history["nc2_decomposition"].append(_decompose(stages, lab, _nc2_etf))
        history["nc2_decomposition_authors"].append(_decompose(stages, lab, metrics.nc2_authors))

    record(0)
    bar = progress_bar(epochs, f"MLP width {width} depth {depth} seed {seed}", progress)
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(Xt.shape[0], generator=gen).to(dev)
        total = 0.0
        for i in range(0, Xt.shape[0], batch_size):
            idx = perm[i : i + batch_size]
            loss = ((model(Xt[idx]) - T[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        epoch_loss.append(total / Xt.shape[0])
        if epoch % record_every == 0 or epoch == epochs:
            record(epoch)
        bar.update(1)
    bar.close()
    history["epoch_loss"] = epoch_loss
    return model.cpu(), {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}


def hidden_agops(model: MLP, X) -> list[np.ndarray]:
    """AGOP_l = (1/N) Σ_i J_l(h_{l−1,i})ᵀ J_l(h_{l−1,i}) in closed form, hidden layers l = 1..L.

    For a bias-free ReLU network, J_l(h_{l−1}) = W_{L+1} D_L W_L ⋯ D_l W_l with
    D_j = diag(1[W_j h_{j−1} > 0]); one backward sweep B ← (B ⊙ D_j) W_j from B = W_{L+1} gives
    every layer's Jacobians at once (cost O(N K Σ_l d_l d_{l−1})), instead of autograd per layer.
    """
    X = X if isinstance(X, torch.Tensor) else torch.as_tensor(as_matrix(X, "X"))
    X = X.to(next(model.parameters()))
    with torch.no_grad():
        hs = model.layer_inputs(X)
        B = model.layers[-1].weight.double().expand(X.shape[0], -1, -1)  # N×K×d_L
        out = []
        for j in range(model.depth - 1, -1, -1):
            active = (hs[j + 1] > 0).double()  # D_j, from h_j = ReLU(W_j h_{j−1})
            B = (B * active[:, None, :]) @ model.layers[j].weight.double()
            flat = B.reshape(-1, B.shape[-1])
            out.append((flat.T @ flat / X.shape[0]).cpu().numpy())
    return out[::-1]


def nfa_per_layer(model: MLP, X, power: float = 0.5) -> list[float]:
    """ρ(W_lᵀW_l, AGOP_l^p) for every weight layer l, AGOP_l w.r.t. that layer's input."""
    G = layer_agops(model, X)
    return [
        nfa_correlation(layer.weight.detach().double().numpy(), g, power)
        for layer, g in zip(model.layers, G, strict=True)
    ]


def layer_nc1_decomposition(model: MLP, X, y) -> np.ndarray:
    """A depth × 3 array: NC1 of h_{l−1}, of S_l V_lᵀ h_{l−1}, and of h_l = σ(U_l S_l V_lᵀ h_{l−1}).

    NC1 is tr Σ_W / tr Σ_B (``kind="trace_ratio"``). U_l has orthonormal columns, so the middle
    column equals the NC1 of W_l h_{l−1}: U_l cannot change it, only S_l V_lᵀ and σ can.
    """
    X = as_matrix(X, "X")
    lab = class_labels(y, X.shape[0], "y")
    with torch.no_grad():
        hs = model.layer_inputs(torch.as_tensor(X).float())
    Ws = [layer.weight.detach().double().numpy() for layer in model.layers[:-1]]
    return _decompose(_stages(Ws, hs), lab)


def _nc1_trace_ratio(H, lab) -> float:
    return metrics.nc1(H, lab, kind="trace_ratio")


def _nc2_etf(H, lab) -> float:
    return metrics.nc2(H, lab, frame="etf")


def _stages(Ws, hs) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For every hidden layer the d×N features h_{l−1}, S_l V_lᵀ h_{l−1} and h_l, in float64."""
    hs = [h.detach().cpu().double().numpy().T for h in hs]
    out = []
    for l, W in enumerate(Ws):
        _, s, Vt = np.linalg.svd(W, full_matrices=False)
        out.append((hs[l], (s[:, None] * Vt) @ hs[l], hs[l + 1]))
    return out


def _decompose(stages, lab, metric=_nc1_trace_ratio) -> np.ndarray:
    """A depth × 3 array: ``metric`` of h_{l−1}, of S_l V_lᵀ h_{l−1} and of h_l, layer by layer."""
    return np.array([[metric(H, lab) for H in layer] for layer in stages])
