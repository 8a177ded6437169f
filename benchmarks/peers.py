"""The tools a user would pick for a layer Hessian, set up on the deep UFM (benchmarks only).

The data term ‖f(H_1) − Y‖²/(2N) as a torch model: the samples h_i are the inputs, the L bias-free
linear layers (ReLU between them for the ReLU UFM) the network, and the output and targets are
scaled by 1/√(2N) so that ``MSELoss(reduction="sum")`` is exactly the data term. Only W_l is a
parameter of the Hessian. curvlinops-for-pytorch (``HessianLinearOperator``) and PyHessian
(``hessian``) then see the same Hessian as :func:`dnc.spectra.hessian.layer_hessian`.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from dnc.probe.reference import Scale
from dnc.ufm import targets


def ufm_model(Ws, activation: str, l: int, dtype=torch.float64, device="cpu"):
    """(model, params, inputs (N, d), scaled targets (N, K), loss): W_l the only trainable weight."""
    layers = []
    for m, W in enumerate(Ws):
        lin = nn.Linear(W.shape[1], W.shape[0], bias=False)
        lin.weight = nn.Parameter(
            torch.as_tensor(np.asarray(W), dtype=dtype), requires_grad=m == l - 1
        )
        layers.append(lin)
        if activation == "relu" and m < len(Ws) - 1:
            layers.append(nn.ReLU())
    return layers


def setup(H1, Ws, l: int, activation: str, dtype=torch.float64, device="cpu"):
    K, N = Ws[-1].shape[0], H1.shape[1]
    layers = ufm_model(Ws, activation, l, dtype)
    layers.append(Scale(1.0 / np.sqrt(2 * N)))
    model = nn.Sequential(*layers).to(device).eval()
    params = [p for p in model.parameters() if p.requires_grad]
    X = torch.as_tensor(np.asarray(H1).T.copy(), dtype=dtype, device=device)
    Y = torch.as_tensor(targets(K, N // K).T.copy() / np.sqrt(2 * N), dtype=dtype, device=device)
    return model, params, X, Y, nn.MSELoss(reduction="sum")


def curvlinops_operator(H1, Ws, l, activation, device="cpu"):
    """curvlinops' HessianLinearOperator of the data term with respect to W_l, as a scipy operator."""
    from curvlinops import HessianLinearOperator

    model, params, X, Y, loss = setup(H1, Ws, l, activation, device=device)
    op = HessianLinearOperator(model, loss, params, [(X, Y)], check_deterministic=False)
    return op


def curvlinops_top(H1, Ws, l, k, activation, device="cpu"):
    """Top k eigenvalues by scipy.sparse.linalg.eigsh (ARPACK's Lanczos) on curvlinops' operator."""
    from scipy.sparse.linalg import eigsh

    op = curvlinops_operator(H1, Ws, l, activation, device).to_scipy()
    vals = eigsh(op, k=k, which="LA", return_eigenvectors=False)
    return np.sort(vals)[::-1]


def curvlinops_spectrum(H1, Ws, l, activation, device="cpu"):
    """All eigenvalues: curvlinops' operator applied to the identity (the dense Hessian), then
    torch.linalg.eigvalsh."""
    op = curvlinops_operator(H1, Ws, l, activation, device)
    D = op.shape[0]
    dense = op @ torch.eye(D, dtype=torch.float64, device=device)
    return torch.linalg.eigvalsh(dense).flip(0).cpu().numpy()


def pyhessian_top(H1, Ws, l, k, activation, device="cpu", max_iter=100, tol=1e-3):
    """PyHessian's top k eigenvalues (power iteration with deflation). PyHessian draws its vectors
    in torch's default float32, so the model runs in float32 too."""
    from pyhessian import hessian as pyhessian_hessian

    model, _, X, Y, loss = setup(H1, Ws, l, activation, dtype=torch.float32, device=device)
    engine = pyhessian_hessian(model, loss, data=(X, Y), cuda=device != "cpu")
    vals, _ = engine.eigenvalues(maxIter=max_iter, tol=tol, top_n=k)
    return np.sort(np.asarray(vals, dtype=np.float64))[::-1]


