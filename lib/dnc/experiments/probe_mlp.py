"""The chapter "Measure your own network": a plain MLP on the MNIST sample, trained, then probed.

The network is one the book trains nowhere else: ``nn.Sequential`` of four ``nn.Linear`` layers
with biases and ReLUs between them, trained by minibatch SGD with momentum and weight decay on
the mean of ½‖f(x) − e_y‖² (the probe's MSE data term) in float32, one run per seed, cached. The
first ``n_per_class`` images of each class of the 5,000-image sample train it; the rest are held
out. :func:`reports` then calls :func:`dnc.probe.measure` on each trained network, as a reader
would on theirs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from dnc import cache, data, probe
from dnc.device import torch_threads
from dnc.profile import choose
from dnc.progress import bar

K = 10
LAYERS = ("0", "2", "4", "6")  # the four nn.Linear layers of :func:`network`


@dataclass(frozen=True)
class Setting:
    """Sizes and optimiser of the chapter's MLP (per profile, :func:`setting`)."""

    n_per_class: int
    widths: tuple
    epochs: int
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch: int = 64
    seeds: tuple = (0, 1, 2)


def setting(profile: str | None = None) -> Setting:
    """The quick profile's small MLP, or the paper profile's (4,000 training images)."""
    return choose(
        Setting(n_per_class=100, widths=(128, 64, 32), epochs=60),
        Setting(n_per_class=400, widths=(256, 128, 64), epochs=100),
        profile,
    )


def network(s: Setting) -> nn.Sequential:
    """784 → widths → K: ``nn.Linear`` layers "0", "2", "4", "6" with ReLUs "1", "3", "5"."""
    dims = (784, *s.widths)
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(dims[-1], K))


def split(s: Setting):
    """((X, y) training, (X, y) held out): pixels / 255 as float32 rows, labels int64.

    Training takes the first ``n_per_class`` images of each class in the sample's order.
    """
    X, y = data.mnist_sample()
    first = np.zeros(len(y), dtype=bool)
    for c in range(K):
        first[np.flatnonzero(y == c)[: s.n_per_class]] = True
    X = torch.as_tensor(X / 255.0, dtype=torch.float32)
    y = torch.as_tensor(y)
    return (X[first], y[first]), (X[~first], y[~first])


def _train(s: Setting, seed: int, progress: bool | None):
    (X, y), _ = split(s)
    torch.manual_seed(seed)
    model = network(s)
    opt = torch.optim.SGD(
        model.parameters(), lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay
    )
    order = torch.Generator().manual_seed(seed)
    targets = nn.functional.one_hot(y, K).float()
    losses, accuracy = [], []
    ticks = bar(s.epochs, f"MLP seed {seed}", progress)
    with torch_threads(1):
        for _ in range(s.epochs):
            total, correct = 0.0, 0
            for idx in torch.randperm(len(y), generator=order).split(s.batch):
                out = model(X[idx])
                loss = 0.5 * (out - targets[idx]).square().sum(1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                correct += int((out.argmax(1) == y[idx]).sum())
            if not np.isfinite(total):
                raise FloatingPointError(f"the MLP's training diverged (seed {seed})")
            losses.append(total / len(y))
            accuracy.append(correct / len(y))
            ticks.update(1)
    ticks.close()
    arrays = {f"state/{k}": v.detach().numpy() for k, v in model.state_dict().items()}
    arrays.update(loss=np.asarray(losses), accuracy=np.asarray(accuracy))
    return arrays, {}


def train(s: Setting, seed: int, progress: bool | None = None):
    """(trained model, {"loss", "accuracy"} per epoch) for ``seed``, from the cache when stored."""
    arrays, _ = cache.cached(
        "probe_mlp",
        {**asdict(s), "seed": seed},
        lambda _ckpt: _train(s, seed, progress),
        code=(_train,),
    )
    model = network(s)
    model.load_state_dict(
        {k[6:]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith("state/")}
    )
    return model, {k: arrays[k] for k in ("loss", "accuracy")}


def train_run(seed: int, profile: str | None = None) -> None:
    """Train and probe (or find in the cache) the profile's network for ``seed`` (prefetch)."""
    s = setting(profile)
    train(s, seed, progress=False)
    report(s, seed)


def _measure(s: Setting, seed: int):
    train_data, heldout = split(s)
    model = train(s, seed)[0]
    return probe.measure(model, train_data, list(LAYERS), heldout=heldout).to_arrays()


def report(s: Setting, seed: int) -> probe.Report:
    """:func:`dnc.probe.measure` of one seed's trained network (MSE, four layers, held-out data).

    The probe is deterministic given the weights (float64); its result is cached with them.
    """
    arrays, meta = cache.cached(
        "probe_mlp_report", {**asdict(s), "seed": seed}, lambda _ckpt: _measure(s, seed),
        code=(_train, _measure),
    )  # fmt: skip
    meta = {k: v for k, v in meta.items() if k != "_cache"}
    return probe.Report.from_arrays(arrays, meta)


def reports(s: Setting) -> list[probe.Report]:
    """:func:`report` of every seed of the setting."""
    return [report(s, seed) for seed in s.seeds]
