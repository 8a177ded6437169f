"""Training the real network with the deep UFM's objective, cached and resumable.

    L(θ̄, W_1..W_L) = Av_i ℓ(W_L ⋯ W_1 h_i, y_i) + Σ_l ½λ_{W_l}‖W_l‖_F² + ½λ_{H_1}‖H_1‖_F²,

H_1 = [h(x_1; θ̄), …, h(x_N; θ̄)] the features of the N training images and ℓ the UFM's
½‖z − e_y‖² (``mse``) or the cross-entropy (``ce``). With the features held fixed this is paper A's
objective (1) on H_1. A minibatch B estimates it without bias: the data term averaged over B and the
feature penalty ½λ_{H_1}(N/|B|)‖H_B‖_F². The feature map's own parameters carry no weight decay; the
penalty on its output is what regularises them, as in the UFM.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from dnc import cache, data
from dnc._checks import as_labels, positive, positive_int
from dnc.device import choose_device, torch_threads
from dnc.progress import bar as progress_bar
from dnc.realnet.model import RealNet

LOSSES = ("mse", "ce")
OPTIMIZERS = ("sgd", "adam")
# (channels, height, width) of each data set's images, as dnc.data.load flattens them.
IMAGE_SHAPES = {
    "mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "svhn": (3, 32, 32),
    "digits": (1, 8, 8),
}


@dataclass(frozen=True)
class RealNetConfig:
    """Data, architecture, objective and optimiser of one run.

    Attributes:
        dataset: one of :data:`IMAGE_SHAPES` (``"mnist"``, ``"cifar10"``, ``"svhn"``,
            ``"digits"``).
        n_per_class: training images per class.
        widths: the three stage widths (w_1, w_2, w_3) of the feature map.
        blocks: residual blocks per stage.
        stem_stride: stride of the stem convolution (2 halves the resolution first).
        d: width of the linear head.
        L: number of linear layers W_1 … W_L.
        loss: ``"mse"`` (the UFM's ½‖z − e_y‖²) or ``"ce"`` (cross-entropy).
        lambda_W: λ_{W_l}, the same for every linear layer.
        lambda_H: λ_{H_1}, the penalty on the features.
        optimizer: ``"sgd"`` (momentum 0.9) or ``"adam"``.
        lr: initial learning rate, cosine-annealed to zero.
        batch_size: images per minibatch.
        epochs: passes over the training images.
        seed: seed of the initialisation and of every epoch's shuffle.
        max_grad_norm: the minibatch gradient's norm is clipped to this.
    """

    dataset: str = "mnist"
    n_per_class: int = 50
    widths: tuple[int, ...] = (8, 16, 32)
    blocks: int = 1
    stem_stride: int = 2
    d: int = 32
    L: int = 4
    loss: str = "mse"
    lambda_W: float = 5e-3
    lambda_H: float = 1e-4
    optimizer: str = "adam"
    lr: float = 1e-2
    batch_size: int = 25
    epochs: int = 30
    seed: int = 0
    max_grad_norm: float = 10.0  # the minibatch gradient's norm is clipped to this (rare spikes)

    def __post_init__(self):
        """Check every field; store ``widths`` as a tuple of ints and the other numbers as floats.

        Raises:
            ValueError: an unknown data set, loss or optimiser; ``n_per_class``, ``blocks``,
                ``stem_stride``, ``d``, ``L``, ``batch_size`` or ``epochs`` not a positive
                integer; ``widths`` not three positive integers; or a λ, ``lr`` or
                ``max_grad_norm`` that is not positive and finite.
        """
        if self.dataset not in IMAGE_SHAPES:
            raise ValueError(f"dataset must be one of {sorted(IMAGE_SHAPES)}, got {self.dataset!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("n_per_class", "blocks", "stem_stride", "d", "L", "batch_size", "epochs"):
            positive_int(getattr(self, name), name)
        widths = tuple(self.widths) if isinstance(self.widths, (list, tuple)) else (self.widths,)
        if len(widths) != 3:
            raise ValueError(f"widths must hold three stage widths, got {self.widths!r}")
        widths = tuple(positive_int(w, f"widths[{i}]") for i, w in enumerate(widths))
        object.__setattr__(self, "widths", widths)
        for name in ("lambda_W", "lambda_H", "lr", "max_grad_norm"):
            object.__setattr__(self, name, positive(getattr(self, name), name))

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the data set's images."""
        return IMAGE_SHAPES[self.dataset]

    def as_dict(self) -> dict:
        """The fields as a plain dict, ``widths`` as a list: the form the cache key holds."""
        out = asdict(self)
        out["widths"] = list(self.widths)
        return out

    def build(self, K: int) -> RealNet:
        """The network of this config for K classes, seeded by ``seed``."""
        torch.manual_seed(self.seed)
        return RealNet(self.in_shape, K, self.widths, self.blocks, self.d, self.L, self.stem_stride)


def check_labels(y, K: int, n: int) -> np.ndarray:
    """Integer labels of length n in 0..K−1; an error names the first value outside.

    Raises:
        ValueError: not n integer labels, or a label outside 0..K−1.
    """
    lab = as_labels(y, n, "labels")
    bad = (lab < 0) | (lab >= K)
    if bad.any():
        raise ValueError(
            f"labels must lie in 0..{K - 1}, got {lab[bad][0]} at index {np.argmax(bad)}"
        )
    return lab


def load_images(dataset: str, n_per_class: int, seed: int = 0, root=None):
    """(images N×C×H×W float32 tensor, labels) from :func:`dnc.data.load`, ordered by class.

    n per class; the pixels are scaled to zero mean and unit variance over the whole sample (one
    scale for all pixels, so the images keep their shapes).

    Raises:
        ValueError: an unknown data set (or the errors of :func:`dnc.data.load`).
    """
    if dataset not in IMAGE_SHAPES:
        raise ValueError(f"dataset must be one of {sorted(IMAGE_SHAPES)}, got {dataset!r}")
    X, y = data.load(dataset, n_per_class=n_per_class, seed=seed, root=root, standardized=False)
    return as_images(X, IMAGE_SHAPES[dataset]), y


def load_heldout(dataset: str, n_per_class: int, seed: int = 0, root=None):
    """(images, labels) of every image of the data set that :func:`load_images` does not draw.

    The training images are those of ``load_images(dataset, n_per_class, seed, root)``; an image
    is held out when its pixels match none of them. The held-out pixels are scaled with the
    training images' mean and standard deviation, as the network saw its inputs.

    Raises:
        ValueError: an unknown data set (or the errors of :func:`dnc.data.load`).
    """
    if dataset not in IMAGE_SHAPES:
        raise ValueError(f"dataset must be one of {sorted(IMAGE_SHAPES)}, got {dataset!r}")
    X_all, y_all = data.load(dataset, root=root, standardized=False)
    X_train, _ = data.load(
        dataset, n_per_class=n_per_class, seed=seed, root=root, standardized=False
    )
    trained = {row.tobytes() for row in np.asarray(X_train, dtype=np.float64)}
    X_all = np.asarray(X_all, dtype=np.float64)
    keep = np.array([row.tobytes() not in trained for row in X_all])
    mean, scale = X_train.mean(), X_train.std()
    X = (X_all[keep] - mean) / scale
    images = torch.as_tensor(X.reshape(-1, *IMAGE_SHAPES[dataset]), dtype=torch.float32)
    return images, np.asarray(y_all)[keep]


def as_images(X, shape) -> torch.Tensor:
    """Rows of X (N×C·H·W, channel-major) as an N×C×H×W tensor, globally standardised.

    Raises:
        ValueError: X is not a matrix with C·H·W columns.
    """
    X = np.asarray(X, dtype=np.float64)
    size = int(np.prod(shape))
    if X.ndim != 2 or X.shape[1] != size:
        raise ValueError(
            f"images must be rows of {size} = {'×'.join(map(str, shape))} pixels, got shape {X.shape}"
        )
    X = (X - X.mean()) / X.std()
    return torch.as_tensor(X.reshape(-1, *shape), dtype=torch.float32)


def fingerprint(images: torch.Tensor, labels) -> str:
    """SHA-256 (16 hex digits) of the images and labels: the cache key of the data."""
    digest = hashlib.sha256(images.numpy().tobytes())
    digest.update(np.asarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def _objective(model: RealNet, x, Y, lab, N: int, config: RealNetConfig):
    """(data term, regulariser, number correct) of one minibatch, unbiased for the objective."""
    H = model.features(x)
    Z = model.head(H)
    if config.loss == "mse":
        data_term = (Z - Y).square().sum() / (2 * x.shape[0])
    else:
        data_term = torch.nn.functional.cross_entropy(Z, lab)
    reg = 0.5 * config.lambda_H * (N / x.shape[0]) * H.square().sum()
    for W in model.weights():
        reg = reg + 0.5 * config.lambda_W * W.square().sum()
    return data_term, reg, int((Z.argmax(1) == lab).sum())


def _optimizer(model, config):
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    return torch.optim.Adam(model.parameters(), lr=config.lr)


def train_network(
    config: RealNetConfig,
    images: torch.Tensor,
    labels,
    device=None,
    progress: bool | None = None,
    checkpoint: cache.Checkpoint | None = None,
    checkpoint_seconds: float = 60.0,
):
    """Minibatch training for ``config.epochs`` epochs, the learning rate cosine-annealed to zero.

    Each minibatch gradient is clipped to norm ``config.max_grad_norm`` before the step. In the
    book's runs this acts on a handful of steps of the cross-entropy networks (13 of 6,400 in the
    paper profile's seed 0), and without it that run diverged under the generic CPU kernels: a
    rare spike that SGD with momentum amplifies. Steps below the bound are unchanged bit for bit.

    The network is ``config.build(K)`` with K = the largest label + 1. The epoch's shuffle is
    seeded by (seed, epoch), so a resumed run repeats the uninterrupted one.

    Args:
        config: data set, architecture, objective and optimiser of the run.
        images: N × C × H × W tensor, (C, H, W) = ``config.in_shape``.
        labels: N integer class labels, none negative, at least two classes.
        device: torch device of the run (default: :func:`dnc.device.choose_device`).
        progress: False for no progress, else as ``$DNC_PROGRESS`` says (:func:`dnc.progress.bar`).
        checkpoint: resume from it, and save to it every ``checkpoint_seconds`` of wall time.
        checkpoint_seconds: wall time between two checkpoint saves.

    Returns:
        (state, history): the trained parameters as float64 arrays by name (the network's state
        dict), and per-epoch arrays ``objective`` (minibatch average of the full objective) and
        ``accuracy`` (of the training images, as seen during the epoch).

    Raises:
        ValueError: ``images`` not an N×C×H×W tensor of the data set's image shape; labels that
            are not N integers, include a negative one or hold fewer than two classes; or a
            ``device`` (or ``$DNC_DEVICE``) that names no usable device
            (:func:`dnc.device.choose_device`).
        FloatingPointError: an epoch's objective is not finite; the message suggests a learning
            rate ten times smaller.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(getattr(images, "shape", ()))
        raise ValueError(f"images must be an N×C×H×W tensor, got shape {shape}")
    if tuple(images.shape[1:]) != config.in_shape:
        raise ValueError(
            f"images have shape {tuple(images.shape[1:])} per sample but the {config.dataset} "
            f"feature map takes {config.in_shape}"
        )
    N = images.shape[0]
    lab_np = as_labels(labels, N, "labels")
    K = int(lab_np.max()) + 1
    if K < 2:
        raise ValueError(f"need at least 2 classes, labels hold {K}")
    lab_np = check_labels(lab_np, K, N)
    dev = choose_device(device)
    model = config.build(K).to(dev)
    opt = _optimizer(model, config)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs)
    x_all = images.to(dev)
    lab = torch.as_tensor(lab_np, device=dev)
    Y = torch.nn.functional.one_hot(lab, K).to(x_all.dtype)
    start, history = 0, {"objective": [], "accuracy": []}
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        arrays, meta = state
        start = int(meta["epoch"])
        _load(model, opt, sched, arrays, meta, dev)
        history = {k: list(arrays[f"history_{k}"]) for k in history}
    bar = progress_bar(config.epochs, f"real net {config.loss} seed {config.seed}", progress, start)
    last_save = time.time()
    for epoch in range(start, config.epochs):
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        perm = torch.randperm(N, generator=gen).to(dev)
        total, correct = 0.0, 0
        for i in range(0, N, config.batch_size):
            idx = perm[i : i + config.batch_size]
            data_term, reg, hits = _objective(model, x_all[idx], Y[idx], lab[idx], N, config)
            loss = data_term + reg
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            opt.step()
            total += float(loss.detach()) * idx.numel() / N
            correct += hits
        sched.step()
        if not np.isfinite(total):
            raise FloatingPointError(
                f"training diverged at epoch {epoch} with lr {config.lr:g}; try {config.lr / 10:g}"
            )
        history["objective"].append(total)
        history["accuracy"].append(correct / N)
        bar.update(1)
        if checkpoint is not None and time.time() - last_save > checkpoint_seconds:
            checkpoint.save(*_save(model, opt, sched, history, epoch + 1))
            last_save = time.time()
    bar.close()
    state = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}
    return state, {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}


def _save(model, opt, sched, history, epoch):
    arrays = {f"model/{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    for i, p in enumerate(model.parameters()):
        for name, value in opt.state.get(p, {}).items():
            arrays[f"opt/{i}/{name}"] = torch.as_tensor(value).detach().cpu().numpy()
    for k, v in history.items():
        arrays[f"history_{k}"] = np.asarray(v)
    return arrays, {"epoch": epoch, "sched": sched.state_dict()}


def _load(model, opt, sched, arrays, meta, dev):
    model.load_state_dict(
        {
            k[len("model/") :]: torch.as_tensor(v)
            for k, v in arrays.items()
            if k.startswith("model/")
        }
    )
    params = list(model.parameters())
    for key, value in arrays.items():
        if key.startswith("opt/"):
            _, i, name = key.split("/")
            t = torch.as_tensor(value)
            opt.state[params[int(i)]][name] = t if name == "step" else t.to(dev)
    sched.load_state_dict(meta["sched"])
    for group, lr in zip(opt.param_groups, sched.get_last_lr(), strict=True):
        group["lr"] = lr  # the scheduler's rule is recursive: it starts from the group's lr


@dataclass
class RealNetRun:
    """A trained network: its config, parameters (float64 arrays by name) and history.

    Attributes:
        config: the run's configuration.
        K: number of classes.
        state: the trained parameters, float64 arrays by name (the network's state dict).
        history: per-epoch arrays ``objective`` and ``accuracy`` (:func:`train_network`).
    """

    config: RealNetConfig
    K: int
    state: dict
    history: dict

    def model(self) -> RealNet:
        """The trained network in float64 on the CPU."""
        net = self.config.build(self.K).double()
        net.load_state_dict({k: torch.as_tensor(v) for k, v in self.state.items()})
        return net.eval()


def _train_arrays(config: RealNetConfig, images, labels, device, progress, checkpoint, threads):
    """:func:`train_network` on ``threads`` CPU threads, its result as the arrays the cache stores.

    Arrays ``model/<name>`` and ``history_<key>``, and the metadata ``{"K": K}``.
    """
    with torch_threads(threads):
        state, history = train_network(config, images, labels, device, progress, checkpoint)
    arrays = {f"model/{k}": v for k, v in state.items()}
    arrays.update({f"history_{k}": v for k, v in history.items()})
    return arrays, {"K": int(labels.max()) + 1}


def _cache_key(config: RealNetConfig, images: torch.Tensor, labels) -> dict:
    return {"config": config.as_dict(), "data": fingerprint(images, labels)}


def is_trained(config: RealNetConfig, images: torch.Tensor, labels, device=None) -> bool:
    """Whether :func:`train_network_cached` (on ``device``) would read this run from the cache."""
    lab = as_labels(labels, images.shape[0], "labels")
    key = cache.run_key("realnet_train", _cache_key(config, images, lab), (_train_arrays,), device)
    return (cache.cache_dir() / "realnet_train" / f"{key}.npz").exists()  # where cached() stores


def train_network_cached(
    config: RealNetConfig,
    images: torch.Tensor,
    labels,
    device=None,
    progress: bool | None = None,
    use_cache: bool = True,
    threads: int | None = 1,
) -> RealNetRun:
    """:func:`train_network`, stored by the config, the data's fingerprint and the code version.

    Training runs on ``threads`` CPU threads (1 by default, so that the trajectory does not depend
    on the core count; ``None`` keeps torch's setting). Neither ``threads`` nor ``progress``
    enters the key, which holds the type of ``device`` (or of the default device,
    :func:`dnc.cache.run_key`). An interrupted run resumes from its checkpoint.

    Args:
        config: as for :func:`train_network`.
        images: as for :func:`train_network`, on the CPU: their bytes enter the key
            (:func:`fingerprint`).
        labels: as for :func:`train_network`.
        device: as for :func:`train_network`.
        progress: as for :func:`train_network`.
        use_cache: ``False`` trains afresh, without checkpoint, and stores nothing.
        threads: CPU threads for torch during training.

    Returns:
        The :class:`RealNetRun`, read from the cache when it is stored.

    Raises:
        ValueError: labels that are not N integers, before the cache is looked at; on a miss,
            the errors of :func:`train_network`.
        FloatingPointError: on a miss, the training diverged (see :func:`train_network`).
    """
    lab = as_labels(labels, images.shape[0], "labels")
    key = _cache_key(config, images, lab)

    def compute(checkpoint):
        return _train_arrays(config, images, lab, device, progress, checkpoint, threads)

    arrays, meta = cache.cached(
        "realnet_train", key, compute, use_cache=use_cache, code=(_train_arrays,), device=device
    )
    state = {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    history = {k[len("history_") :]: v for k, v in arrays.items() if k.startswith("history_")}
    return RealNetRun(config, int(meta["K"]), state, history)