def pyhessian_density(H1, Ws, l, activation, device="cpu", iterations=100, n_v=1):
    """PyHessian's stochastic Lanczos quadrature: (eigenvalue nodes, weights) of the spectral density."""
    from pyhessian import hessian as pyhessian_hessian

    model, _, X, Y, loss = setup(H1, Ws, l, activation, dtype=torch.float32, device=device)
    engine = pyhessian_hessian(model, loss, data=(X, Y), cuda=device != "cpu")
    with _torch_eig_for_pyhessian():
        nodes, weights = engine.density(iter=iterations, n_v=n_v)
    return np.asarray(nodes, dtype=np.float64), np.asarray(weights, dtype=np.float64)


@contextmanager
def _torch_eig_for_pyhessian():
    """PyHessian 0.1 (its last release, 2021) calls ``torch.eig(T, eigenvectors=True)`` on the
    symmetric Lanczos tridiagonal T; torch removed ``torch.eig`` in 2.0 (and the repository's
    later ``torch.linalg.eig`` edit indexes the complex result as the old real pair). For a
    symmetric T the old function returned the eigenvalues as (n, 2) [real, imaginary = 0] and the
    eigenvectors as columns: this gives the same from ``torch.linalg.eigh`` for the call's
    duration."""
    previous = getattr(torch, "eig", None)

    def eig(T, eigenvectors=False):
        vals, vecs = torch.linalg.eigh(T)
        return torch.stack([vals, torch.zeros_like(vals)], dim=1), vecs

    torch.eig = eig
    try:
        yield
    finally:
        if previous is None:
            del torch.eig
        else:
            torch.eig = previous


def xrfm_layer(X, T, W, bandwidth: float, ridge: float):
    """One Deep RFM layer built on xrfm's RFM step (the PyPI successor of the authors' ``rfm``
    library), as paper B's deep_rfm.py builds it on theirs: unit rows, one RFM step, then the
    random features ReLU(X M^{1/2} Wᵀ) with xrfm's M^{1/2}. Returns (features, α, M/max M).

    The RFM step is ``RFM.fit_predictor`` (Laplace kernel matrix, ridge added to its diagonal,
    ``torch.linalg.solve``: xrfm's default solver, an LU) and ``RFM.fit_M`` (the AGOP over all N
    points in one batch, scaled by its largest entry, and its square root by an SVD), after the
    set-up that ``RFM.fit`` does. ``RFM.fit(iters=1)`` itself would add a second solve and the
    validation predictions: it refits the predictor after the AGOP. X, T, W are float64 tensors.
    """
    from xrfm.rfm_src import RFM
    from xrfm.rfm_src.kernels import LaplaceKernel

    N, D = X.shape
    X = X / X.norm(dim=1, keepdim=True)
    model = RFM(LaplaceKernel(bandwidth=bandwidth, exponent=1.0), device="cpu", verbose=False)
    # What RFM.fit sets before its loop, with fit's defaults except: one iteration, no early
    # stopping (it needs validation data), AGOP on all N points.
    model._initialize_fit_parameters(
        iters=1,
        method="lstsq",
        reg=ridge,
        verbose=False,
        M_batch_size=None,
        total_points_to_sample=N,
        ep_epochs=None,
        tuning_metric="mse",
        early_stop_rfm=False,
        early_stop_multiplier=1.1,
        center_grads=False,
        prefit_eigenpro=True,
        solver=None,
    )
    model.adapt_params_to_data(N, D)
    model.fit_predictor(X, T)
    model.fit_M(X, T.shape[1])
    return torch.relu(X @ model.sqrtM @ W.T), model.weights, model.M
