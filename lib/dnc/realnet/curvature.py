"""The Hessian of a real network's data term over all its parameters, by Lanczos.

    ℓ(θ) = Av_i loss(f(x_i; θ), y_i),   θ = (θ̄, W_1, …, W_L): the feature map's and the head's,

with loss ½‖z − e_y‖² (MSE, the UFM's scaling) or the cross-entropy. The weight penalties are left
out, as for the layer Hessians Hess_l of the book (they add λ to every eigenvalue of a block).
Hess(θ)v comes from double back-propagation, ∇_θ(∇_θℓ · v) (Pearlmutter's identity), in float64;
the top eigenpairs from scipy's ``eigsh`` on that operator. Each eigenvector's squared norm is
split between the feature map's parameters and each head layer's, which says where the top of the
spectrum lives.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from dnc._checks import class_labels, positive_int
from dnc.ufm import check_loss


def _data_term(model, images, labels, loss: str):
    out = model(images)
    if loss == "mse":
        targets = torch.nn.functional.one_hot(labels, out.shape[1]).to(out.dtype)
        return (out - targets).square().sum() / (2 * images.shape[0])
    return torch.nn.functional.cross_entropy(out, labels)


def network_hessian_top(model, images, labels, k: int, loss: str = "mse", tol: float = 1e-8):
    """The k largest eigenvalues of the data term's Hessian over every parameter of ``model``.

    Args:
        model: a :class:`dnc.realnet.model.RealNet` (any module whose parameters are θ); it is
            copied to float64 on the CPU.
        images: N × C × H × W tensor of the training images.
        labels: N integer labels 0..K−1.
        k: number of eigenvalues, 1 ≤ k < D − 1 (D parameters).
        loss: ``"mse"`` or ``"ce"``.
        tol: relative tolerance of ``eigsh``.

    Returns:
        dict with ``values`` (k, descending), ``head_share`` (k: ‖v‖² on the head's weights of each
        unit eigenvector v), ``layer_share`` (k × L: on each head layer), ``residual``
        (max_i ‖Hv_i − λ_i v_i‖ / λ_1), ``products`` (Hessian-vector products used) and ``dim`` (D).

    Raises:
        ValueError: an unknown loss, labels outside 0..K−1 or not N of them, or k out of range.
    """
    check_loss(loss)
    model = copy.deepcopy(model).double().cpu()
    x = torch.as_tensor(images, dtype=torch.float64)
    y = torch.as_tensor(class_labels(labels, x.shape[0]), dtype=torch.long)
    params = [p for p in model.parameters() if p.requires_grad]
    sizes = [p.numel() for p in params]
    dim = sum(sizes)
    k = positive_int(k, "k")
    if k >= dim - 1:
        raise ValueError(f"k must be below D − 1 = {dim - 1} (the parameters), got {k}")
    grads = torch.autograd.grad(_data_term(model, x, y, loss), params, create_graph=True)
    flat_grad = torch.cat([g.reshape(-1) for g in grads])
    count = [0]

    def matvec(v):
        count[0] += 1
        v = torch.as_tensor(np.ravel(v), dtype=torch.float64)
        hv = torch.autograd.grad(flat_grad @ v, params, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).numpy()

    op = LinearOperator((dim, dim), matvec=matvec, dtype=np.float64)
    vals, vecs = eigsh(op, k=k, which="LA", tol=tol, ncv=min(dim, 2 * k + 1))
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    residual = max(np.linalg.norm(matvec(vecs[:, i]) - vals[i] * vecs[:, i]) for i in range(k))
    head_ids = {id(W) for W in model.weights()}
    bounds = np.cumsum([0] + sizes)
    layer_share = np.stack(
        [
            np.sum(vecs[bounds[j] : bounds[j + 1]] ** 2, axis=0)
            for j, p in enumerate(params)
            if id(p) in head_ids
        ],
        axis=1,
    )
    return {
        "values": vals,
        "head_share": layer_share.sum(1),
        "layer_share": layer_share,
        "residual": np.asarray(residual / vals[0]),
        "products": np.asarray(count[0]),
        "dim": np.asarray(dim),
    }
