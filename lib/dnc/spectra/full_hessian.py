"""The Hessian of the deep UFM's data term with respect to all weights at once, matrix-free.

The later version of paper A, its full-Hessian theorem:

    Hess(θ) = ∂²ℓ/∂θ²,  θ = (vec V_1, …, vec V_L̄, vec W_1, …, vec W_L),

each block row-major; V_1 … V_L̄ is an optional feature map in front of the L separated layers
(the input H_1 is data, not a parameter). Hess(θ) v is a Hessian-vector product (the
R-operator: a tangent forward pass and a tangent backward pass, float64), and the top eigenvalues
come from Lanczos (``scipy.sparse.linalg.eigsh``) on that product alone: the D×D matrix is never
formed. The blocks split as Hess(θ) = diag(0, Hess_{L,L}) + E, Hess_{L,L} the block of the
separated layers; Weyl's inequality bounds |λ_i(Hess) − λ_i(Hess_{L,L})| by ‖E‖₂.

What the theorem claims is measured by the top eigenpairs (Lanczos with eigenvectors), the next
eigenvalue λ_{k+1} (Lanczos on the Hessian with the top k deflated), the share of the top
eigenvectors inside the layer-wise predictions ⊕_l span{μ_c^(l+1) ⊗ μ_c'^(l)}, and two spectra
compared each over its own λ_1.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from dnc._checks import as_matrix, as_vector
from dnc.spectra.predictions import eigenvectors_at
from dnc.ufm import ACTIVATIONS, Point, check_loss, check_params, targets


class _Model:
    """The UFM's data term in weights θ = (V_1 … V_L̄, W_1 … W_L) and its Hessian-vector product.

    The product is Pearlmutter's R-operator in closed form (numpy, float64).

    Forward: x_m = σ(W_m x_{m−1}), tangent ẋ_m = D_m (V_m x_{m−1} + W_m ẋ_{m−1}), D_m the ReLU
    mask (identity for the last layer and the linear model), V_m the direction's block; ż = ẋ_T.
    Backward: δ_T = ∂ℓ/∂z (= (z − y)/N for MSE, (p − y)/N for CE), δ̇_T = S ż / N with S = I
    (MSE) or diag p − ppᵀ (CE); δ_{m−1} = D_{m−1} W_mᵀ δ_m,
    δ̇_{m−1} = D_{m−1} (V_mᵀ δ_m + W_mᵀ δ̇_m).
    Block m of Hess v: δ̇_m x_{m−1}ᵀ + δ_m ẋ_{m−1}ᵀ (ReLU has zero second derivative almost
    everywhere).
    """

    def __init__(self, H1, Ws, activation, loss, feature_map):
        check_loss(loss)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        feature_map = [] if feature_map is None else list(feature_map)
        H1, mats = check_params(H1, feature_map + list(Ws))
        self.n_features = len(feature_map)
        self.mats, self.H1 = mats, H1
        self.shapes = [W.shape for W in mats]
        self.sizes = [W.size for W in mats]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.dim = int(self.offsets[-1])
        K, N = mats[-1].shape[0], H1.shape[1]
        if N % K:
            raise ValueError(f"N = {N} samples cannot be split into K = {K} equal classes")
        self.Y = targets(K, N // K)
        self.N, self.activation, self.loss = N, activation, loss
        # θ's entries that belong to the separated layers W_1 … W_L.
        self.separated = slice(int(self.offsets[self.n_features]), self.dim)
        T = len(mats)
        xs, masks = [H1], []
        for m, W in enumerate(mats):
            pre = W @ xs[-1]
            if activation == "relu" and m < T - 1:
                masks.append(pre > 0)
                xs.append(np.where(masks[-1], pre, 0.0))
            else:
                masks.append(None)
                xs.append(pre)
        Z = xs[-1]
        if loss == "ce":
            E = np.exp(Z - Z.max(axis=0))
            self.P = E / E.sum(axis=0)
            delta = (self.P - self.Y) / N
        else:
            delta = (Z - self.Y) / N
        deltas = [None] * T  # deltas[m]: ∂ℓ/∂(pre-activation of layer m+1)
        deltas[T - 1] = delta
        for m in range(T - 1, 0, -1):
            back = mats[m].T @ deltas[m]
            deltas[m - 1] = back if masks[m - 1] is None else back * masks[m - 1]
        self.xs, self.masks, self.deltas = xs, masks, deltas

    def blocks(self, v):
        return [
            v[a:b].reshape(shape)
            for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes, strict=True)
        ]

    def matvec(self, v) -> np.ndarray:
        """Hess(θ) v for a flat v of length D (float64)."""
        v = as_vector(v, self.dim)  # all the weights, finite
        Vs, mats, xs, masks, T = self.blocks(v), self.mats, self.xs, self.masks, len(self.mats)
        dx = [np.zeros_like(self.H1)]
        for m in range(T):
            dpre = Vs[m] @ xs[m] + mats[m] @ dx[m]
            dx.append(dpre if masks[m] is None else dpre * masks[m])
        dz = dx[-1]
        if self.loss == "ce":
            pdz = self.P * dz
            ddelta = (pdz - self.P * pdz.sum(axis=0)) / self.N
        else:
            ddelta = dz / self.N
        out = [None] * T
        for m in range(T - 1, -1, -1):
            delta = self.deltas[m]
            out[m] = ddelta @ xs[m].T + delta @ dx[m].T
            if m > 0:
                back = Vs[m].T @ delta + mats[m].T @ ddelta
                ddelta = back if masks[m - 1] is None else back * masks[m - 1]
        return np.concatenate([o.ravel() for o in out])

    def operator(self, fn=None) -> LinearOperator:
        fn = self.matvec if fn is None else fn
        return LinearOperator((self.dim, self.dim), matvec=fn, dtype=np.float64)

    def data_term_torch(self):
        """The data term as a torch function of the flat θ, with θ (autograd references only)."""
        H1, Y, N = torch.tensor(self.H1), torch.tensor(self.Y), self.N
        theta = torch.tensor(np.concatenate([W.ravel() for W in self.mats]))

        def data_term(t):
            x = H1
            for m, (a, shape) in enumerate(zip(self.offsets[:-1], self.shapes, strict=True)):
                x = t[a : a + shape[0] * shape[1]].reshape(shape) @ x
                if self.activation == "relu" and m < len(self.shapes) - 1:
                    x = x.clamp_min(0.0)
            if self.loss == "ce":
                return -(torch.log_softmax(x, dim=0) * Y).sum() / N
            return ((x - Y) ** 2).sum() / (2 * N)

        return data_term, theta


def _count(k, dim: int) -> int:
    if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= dim:
        raise ValueError(f"k must be an integer in 1..{dim} (the number of weights), got {k!r}")
    return int(k)


def _top(op: LinearOperator, k: int, which: str = "LA") -> np.ndarray:
    """The k eigenvalues of a symmetric operator selected by ``which``.

    Lanczos when k < D − 1, else the dense matrix built column by column (only for tiny D).
    """
    dim = op.shape[0]
    if k < dim - 1:
        vals = eigsh(
            op,
            k=k,
            which=which,
            tol=0.0,
            return_eigenvectors=False,
            ncv=min(dim, max(2 * k + 1, 20)),
        )
    else:
        dense = np.column_stack([op.matvec(e) for e in np.eye(dim)])
        vals = np.linalg.eigvalsh((dense + dense.T) / 2)
        vals = vals if which == "LA" else vals[np.argsort(np.abs(vals))]
        vals = vals[-k:]
    return np.sort(vals)[::-1] if which == "LA" else vals


def full_hessian_matvec(
    H1, Ws, v, activation: str = "linear", loss: str = "mse", feature_map=None
) -> np.ndarray:
    """Hess(θ) v, θ = (V_1 … V_L̄, W_1 … W_L) in layer order, each block row-major.

    Args:
        H1: H_1, d × N, columns ordered by class (n per class); data, not a parameter.
        Ws: the separated layers [W_1, …, W_L], W_L of shape K × d_{L−1}.
        v: a direction of D numbers, D the number of weights of the map and the layers.
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"`` or ``"ce"``.
        feature_map: [V_1, …, V_L̄] in front of W_1, or ``None``.

    Returns:
        Float64 vector of length D.

    Raises:
        ValueError: an unknown loss or activation, the checks of :func:`dnc.ufm.check_params`
            on the map and the layers together, N not a multiple of K, or a v without D
            entries.
    """
    return _Model(H1, Ws, activation, loss, feature_map).matvec(v)


def full_hessian_top_eigenvalues(
    H1, Ws, k: int, activation: str = "linear", loss: str = "mse", feature_map=None
) -> np.ndarray:
    """The k algebraically largest eigenvalues of Hess(θ), descending, by Lanczos.

    Lanczos runs on Hessian-vector products alone (``eigsh(which="LA", tol=0)``, float64); for
    k ≥ D − 1 the dense matrix is built instead (tiny models only).

    Args:
        H1: H_1, d × N, columns ordered by class (n per class); data, not a parameter.
        Ws: the separated layers [W_1, …, W_L], W_L of shape K × d_{L−1}.
        k: number of eigenvalues, 1..D, D the number of weights.
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"`` or ``"ce"``.
        feature_map: [V_1, …, V_L̄] in front of W_1, or ``None``.

    Returns:
        Float64 array of the k eigenvalues, descending.

    Raises:
        ValueError: k < 1 or k larger than the number of weights; an unknown loss or activation;
            the checks of :func:`dnc.ufm.check_params`; or N not a multiple of K.
    """
    model = _Model(H1, Ws, activation, loss, feature_map)
    return _top(model.operator(), _count(k, model.dim))


def full_hessian_top_eigenpairs(
    H1, Ws, k: int, activation: str = "linear", loss: str = "mse", feature_map=None
) -> tuple[np.ndarray, np.ndarray]:
    """The k algebraically largest eigenvalues of Hess(θ), descending, with their eigenvectors.

    Lanczos on Hessian-vector products (``eigsh(which="LA", tol=0)``, float64), as
    :func:`full_hessian_top_eigenvalues`; k must be below D − 1.

    Args:
        H1: H_1, d × N, columns ordered by class (n per class); data, not a parameter.
        Ws: the separated layers [W_1, …, W_L], W_L of shape K × d_{L−1}.
        k: number of eigenpairs, 1..D − 2, D the number of weights.
        activation: ``"linear"`` or ``"relu"``.
        loss: ``"mse"`` or ``"ce"``.
        feature_map: [V_1, …, V_L̄] in front of W_1, or ``None``.

    Returns:
        (values, vectors): float64 values, descending, and a D × k matrix of orthonormal
        eigenvectors, column j for values[j], in the layout θ = (V_1 … V_L̄, W_1 … W_L).

    Raises:
        ValueError: k outside 1..D − 2, and the checks of :func:`full_hessian_top_eigenvalues`.
    """
    model = _Model(H1, Ws, activation, loss, feature_map)
    k = _count(k, max(1, model.dim - 2))
    vals, vecs = eigsh(
        model.operator(), k=k, which="LA", tol=0.0, ncv=min(model.dim, max(2 * k + 1, 20))
    )
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def next_eigenvalue(
    H1, Ws, vectors, activation: str = "linear", loss: str = "mse", feature_map=None
) -> float:
    """The largest eigenvalue of Hess(θ) on the orthogonal complement of ``vectors``.

    With ``vectors`` the top k eigenvectors (:func:`full_hessian_top_eigenpairs`) it is
    λ_{k+1}(Hess), the top of what is left once the outliers are removed: Lanczos on the deflated
    operator (I − QQᵀ) Hess (I − QQᵀ), Q = ``vectors``, whose top eigenvalue is λ_{k+1} when that
    is positive (0 otherwise, from the deflated directions). A relative tolerance of 1e-10 (the
    bulk's near-degenerate top makes ``tol=0`` slow).

    Raises:
        ValueError: ``vectors`` without D rows, and the checks of
            :func:`full_hessian_top_eigenvalues`.
    """
    model = _Model(H1, Ws, activation, loss, feature_map)
    Q = np.asarray(vectors, dtype=np.float64)
    if Q.ndim != 2 or Q.shape[0] != model.dim:
        raise ValueError(f"vectors must have shape ({model.dim}, k), got {Q.shape}")

    def matvec(v):
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        v = v - Q @ (Q.T @ v)
        out = model.matvec(v)
        return out - Q @ (Q.T @ out)

    vals = eigsh(
        model.operator(matvec),
        k=1,
        which="LA",
        tol=1e-10,
        ncv=min(model.dim, 20),
        return_eigenvectors=False,
    )
    return float(max(vals[0], 0.0))


def layer_prediction_overlap(
    H1, Ws, vectors, activation: str = "linear", feature_map=None
) -> float:
    """Share of ``vectors`` (orthonormal columns over θ) that lies in the layer-wise predictions.

    The prediction of paper A's Theorem 4.1 for layer m is the span P_m of μ_c^(m+1) ⊗ μ_c'^(m)
    over all class pairs (:func:`dnc.spectra.predictions.eigenvectors_at`), in block m of θ.
    Returns ‖Π Q‖_F² / k for Q = ``vectors`` (D × k) and Π the projector onto P_1 ⊕ … ⊕ P_T:
    1 when every column lies in the direct sum, 0 when every column is orthogonal to it. All
    T = L̄ + L layers count, the feature map's too.

    Raises:
        ValueError: ``vectors`` without D rows, and the checks of :class:`dnc.ufm.Point`.
    """
    model = _Model(H1, Ws, activation, "mse", feature_map)
    Q = np.asarray(vectors, dtype=np.float64)
    if Q.ndim != 2 or Q.shape[0] != model.dim:
        raise ValueError(f"vectors must have shape ({model.dim}, k), got {Q.shape}")
    point = Point(model.H1, model.mats, activation)
    inside = 0.0
    for m, (a, b) in enumerate(zip(model.offsets[:-1], model.offsets[1:], strict=True)):
        predicted = eigenvectors_at(point, m + 1)
        basis = np.linalg.qr(predicted.reshape(-1, predicted.shape[-1]).T)[0]
        inside += float(np.sum((basis.T @ Q[a:b]) ** 2))
    return inside / Q.shape[1]


def relative_spectrum_deviation(spectrum, reference, k: int) -> float:
    """max_{i≤k} |λ_i/λ_1 − ρ_i/ρ_1|: two spectra, each over its own top eigenvalue, compared.

    Both arguments are descending eigenvalues (at least k of each); this is the comparison the
    full-Hessian theorem makes, independent of either spectrum's scale.

    Raises:
        ValueError: fewer than k values in either, or a top value that is not positive.
    """
    s, r = np.asarray(spectrum, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if min(s.size, r.size) < k or s[0] <= 0 or r[0] <= 0:
        raise ValueError(f"need k = {k} eigenvalues in each, led by a positive one")
    return float(np.max(np.abs(s[:k] / s[0] - r[:k] / r[0])))


def feature_outputs(H1, feature_map, activation: str = "linear") -> np.ndarray:
    """The input h = σ(V_L̄ ⋯ σ(V_1 H_1)) that the separated layers see (H_1 without a map).

    Raises:
        ValueError: an unknown activation, or H1 and the map's matrices (``feature_map[i]``)
            that are not finite or whose shapes do not chain.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    x = as_matrix(H1, "H1")
    for i, V in enumerate(feature_map or []):
        V = as_matrix(V, f"feature_map[{i}]")
        if V.shape[1] != x.shape[0]:
            raise ValueError(
                f"feature_map[{i}] has shape {V.shape} but its input has {x.shape[0]} rows"
            )
        x = V @ x
        if activation == "relu":
            x = np.maximum(x, 0.0)
    return x


def separated_block_top_eigenvalues(
    H1, Ws, k: int, activation: str = "linear", loss: str = "mse", feature_map=None
) -> np.ndarray:
    """The k largest eigenvalues of Hess_{L,L}, the block of Hess(θ) for W_1 … W_L alone.

    It is the Hessian of the separated layers with the feature map frozen:
    :func:`full_hessian_top_eigenvalues` on the features of :func:`feature_outputs`.
    """
    return full_hessian_top_eigenvalues(
        feature_outputs(H1, feature_map, activation), Ws, k, activation, loss
    )


def off_block_norm(
    H1, Ws, activation: str = "linear", loss: str = "mse", feature_map=None
) -> float:
    """‖E‖₂ for E = Hess(θ) − diag(0, Hess_{L,L}), the blocks that involve the feature map.

    E is the feature-map block and the blocks coupling it to the separated layers:
    E v = Hess v − P Hess P v, P the projector onto W_1 … W_L. Its largest eigenvalue in
    magnitude comes from Lanczos; without a feature map E = 0.
    """
    model = _Model(H1, Ws, activation, loss, feature_map)
    keep = model.separated

    def matvec(v):
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        inner = np.zeros_like(v)
        inner[keep] = v[keep]
        out = model.matvec(v)
        out[keep] -= model.matvec(inner)[keep]
        return out

    if model.n_features == 0:
        return 0.0
    return float(np.max(np.abs(_top(model.operator(matvec), 1, which="LM"))))


def autograd_full_hessian(
    H1, Ws, activation: str = "linear", loss: str = "mse", feature_map=None
) -> np.ndarray:
    """Dense Hess(θ) by ``torch.func.hessian`` (tests and benchmarks only)."""
    data_term, theta = _Model(H1, Ws, activation, loss, feature_map).data_term_torch()
    return torch.func.hessian(data_term)(theta).numpy()
