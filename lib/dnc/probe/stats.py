"""Class statistics of a layer's features, accumulated batch by batch in float64.

For features h_i ∈ R^d with labels y_i ∈ {0..K−1} it keeps, per class, the count n_c and the mean
μ_c, and over all samples the within-class scatter Σ_c Σ_{i∈c} (h_i − μ_c)(h_i − μ_c)ᵀ and the
second moment Σ_i h_i h_iᵀ: memory K·d + 2d², whatever N is. A batch's class block joins the
running one by Chan's update, M ← M + M_b + (n n_b/(n + n_b)) δδᵀ with δ = μ_b − μ, which avoids
the cancellation of Σ hhᵀ − Nμμᵀ. Σ_W, Σ_B and the book's NC metrics then follow as in
:mod:`dnc.metrics`, without the features.
"""

from __future__ import annotations

import numpy as np
import torch

from dnc import metrics


class ClassStats:
    """Streaming class counts, means, within-class scatter and second moment of d-dim features."""

    def __init__(self, K: int, d: int, device=None):
        """Empty statistics for K classes of d-dimensional features, held on ``device``."""
        self.K, self.d = K, d
        opts = {"dtype": torch.float64, "device": device}
        self.counts = torch.zeros(K, **opts)
        self.class_mean = torch.zeros(K, d, **opts)
        self.scatter = torch.zeros(d, d, **opts)
        self.second = torch.zeros(d, d, **opts)

    def add(self, H: torch.Tensor, y: torch.Tensor) -> None:
        """Add a batch: H (n × d) features, y (n) labels in 0..K−1."""
        H = H.detach().to(torch.float64)
        self.second += H.T @ H
        for c in torch.unique(y).tolist():
            block = H[y == c]
            n_b = block.shape[0]
            mean_b = block.mean(0)
            centred = block - mean_b
            n = self.counts[c]
            delta = mean_b - self.class_mean[c]
            self.scatter += centred.T @ centred + torch.outer(delta, delta) * (n * n_b / (n + n_b))
            self.class_mean[c] += delta * (n_b / (n + n_b))
            self.counts[c] = n + n_b

    @property
    def N(self) -> int:
        """Samples seen."""
        return int(self.counts.sum())

    def means(self) -> np.ndarray:
        """H̄ = [μ_1, …, μ_K], d × K."""
        return self.class_mean.T.cpu().numpy().copy()

    def sigma_w(self) -> np.ndarray:
        """Σ_W = (1/N) Σ_ic (h_ic − μ_c)(h_ic − μ_c)ᵀ."""
        return self.scatter.cpu().numpy() / self.N

    def sigma_b(self) -> np.ndarray:
        """Σ_B = (1/K) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ, μ_G = Av_c μ_c."""
        M = self.means()
        M = M - M.mean(axis=1, keepdims=True)
        return M @ M.T / self.K

    def second_moment(self) -> np.ndarray:
        """Σ = (1/N) Σ_i h_i h_iᵀ, the uncentred second moment (the layer Hessian's input factor)."""
        return self.second.cpu().numpy() / self.N

    def collapse(self) -> dict[str, float]:
        """NC1 in the book's three forms and the authors', NC2 to both frames and the authors'.

        Keys: ``nc1`` (‖Σ_W Σ_B^†‖_F², paper A), ``nc1_trace`` (tr(Σ_W Σ_B^†)/K), ``nc1_ratio``
        (tr Σ_W/tr Σ_B, paper B), ``nc1_authors`` (that ÷ K), ``nc2`` (orthogonal frame),
        ``nc2_etf`` and ``nc2_authors``.
        """
        sw, sb, M, K = self.sigma_w(), self.sigma_b(), self.means(), self.K
        ratio = metrics.nc1_of(sw, sb, K, "trace_ratio")
        return {
            "nc1": metrics.nc1_of(sw, sb, K, "frobenius"),
            "nc1_trace": metrics.nc1_of(sw, sb, K, "trace"),
            "nc1_ratio": ratio,
            "nc1_authors": ratio / K,
            "nc2": metrics.nc2_of_means(M, "orthogonal"),
            "nc2_etf": metrics.nc2_of_means(M, "etf"),
            "nc2_authors": metrics.nc2_authors_of_means(M),
        }
