"""The deep unconstrained feature model (paper A, eq. 1 and §3.1).

    L(H_1, W_1..W_L) = 1/(2Kn) ‖W_L σ(W_{L−1} … σ(W_1 H_1)) − Y‖_F²
                       + Σ_l ½λ_{W_l}‖W_l‖_F² + ½λ_{H_1}‖H_1‖_F²

(``loss="mse"``), or with the data term (1/N) Σ_i −log softmax(z_i)_{y_i} (``loss="ce"``, the later
version of paper A), z_i the output for sample i,

with H_1 ∈ R^{d×Kn} free features (column i + c·n is sample i of class c), W_1..W_{L−1} ∈ R^{d×d},
W_L ∈ R^{K×d}, Y = I_K ⊗ 1_nᵀ and σ the identity (deep linear UFM) or ReLU.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from dnc._checks import as_matrix, positive, positive_int, positive_list, whole
from dnc.ufm.optimum import below_threshold, ce_below_threshold

ACTIVATIONS = ("linear", "relu")
LOSSES = ("mse", "ce")


@dataclass(frozen=True)
class UFMConfig:
    """Sizes and regularisation of a deep UFM; ``lambda_W`` holds one value per layer.

    Attributes:
        K: number of classes, at least 2.
        n: samples per class, so N = Kn.
        d: width of H_1 and of every hidden layer (d_0 = … = d_{L−1} = d, d_L = K).
        L: number of weight matrices W_1 … W_L.
        lambda_W: λ_{W_1}, …, λ_{W_L}; a single number stands for all L, and the stored value is
            always the L-tuple of floats.
        lambda_H: λ_{H_1}, the weight decay of the free features.
        activation: ``"linear"`` (σ the identity, the deep linear UFM) or ``"relu"``.
        loss: ``"mse"`` (eq. 1) or ``"ce"`` (the cross-entropy data term).
        init_scale: s of the initialisation W_l ~ N(0, s²/d_{l−1}), H_1 ~ N(0, s²/d).
        seed: seed of the initial draw (:func:`dnc.ufm.step.initial_params`).
    """

    K: int
    n: int
    d: int
    L: int
    lambda_W: tuple[float, ...] | float = 5e-3
    lambda_H: float = 5e-3
    activation: str = "linear"
    loss: str = "mse"
    init_scale: float = 1.0
    seed: int = 0

    def __post_init__(self):
        """Check every field; store the λ's and ``init_scale`` as floats, ``lambda_W`` as a tuple.

        The normal form makes equal configurations compare, and hash into cache keys, equal.

        Raises:
            TypeError: a size, λ, ``init_scale`` or ``seed`` that is not a number.
            ValueError: K, n, d or L not a positive integer, K < 2, a seed that is not a whole
                number ≥ 0, an unknown activation or loss, or a λ or ``init_scale`` that is not
                positive and finite (or a ``lambda_W`` sequence whose length is not L).

        Warns:
            UserWarning: d < K: the K class means of a layer span at most d dimensions, so deep
                neural collapse (DNC2, DNC3) cannot hold. The model may still be trained.
        """
        K = positive_int(self.K, "K")
        if K < 2:
            raise ValueError(f"K must be at least 2 classes, got {K}")
        n, d, L = positive_int(self.n, "n"), positive_int(self.d, "d"), positive_int(self.L, "L")
        for field, value in (("K", K), ("n", n), ("d", d), ("L", L)):
            object.__setattr__(self, field, value)
        object.__setattr__(self, "seed", whole(self.seed, "seed"))
        if d < K:
            # Allowed (the phase diagram trains such models), but rank(W_L⋯W_1H_1) ≤ d < K.
            warnings.warn(
                f"the width d = {d} is below the number of classes K = {K}: the K class means "
                f"of a layer span at most {d} dimensions, so they cannot form an orthogonal frame "
                "and deep neural collapse (DNC2, DNC3) cannot hold; at most d of the K output "
                "directions can be fitted",
                stacklevel=3,
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        # Normalise so that equal configurations compare (and hash into cache keys) equal.
        object.__setattr__(self, "lambda_W", tuple(positive_list(self.lambda_W, L, "lambda_W")))
        object.__setattr__(self, "lambda_H", positive(self.lambda_H, "lambda_H"))
        object.__setattr__(self, "init_scale", positive(self.init_scale, "init_scale"))

    def warn_if_above_threshold(self) -> None:
        """Warn when the closed form puts the optimum at zero; linear model only.

        MSE: paper A's condition (2) fails, and the global optimum is then the zero solution, not
        deep neural collapse. CE: no collapsed simplex ETF beats the zero solution
        (:func:`ce_below_threshold`). A ReLU model has no closed form and is never warned about.

        Warns:
            UserWarning: naming K, n and L and the threshold that fails.
        """
        if self.activation != "linear":
            return
        if self.loss == "mse":
            if below_threshold(self.K, self.n, self.lambda_W_list, self.lambda_H):
                return
            message = (
                "the regularisation violates paper A's condition (2) for "
                f"K={self.K}, n={self.n}, L={self.L}: the global optimum is the zero solution "
                "and no deep neural collapse is expected"
            )
        else:
            if ce_below_threshold(self.K, self.n, self.lambda_W_list, self.lambda_H):
                return
            message = (
                "the regularisation is above the cross-entropy threshold for "
                f"K={self.K}, n={self.n}, L={self.L}: no collapsed simplex ETF beats the zero "
                "solution (objective log K), so the optimum is likely zero and no deep neural "
                "collapse is expected"
            )
        warnings.warn(message, stacklevel=3)

    @property
    def lambda_W_list(self) -> tuple[float, ...]:
        """The L per-layer weight decays λ_{W_1}, …, λ_{W_L}."""
        return self.lambda_W

    @property
    def N(self) -> int:
        """N = Kn, the number of samples (columns of H_1)."""
        return self.K * self.n

    def widths(self) -> list[int]:
        """[d_0, d_1, …, d_L] = [d, d, …, d, K]: W_l is d_l × d_{l−1}."""
        return [self.d] * self.L + [self.K]

    def as_dict(self) -> dict:
        """The fields as a plain dict, ``lambda_W`` as a list: the form of cache keys and metadata.

        ``UFMConfig(**config.as_dict())`` gives back an equal configuration.
        """
        out = asdict(self)
        out["lambda_W"] = list(self.lambda_W)
        return out


def labels(K: int, n: int) -> np.ndarray:
    """Class index of each column of H_1: [0]*n + [1]*n + … + [K−1]*n.

    Args:
        K: number of classes.
        n: samples per class.

    Returns:
        Integer array of length N = Kn.
    """
    return np.repeat(np.arange(K), n)


def targets(K: int, n: int) -> np.ndarray:
    """Y = I_K ⊗ 1_nᵀ, the K×Kn one-hot targets.

    Args:
        K: number of classes.
        n: samples per class.

    Returns:
        Float array of shape K × Kn; column i + c·n is e_c.
    """
    return np.kron(np.eye(K), np.ones((1, n)))


# --------------------------------------------------------------------------------------------
# Forward quantities of one model (numpy, float64): the objects the theorems talk about.
# --------------------------------------------------------------------------------------------


def check_params(H1, Ws) -> tuple[np.ndarray, list[np.ndarray]]:
    """Validate the parameters (H_1, [W_1, …, W_L]) and return them as float64 arrays.

    Args:
        H1: the free features, d × N (numpy array or torch tensor).
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1} with d_0 = d.

    Returns:
        (H1, [W_1, …, W_L]) as float64 numpy arrays with the same values.

    Raises:
        TypeError: an argument that is not an array of numbers.
        ValueError: a NaN or infinite entry, an argument that is not a matrix, an empty ``Ws``, or
            shapes that do not chain (W_l's column count differs from the rows of its input).
    """
    H1 = as_matrix(H1, "H1")
    if len(Ws) == 0:
        raise ValueError("Ws must hold at least one weight matrix")
    mats = [as_matrix(W, f"W_{i + 1}") for i, W in enumerate(Ws)]
    rows = H1.shape[0]
    for i, W in enumerate(mats):
        if W.shape[1] != rows:
            raise ValueError(
                f"W_{i + 1} has shape {W.shape} but its input has {rows} rows "
                f"(H1 is {H1.shape}); shapes do not chain"
            )
        rows = W.shape[0]
    return H1, mats


def layer_inputs(H1, Ws, activation: str = "linear") -> list[np.ndarray]:
    """[h^(1), …, h^(L), output]: the input h^(l) of every W_l (h^(1) = H_1), then the output.

    This is :func:`forward_pass` after checking the shapes and the activation.

    Args:
        H1: the free features, d × N.
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}.
        activation: ``"linear"`` or ``"relu"``.

    Returns:
        L + 1 float64 arrays: h^(l) of shape d_{l−1} × N, then the K × N output.

    Raises:
        ValueError: the checks of :func:`check_params` fail, or the activation is unknown.
    """
    H1, Ws = check_params(H1, Ws)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return forward_pass(H1, Ws, activation)


def forward_pass(H1: np.ndarray, Ws: list[np.ndarray], activation: str) -> list[np.ndarray]:
    """[h^(1), …, h^(L), output] of parameters that are already checked, without checks.

    Linear: h^(l) = W_{l−1}…W_1 H_1; ReLU: h^(l+1) = σ(W_l h^(l)) for l < L. The output
    W_L h^(L) has no activation.

    Args:
        H1: the free features, d × N, float64.
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, float64.
        activation: ``"linear"``; any other value applies ReLU to the hidden layers.

    Returns:
        L + 1 arrays: h^(1) = ``H1`` itself, h^(l) of shape d_{l−1} × N, then the K × N output.
    """
    xs = [H1]
    for i, W in enumerate(Ws):
        pre = W @ xs[-1]
        last = i == len(Ws) - 1
        xs.append(pre if (last or activation == "linear") else np.maximum(pre, 0.0))
    return xs


def products(Ws) -> list[np.ndarray]:
    """[A^(1), …, A^(L+1)] with A^(l) = W_L ⋯ W_l and A^(L+1) = I_K.

    Args:
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1} (not checked).

    Returns:
        L + 1 float64 arrays, A^(l) of shape K × d_{l−1}.
    """
    K = np.asarray(Ws[-1]).shape[0]
    out = [np.eye(K)]
    for W in reversed(Ws):
        out.insert(0, out[0] @ np.asarray(W, dtype=np.float64))
    return out


def check_loss(loss: str) -> str:
    """``loss`` itself, once checked to name a data term.

    Args:
        loss: ``"mse"`` or ``"ce"``.

    Returns:
        ``loss``, unchanged.

    Raises:
        ValueError: any other value.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def data_loss(H1, Ws, activation: str = "linear", loss: str = "mse") -> float:
    """The data term for balanced classes at Z = f(H_1), without the regularisation.

    MSE (eq. 1): 1/(2N) ‖Z − Y‖_F²; CE: (1/N) Σ_i −log softmax(z_i)_{y_i}. The columns of H_1
    are taken to be ordered by class, n = N/K per class.

    Args:
        H1: the free features, d × N.
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}, W_L of shape K × d_{L−1}.
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"`` or ``"ce"``.

    Returns:
        The data term as a float.

    Raises:
        ValueError: an unknown loss or activation, the checks of :func:`check_params`, or N not
            a multiple of K.
    """
    check_loss(loss)
    out = layer_inputs(H1, Ws, activation)[-1]
    K, N = out.shape
    if N % K:
        raise ValueError(f"N = {N} samples cannot be split into K = {K} equal classes")
    Y = targets(K, N // K)
    if loss == "mse":
        return float(np.sum((out - Y) ** 2) / (2 * N))
    top = out.max(axis=0)
    logsumexp = top + np.log(np.exp(out - top).sum(axis=0))
    return float(np.mean(logsumexp - np.sum(out * Y, axis=0)))


def softmax(Z) -> np.ndarray:
    """Column-wise softmax p_i = exp(z_i)/Σ_c exp(z_ic) of a K×N matrix of outputs.

    Each column's maximum is subtracted first, so that large outputs do not overflow.

    Args:
        Z: K × N outputs, one column per sample.

    Returns:
        K × N float64 array whose columns sum to 1.
    """
    Z = np.asarray(Z, dtype=np.float64)
    E = np.exp(Z - Z.max(axis=0))
    return E / E.sum(axis=0)


def objective(H1, Ws, config: UFMConfig) -> float:
    """The full objective (1): data term plus ½λ‖·‖_F² on every W_l and on H_1.

    Args:
        H1: the free features, d × N.
        Ws: [W_1, …, W_L], W_l of shape d_l × d_{l−1}.
        config: gives λ_{W_1}, …, λ_{W_L}, λ_{H_1}, the activation and the loss; its sizes are
            not compared with the arrays.

    Returns:
        L(H_1, W_1..W_L) as a float.

    Raises:
        ValueError: the checks of :func:`check_params`, ``len(Ws)`` other than ``config.L``, or
            N not a multiple of K.
    """
    H1, Ws = check_params(H1, Ws)
    if len(Ws) != config.L:
        raise ValueError(f"config has L = {config.L} layers, but Ws holds {len(Ws)} matrices")
    reg = sum(0.5 * lam * np.sum(W**2) for lam, W in zip(config.lambda_W_list, Ws, strict=True))
    data = data_loss(H1, Ws, config.activation, config.loss)
    return data + reg + 0.5 * config.lambda_H * np.sum(H1**2)
