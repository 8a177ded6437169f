"""An independent route to the layer Hessian's top eigenvalues: curvlinops and scipy's Lanczos.

curvlinops-for-pytorch's ``HessianLinearOperator`` multiplies by the Hessian of a loss with
respect to chosen parameters through the whole network; scipy's ``eigsh`` (ARPACK) takes the top
eigenvalues of that operator. With the output and the one-hot targets scaled by 1/√(2N),
``MSELoss(reduction="sum")`` is exactly the probe's data term Av_i ½‖f(x_i) − e_{y_i}‖².
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch import nn


class Scale(nn.Module):
    """x ↦ factor · x: scales a model's output so that a summed loss is the data term."""

    def __init__(self, factor: float):
        """Multiply by ``factor``."""
        super().__init__()
        self.factor = factor

    def forward(self, x):
        """The input times the factor."""
        return x * self.factor


def curvlinops_top(model: nn.Module, data, name: str, k: int, batch_size: int = 512):
    """(top k eigenvalues descending, Hessian-vector products taken) of the MSE Hess_l of ``name``.

    ``data`` is an (X, y) pair of tensors; the model is copied to float64 on the CPU and only the
    weight of layer ``name`` is a parameter of the Hessian.
    """
    try:
        # local: only this check needs curvlinops (the `book` and `bench` extras install it)
        from curvlinops import HessianLinearOperator
    except ImportError as err:
        raise ModuleNotFoundError(
            "the independent check needs curvlinops: pip install curvlinops-for-pytorch (it "
            "comes with dnc's book and bench extras)"
        ) from err

    X, y = (torch.as_tensor(t) for t in data)
    N = len(y)
    net = copy.deepcopy(model).to(torch.float64).cpu().eval()
    scaled = nn.Sequential(net, Scale(1.0 / np.sqrt(2 * N))).eval()
    for p in scaled.parameters():
        p.requires_grad_(False)
    weight = net.get_submodule(name).weight
    weight.requires_grad_(True)
    X = X.to(torch.float64)
    K = net(X[:1]).shape[1]
    T = nn.functional.one_hot(y, K).to(torch.float64) / np.sqrt(2 * N)
    batches = [(X[i : i + batch_size], T[i : i + batch_size]) for i in range(0, N, batch_size)]
    op = HessianLinearOperator(
        scaled, nn.MSELoss(reduction="sum"), [weight], batches, check_deterministic=False
    ).to_scipy()
    count = [0]

    def matvec(v):
        count[0] += 1
        return op @ v

    counted = LinearOperator(op.shape, matvec=matvec, dtype=np.float64)
    vals = eigsh(counted, k=k, which="LA", return_eigenvectors=False)
    return np.sort(vals)[::-1], count[0]
