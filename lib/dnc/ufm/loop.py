"""The training loop of the deep UFM: full-batch gradient descent from the seeded initialisation.

The steps are those of :mod:`dnc.ufm.step`; the loop adds snapshots, divergence checks,
checkpoints, progress and the cache.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from dnc import cache
from dnc._checks import positive, positive_int, whole
from dnc.device import torch_threads
from dnc.progress import bar as progress_bar
from dnc.ufm.model import UFMConfig
from dnc.ufm.result import TrainResult
from dnc.ufm.step import Stepper, initial_params


def _snapshot_plan(epochs: int, snapshots) -> np.ndarray:
    wanted = [whole(e, f"snapshots[{i}]") for i, e in enumerate(snapshots)]
    snaps = np.unique(np.asarray(wanted + [epochs], dtype=np.int64))
    if snaps.min() < 0 or snaps.max() > epochs:
        raise ValueError(f"snapshot epochs must lie in [0, {epochs}], got {snaps.tolist()}")
    return snaps


def _check_diverged(values: np.ndarray, epochs: list[int], reference: float, lr: float):
    bad = ~np.isfinite(values).all(axis=1) | (values > 1e6 * max(reference, 1.0)).any(axis=1)
    if bad.any():
        raise FloatingPointError(
            f"gradient descent diverged near epoch {epochs[int(np.argmax(bad))]} with learning "
            f"rate {lr:g}: the loss became {'non-finite' if not np.isfinite(values).all() else 'huge'}"
            f"; try a smaller learning rate, e.g. {lr / 10:g}"
        )


def train(
    config: UFMConfig,
    epochs: int,
    lr: float,
    snapshots=(),
    seeds=None,
    log_every: int = 1,
    device=None,
    dtype=torch.float64,
    progress: bool | None = None,
    checkpoint: cache.Checkpoint | None = None,
    checkpoint_seconds: float = 60.0,
    threads: int | None = 1,
    lambdas=None,
) -> TrainResult:
    """Run full-batch GD for ``epochs`` steps from the seeded initialisation.

    The models of a batch (one per seed, or one per λ pair) share sizes, activation, loss and
    learning rate, and are trained together by :class:`dnc.ufm.step.Stepper` with autograd off.

    Args:
        config: sizes, λ's, activation, loss, initial scale and seed.
        epochs: number of GD steps, an integer ≥ 0.
        lr: learning rate η, positive and finite.
        snapshots: epochs (0 = initialisation) at which (H_1, W_1 … W_L) are stored; the last
            epoch always is.
        seeds: one model per seed, trained together as a batch (default: ``config.seed``).
        log_every: record the objective (1) every this many epochs, and at the last.
        device: torch device of the run (default: :func:`dnc.device.choose_device`).
        dtype: torch dtype of the run.
        progress: False for no progress, else as ``$DNC_PROGRESS`` says (:func:`dnc.progress.bar`).
        checkpoint: resume from it, and save to it every ``checkpoint_seconds`` of wall time.
        checkpoint_seconds: wall time between two checkpoint saves.
        threads: CPU threads for torch during the run (1 by default: these matrices are small,
            and a second thread only waits for a busy core); ``None`` keeps torch's setting.
        lambdas: a sequence of (lambda_W, lambda_H) pairs, one model each, in place of
            ``config``'s λ's; a single seed (or none) is then shared, so that every model starts
            from the same initialisation (a λ sweep as one batch).

    Returns:
        The :class:`~dnc.ufm.result.TrainResult` of the B models: H_1 of shape (S, B, d, N) and
        each W_l of shape (S, B, d_l, d_{l−1}) at the S snapshot epochs, and the objective (1),
        shape (T, B), at the T logged epochs. ``result.config_of(b)`` gives model b's config.

    Raises:
        ValueError: ``epochs`` not a non-negative integer, ``lr`` not positive and finite, a
            snapshot outside [0, epochs], the checks of :func:`batch_configs`, ``threads``
            neither ``None`` nor a whole number ≥ 1, or a ``device`` (or ``$DNC_DEVICE``) that
            names no usable device (:func:`dnc.device.choose_device`).
        FloatingPointError: the objective became non-finite or exceeded 10⁶ × max(its first
            logged value, 1); the message suggests a smaller learning rate.

    Warns:
        UserWarning: a model's λ's are above the threshold of
            :meth:`~dnc.ufm.model.UFMConfig.warn_if_above_threshold`; with ``lambdas``, also
            d < K, as each model's configuration is built.
    """
    # Inference mode: every step is closed form, and leaving autograd's dispatch out of its ~25
    # small ops saves ~5% of a paper-size ReLU step (make bench).
    with torch_threads(threads), torch.inference_mode():
        return _train(**{k: v for k, v in locals().items() if k != "threads"})


def _train(
    *,
    config,
    epochs,
    lr,
    snapshots,
    seeds,
    log_every,
    device,
    dtype,
    progress,
    checkpoint,
    checkpoint_seconds,
    lambdas,
) -> TrainResult:
    epochs, lr = whole(epochs, "epochs"), positive(lr, "lr")
    log_every = positive_int(log_every, "log_every")
    if dtype not in (torch.float64, torch.float32):
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype!r}")
    if checkpoint_seconds != 0:
        positive(checkpoint_seconds, "checkpoint_seconds")
    seeds, configs = batch_configs(config, seeds, lambdas)
    for c in configs or [config]:
        c.warn_if_above_threshold()
    snaps = _snapshot_plan(epochs, snapshots)
    H, Ws = initial_params(config, seeds, dtype, device)
    start, H_snaps, W_snaps, losses, loss_epochs = 0, [], [[] for _ in Ws], [], []
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        arrays, meta = state
        start = int(meta["epoch"])
        H = torch.as_tensor(arrays["H"], dtype=dtype, device=H.device).clone()
        Ws = [
            torch.as_tensor(arrays[f"W{l}"], dtype=dtype, device=H.device).clone()
            for l in range(len(Ws))
        ]
        H_snaps = list(arrays["H_snaps"])
        W_snaps = [list(arrays[f"W{l}_snaps"]) for l in range(len(Ws))]
        losses, loss_epochs = list(arrays["loss"]), [int(e) for e in arrays["loss_epochs"]]

    stepper = Stepper(config, lr, H, configs)
    reference = float(np.max(losses[0])) if losses else None
    pending: list[torch.Tensor] = []
    pending_epochs: list[int] = []
    bar = progress_bar(
        epochs, f"{config.activation} UFM d={config.d} L={config.L}", progress, start
    )

    def flush():
        nonlocal reference
        if not pending:
            return
        values = torch.stack(pending).cpu().numpy()
        if reference is None:
            reference = float(np.max(values[0]))
        _check_diverged(values, pending_epochs, reference, lr)
        losses.extend(values)
        loss_epochs.extend(pending_epochs)
        pending.clear()
        pending_epochs.clear()

    last_save = time.time()
    next_snap = int(np.searchsorted(snaps, start))
    for epoch in range(start, epochs + 1):
        if next_snap < len(snaps) and snaps[next_snap] == epoch:
            H_snaps.append(H.cpu().numpy().copy())
            for l, W in enumerate(Ws):
                W_snaps[l].append(W.cpu().numpy().copy())
            next_snap += 1
        log = epoch % log_every == 0 or epoch == epochs
        reg = stepper.regulariser(H, Ws) if log else None
        if epoch < epochs:
            data = stepper.step(H, Ws, with_loss=log)
        else:
            data = stepper.data_loss(H, Ws)
        if log:
            pending.append(data + reg)
            pending_epochs.append(epoch)
        if len(pending) >= 512:
            flush()
        if (epoch + 1) % 1000 == 0:
            bar.update(min(1000, epochs - bar.n))
        if (
            checkpoint is not None
            and epoch < epochs
            and time.time() - last_save > checkpoint_seconds
        ):
            flush()
            arrays = {
                "H": H.cpu().numpy(),
                "H_snaps": np.asarray(H_snaps),
                "loss": np.asarray(losses),
                "loss_epochs": np.asarray(loss_epochs),
            }
            for l, W in enumerate(Ws):
                arrays[f"W{l}"] = W.cpu().numpy()
                arrays[f"W{l}_snaps"] = np.asarray(W_snaps[l])
            checkpoint.save(arrays, {"epoch": epoch + 1})
            last_save = time.time()
    flush()
    bar.update(epochs - bar.n)  # the epochs since the last thousand
    bar.close()
    return TrainResult(
        config=config,
        lr=float(lr),
        epochs=epochs,
        seeds=seeds,
        snapshot_epochs=snaps,
        H=np.stack(H_snaps),
        Ws=[np.stack(w) for w in W_snaps],
        loss_epochs=np.asarray(loss_epochs),
        loss=np.asarray(losses),
        meta={} if configs is None else {"lambdas": _lambdas_record(configs)},
    )


def batch_configs(config: UFMConfig, seeds=None, lambdas=None):
    """(seeds, configs) of a batch: one seed per model, and one config per model when λ's vary.

    Args:
        config: the configuration the models share.
        seeds: the models' seeds (default: ``(config.seed,)``).
        lambdas: (lambda_W, lambda_H) pairs, one model each, or ``None``.

    Returns:
        ``seeds`` as a tuple of ints (a single seed repeated once per pair when ``lambdas`` is
        given), and ``configs``: ``None`` when every model uses ``config``'s λ's, else one
        validated config per model with its (lambda_W, lambda_H) and seed.

    Raises:
        ValueError: no seed; ``lambdas`` empty or holding an entry that is not a sequence of
            two; several seeds but not one per pair; or a λ that :class:`UFMConfig` refuses.
    """
    seeds = (config.seed,) if seeds is None else tuple(int(s) for s in seeds)
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed")
    if lambdas is None:
        return seeds, None
    pairs = list(lambdas)
    if not pairs or any(not isinstance(p, Sequence) or len(p) != 2 for p in pairs):
        raise ValueError(
            "lambdas must be a non-empty sequence of (lambda_W, lambda_H) pairs, one per model"
        )
    if len(seeds) == 1:
        seeds = seeds * len(pairs)
    if len(seeds) != len(pairs):
        raise ValueError(f"{len(seeds)} seeds for {len(pairs)} (lambda_W, lambda_H) pairs")
    configs = [
        replace(config, lambda_W=lam_W, lambda_H=lam_H, seed=seed)
        for (lam_W, lam_H), seed in zip(pairs, seeds, strict=True)
    ]
    return seeds, configs


def _lambdas_record(configs) -> list:
    return [[list(c.lambda_W_list), c.lambda_H] for c in configs]


def train_cached(
    config: UFMConfig,
    epochs: int,
    lr: float,
    snapshots=(),
    seeds=None,
    log_every: int = 1,
    device=None,
    progress: bool | None = None,
    use_cache: bool = True,
    threads: int | None = 1,
    lambdas=None,
) -> TrainResult:
    """:func:`train`, stored on disk by its full arguments and the code version, and resumable.

    The key (:func:`dnc.cache.run_key`) holds the configuration, epochs, learning rate, sorted
    snapshots, seeds, ``log_every``, the λ pairs, the code :func:`train` runs and the type of
    ``device`` (or of the default device). ``threads`` is not part of it: it changes the speed,
    not the run (up to round-off); nor is ``progress``. An interrupted run resumes from its
    checkpoint.

    Args:
        config: as for :func:`train`.
        epochs: as for :func:`train`.
        lr: as for :func:`train`.
        snapshots: as for :func:`train`.
        seeds: as for :func:`train`.
        log_every: as for :func:`train`.
        device: as for :func:`train`.
        progress: as for :func:`train`.
        use_cache: ``False`` runs :func:`train` afresh, without checkpoint, and stores nothing.
        threads: as for :func:`train`.
        lambdas: as for :func:`train`.

    Returns:
        The :class:`~dnc.ufm.result.TrainResult`, read from the cache when it is stored.

    Raises:
        ValueError: the checks of :func:`batch_configs`, before the cache is looked at; on a
            miss, the errors of :func:`train`.
        FloatingPointError: on a miss, the run diverged (see :func:`train`).
    """
    seeds, configs = batch_configs(config, seeds, lambdas)
    key = {
        "config": config.as_dict(),
        "epochs": int(epochs),
        "lr": float(lr),
        "snapshots": sorted(whole(e, f"snapshots[{i}]") for i, e in enumerate(snapshots)),
        "seeds": list(seeds),
        "log_every": int(log_every),
        "dtype": "float64",
    }
    if configs is not None:
        key["lambdas"] = _lambdas_record(configs)

    def compute(checkpoint):
        result = train(
            config,
            epochs,
            lr,
            snapshots,
            seeds,
            log_every,
            device,
            progress=progress,
            checkpoint=checkpoint,
            threads=threads,
            lambdas=lambdas,
        )
        return result.to_arrays()

    arrays, meta = cache.cached("ufm_train", key, compute, use_cache=use_cache, device=device)
    return TrainResult.from_arrays(arrays, meta)
