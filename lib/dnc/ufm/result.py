"""The outcome of a training run: snapshots of (H_1, W_1 … W_L), the loss history, and their
``.npz`` form for the cache."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dnc.ufm.model import UFMConfig


@dataclass
class TrainResult:
    """Snapshots of parameters at chosen epochs and the loss history of a batch of runs."""

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
        """(H_1, [W_1, …, W_L]) as float64 arrays at a snapshot epoch (default: the last)."""
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
        return self.loss[-1]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
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
