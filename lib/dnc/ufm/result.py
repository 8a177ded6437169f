"""The outcome of a training run: parameter snapshots, the loss history and their cached form.

The snapshots are of (H_1, W_1 … W_L); the cache stores them as ``.npz`` arrays with metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dnc.ufm.model import UFMConfig


@dataclass
class TrainResult:
    """Snapshots of parameters at chosen epochs and the loss history of a batch of runs.

    Attributes:
        config: the configuration the batch shares (model b's own: :meth:`config_of`).
        lr: learning rate η.
        epochs: number of GD steps.
        seeds: one seed per model of the batch.
        snapshot_epochs: the S epochs at which the parameters were stored, ascending.
        H: H_1 at the snapshots, (S, B, d, N).
        Ws: L arrays (S, B, d_l, d_{l−1}): W_l at the snapshots.
        loss_epochs: the T epochs at which the objective was recorded.
        loss: (T, B): the full objective (1) at ``loss_epochs``.
        meta: anything else stored with the run; ``"lambdas"`` holds [lambda_W, lambda_H] per
            model when the batch is a λ sweep.
    """

    config: UFMConfig
    lr: float
    epochs: int
    seeds: tuple[int, ...]
    snapshot_epochs: np.ndarray
    H: np.ndarray  # (S, B, d, N)
    Ws: list[np.ndarray]  # L arrays (S, B, d_l, d_{l−1})
    loss_epochs: np.ndarray
    loss: np.ndarray  # (T, B): the full objective (1) at loss_epochs
    meta: dict = field(default_factory=dict)

    def params(self, epoch: int | None = None, b: int = 0):
        """(H_1, [W_1, …, W_L]) of model b as float64 arrays at a snapshot epoch.

        Args:
            epoch: one of ``snapshot_epochs`` (default: the last).
            b: index of the model in the batch.

        Returns:
            H_1 (d × N) and [W_1, …, W_L], W_l of shape d_l × d_{l−1}: views into the stored
            arrays, not copies.

        Raises:
            KeyError: no snapshot was taken at ``epoch``.
            ValueError: ``b`` is not the index of a model of the batch.
        """
        B = self.H.shape[1]
        if isinstance(b, bool) or not isinstance(b, int | np.integer) or not 0 <= b < B:
            raise ValueError(
                f"b must be a model index in 0..{B - 1} (the batch has {B}), got {b!r}"
            )
        if epoch is None:
            i = len(self.snapshot_epochs) - 1
        else:
            hits = np.flatnonzero(self.snapshot_epochs == epoch)
            if hits.size == 0:
                raise KeyError(
                    f"no snapshot at epoch {epoch}; have {self.snapshot_epochs.tolist()}"
                )
            i = int(hits[0])
        return self.H[i, b], [W[i, b] for W in self.Ws]

    def config_of(self, b: int = 0) -> UFMConfig:
        """The configuration of model b of the batch: its seed, and its λ's when they varied."""
        lambdas = self.meta.get("lambdas")
        if lambdas is None:
            return replace(self.config, seed=self.seeds[b])
        lam_W, lam_H = lambdas[b]
        return replace(self.config, lambda_W=lam_W, lambda_H=lam_H, seed=self.seeds[b])

    @property
    def final_loss(self) -> np.ndarray:
        """The objective (1) at the last recorded epoch, one value per model, shape (B,)."""
        return self.loss[-1]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, meta): the result as named arrays and metadata: the form the cache stores.

        Array ``W{i}`` holds W_{i+1} (0-based i); ``meta`` holds the configuration, ``lr``,
        ``epochs``, ``seeds`` and the entries of :attr:`meta`.
        """
        arrays = {
            "snapshot_epochs": self.snapshot_epochs,
            "H": self.H,
            "loss_epochs": self.loss_epochs,
            "loss": self.loss,
        }
        arrays.update({f"W{l}": W for l, W in enumerate(self.Ws)})
        meta = {
            "config": self.config.as_dict(),
            "lr": self.lr,
            "epochs": self.epochs,
            "seeds": list(self.seeds),
            **self.meta,
        }
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays, meta) -> TrainResult:
        """The result that :meth:`to_arrays` stored; the cache's own ``_cache`` entry is dropped."""
        config = UFMConfig(**meta["config"])
        Ws = [arrays[f"W{l}"] for l in range(config.L)]
        extra = {
            k: v for k, v in meta.items() if k not in ("config", "lr", "epochs", "seeds", "_cache")
        }
        return cls(
            config,
            meta["lr"],
            meta["epochs"],
            tuple(meta["seeds"]),
            arrays["snapshot_epochs"],
            arrays["H"],
            Ws,
            arrays["loss_epochs"],
            arrays["loss"],
            extra,
        )
