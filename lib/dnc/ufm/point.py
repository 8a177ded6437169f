"""The deep UFM at given parameters, checked once: what the measurements of the book take.

``Point(H1, Ws, activation)`` validates H_1 (d×N, N = Kn columns ordered by class, n per class)
and W_1 … W_L (shapes that chain, finite) and the activation once. On first use it computes, and
then keeps, what every measurement needs:

- ``inputs`` [h^(1), …, h^(L), output]: the layer inputs (h^(1) = H_1) and the output;
- ``products`` [A^(1), …, A^(L+1)]: A^(l) = W_L ⋯ W_l, A^(L+1) = I_K;
- ``means`` [H̄^(1), …, H̄^(L+1)]: the class means of every layer input and of the output;
- ``factors(l, loss)``: the Jacobian factors (Ã, X) of layer l,
  Hess_l = (1/N) Σ_i Ã_iᵀÃ_i ⊗ x_i x_iᵀ.

Functions named ``*_at(point, l)`` in :mod:`dnc.ufm.collapse` and :mod:`dnc.spectra` take a Point
and trust it; their ``(H1, Ws, l, activation)`` counterparts build one and call them, so a table
of many measurements (:func:`dnc.realnet.measure.layer_table`) checks and runs the model once.
A Point holds references to its arrays: do not modify them in place after building it.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from dnc import metrics
from dnc._checks import layer_index
from dnc.ufm.model import (
    ACTIVATIONS,
    check_loss,
    check_params,
    forward_pass,
    labels,
    products,
    softmax,
)


class Point:
    """The deep UFM's parameters (H_1, [W_1 … W_L]) with the activation σ, validated once.

    Args:
        H1: the free features, d × N, columns ordered by class (n per class).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        activation: ``"linear"`` (deep linear UFM) or ``"relu"``.

    Raises:
        TypeError: H1 or a W_l that is not an array of numbers.
        ValueError: shapes that do not chain, non-finite entries, no weight matrix, an unknown
            activation, or N not a multiple of K.
    """

    def __init__(self, H1, Ws, activation: str = "linear"):
        """Check (H1, Ws, activation) once; the forward quantities are computed on first use."""
        self.H1, self.Ws = check_params(H1, Ws)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.L, self.K, self.N = len(self.Ws), self.Ws[-1].shape[0], self.H1.shape[1]
        if self.N % self.K:
            raise ValueError(
                f"N = {self.N} columns cannot be split into K = {self.K} equal classes"
            )
        self.n = self.N // self.K
        self._factors: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}

    def layer(self, l) -> int:
        """The 1-based layer index l, checked against 1..L (raises ValueError otherwise)."""
        return layer_index(self.Ws, l)

    @cached_property
    def labels(self) -> np.ndarray:
        """Class of each column: [0]*n + [1]*n + … + [K−1]*n."""
        return labels(self.K, self.n)

    @cached_property
    def inputs(self) -> list[np.ndarray]:
        """[h^(1), …, h^(L), output] (:func:`dnc.ufm.model.forward_pass`)."""
        return forward_pass(self.H1, self.Ws, self.activation)

    @cached_property
    def products(self) -> list[np.ndarray]:
        """[A^(1), …, A^(L+1)] with A^(l) = W_L ⋯ W_l and A^(L+1) = I_K."""
        return products(self.Ws)

    @cached_property
    def means(self) -> list[np.ndarray]:
        """[H̄^(1), …, H̄^(L+1)]: class means (d_{l−1} × K) of each layer input and the output."""
        return [metrics.class_means(x, self.labels) for x in self.inputs]

    def factors(self, l, loss: str = "mse") -> tuple[np.ndarray, np.ndarray]:
        """(Ã, X): Ã (N, K, d_l) with Ã_i = ∂f(x_i)/∂(W_l x_i), and X = h^(l) (d_{l−1} × N).

        ∂f_c(x_i)/∂(W_l)_{ab} = Ã_i[c, a] X[b, i].
        ReLU: Ã_i = W_L D_{L−1,i} W_{L−1} ⋯ W_{l+1} D_{l,i} with D_{m,i} = diag 1[W_m h_i^(m) > 0];
        linear: Ã_i = A^(l+1) = W_L ⋯ W_{l+1}. With ``loss="ce"`` Ã_i is replaced by B_i Ã_i,
        B_i = diag(√p_i)(I − 1p_iᵀ), so that Hess_l = (1/N) Σ_i (B_iÃ_i)ᵀB_iÃ_i ⊗ x_i x_iᵀ.
        The result is kept, per (l, loss), for the next call.

        Raises:
            ValueError: l outside 1..L, or an unknown loss.
        """
        check_loss(loss)
        l = self.layer(l)
        if (l, loss) not in self._factors:
            self._factors[(l, loss)] = self._jacobian_factors(l, loss)
        return self._factors[(l, loss)]

    def _jacobian_factors(self, l: int, loss: str) -> tuple[np.ndarray, np.ndarray]:
        xs, Ws, N, K = self.inputs, self.Ws, self.N, self.K
        T = np.broadcast_to(np.eye(K), (N, K, K))
        for m in range(self.L, l, -1):  # multiply by W_m then by the mask of layer m−1's output
            # One (NK × d_m) · (d_m × d_{m−1}) product rather than N small ones.
            T = (np.ascontiguousarray(T).reshape(N * K, -1) @ Ws[m - 1]).reshape(N, K, -1)
            if self.activation == "relu":
                T *= (xs[m - 1] > 0).T[:, None, :]  # h^(m) = relu(W_{m−1} h^(m−1)) > 0
        if loss == "ce":
            P = softmax(xs[-1]).T  # (N, K)
            mean_row = np.einsum("ik,ika->ia", P, T)  # Σ_k p_ik ã_ik
            T = np.sqrt(P)[:, :, None] * (T - mean_row[:, None, :])
        return np.ascontiguousarray(T), xs[l - 1]
