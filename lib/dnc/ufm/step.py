"""Full-batch gradient descent on the deep UFM with closed-form backpropagation.

One step: W_l ← (1 − η λ_{W_l}) W_l − η ∂ℓ/∂W_l and H_1 ← (1 − η λ_{H_1}) H_1 − η ∂ℓ/∂H_1,
where ℓ is the data term of eq. (1), the decay and the gradient fused in one ``addmm``. B models
(seeds, λ's) train together as a batch (leading dimension of every tensor; a batch of one runs as
plain matrices).

Linear model: with A^(l) = W_L⋯W_l (K×d_{l−1}), R = (A^(1) H_1 − Y)/N and P = R H_1ᵀ,
    ∂ℓ/∂W_l = A^(l+1)ᵀ Q_l,  Q_1 = P,  Q_{l+1} = Q_l W_lᵀ,      ∂ℓ/∂H_1 = A^(1)ᵀ R,
so the backpropagated error is carried in its rank-K factored form and no d×d×N product is formed.
Cross-entropy (``config.loss == "ce"``): the same with R = (softmax(Z) − Y)/N, the column-wise
softmax, since ∂/∂z_i of −log softmax(z_i)_{y_i} is p_i − y_i.
ReLU model: ordinary backpropagation through the masks 1[W_l h^(l) > 0] (``threshold_backward``).
"""

from __future__ import annotations

import numpy as np
import torch

from dnc.device import choose_device
from dnc.ufm.model import UFMConfig, targets


def initial_params(config: UFMConfig, seeds, dtype=torch.float64, device=None):
    """Gaussian initialisation of B = ``len(seeds)`` models, one draw per seed.

    Entries of W_l ~ N(0, s²/d_{l−1}), of H_1 ~ N(0, s²/d), with s = ``config.init_scale``. Each
    draw is made in float64 on the CPU from its seed alone, then moved to ``device`` and ``dtype``.

    Returns:
        (H (B, d, N), [W_1 … W_L] each (B, d_l, d_{l−1})).

    Raises:
        ValueError: a ``device`` (or ``$DNC_DEVICE``) that names no usable device
            (:func:`dnc.device.choose_device`).
    """
    widths = config.widths()
    Hs, Ws = [], [[] for _ in range(config.L)]
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        s = config.init_scale
        Hs.append(
            torch.randn(config.d, config.N, generator=gen, dtype=torch.float64)
            * s
            / np.sqrt(config.d)
        )
        for l in range(config.L):
            fan_in = widths[l]
            Ws[l].append(
                torch.randn(widths[l + 1], fan_in, generator=gen, dtype=torch.float64)
                * s
                / np.sqrt(fan_in)
            )
    dev = choose_device(device)
    H = torch.stack(Hs).to(dev, dtype)
    return H, [torch.stack(w).to(dev, dtype) for w in Ws]


class Stepper:
    """Closed-form GD step for a batch of deep UFMs sharing sizes and learning rate.

    ``configs``: one configuration per model of the batch when their λ's differ (sizes and
    activation must match ``config``); by default every model uses ``config``'s λ's.
    """

    def __init__(self, config: UFMConfig, lr: float, H: torch.Tensor, configs=None):
        """Precompute the targets, the factor −η/N and every decay 1 − ηλ of the batch.

        Args:
            config: sizes, activation, loss and (unless ``configs`` is given) the λ's.
            lr: learning rate η.
            H: the batch's features (B, d, N); only its batch size, device and dtype are used.
            configs: one configuration per model, when their λ's differ.

        Raises:
            ValueError: ``configs`` does not hold B configurations, or one of them differs from
                ``config`` in K, n, d, L, activation or loss.
        """
        self.config = config
        self.lr = float(lr)
        B, dev, dt = H.shape[0], H.device, H.dtype
        Y = torch.as_tensor(targets(config.K, config.n), dtype=dt, device=dev)
        self.Y = Y.expand(B, -1, -1).contiguous()
        self.alpha = -self.lr / config.N
        self.ce = config.loss == "ce"
        configs = [config] * B if configs is None else list(configs)
        if len(configs) != B:
            raise ValueError(f"{len(configs)} configurations for a batch of {B} models")
        shape = ("K", "n", "d", "L", "activation", "loss")
        for c in configs:
            if any(getattr(c, k) != getattr(config, k) for k in shape):
                raise ValueError(f"every model of a batch needs the same {', '.join(shape)}")
        lam_W = np.array([c.lambda_W_list for c in configs])  # (B, L)
        lam_H = np.array([c.lambda_H for c in configs])  # (B,)
        self.lambda_W = torch.as_tensor(lam_W, dtype=dt, device=dev)
        self.lambda_H = torch.as_tensor(lam_H, dtype=dt, device=dev)
        if (lam_W == lam_W[0]).all() and (lam_H == lam_H[0]).all():
            # One λ for the whole batch: scalar decays, fused into addmm/baddbmm.
            self.decay_W = [1.0 - self.lr * float(lam) for lam in lam_W[0]]
            self.decay_H = 1.0 - self.lr * float(lam_H[0])
        else:  # one decay per model, shape (B, 1, 1)
            self.decay_W = [
                (1.0 - self.lr * self.lambda_W[:, l]).reshape(-1, 1, 1)
                for l in range(lam_W.shape[1])
            ]
            self.decay_H = (1.0 - self.lr * self.lambda_H).reshape(-1, 1, 1)

    def step(self, H, Ws, with_loss: bool = True) -> torch.Tensor | None:
        """Update H and Ws in place by one step; return each model's data loss before the step.

        The loss is ‖Z − Y‖²/(2N) (MSE) or Σ_i −log softmax(z_i)_{y_i}/N (CE), one value per
        model; ``None`` when ``with_loss`` is false, which saves a reduction on epochs nobody
        logs.
        """
        Y = self.Y
        if H.shape[0] == 1:
            # A batch of one runs as plain matrices: MKL's 2-D products beat its batched ones here.
            H, Ws, Y = self._plain(H, Ws)
        self._loss = None
        self._with_loss = with_loss
        if self.config.activation == "linear":
            R = self._linear(H, Ws, Y)
        else:
            R = self._relu(H, Ws, Y)
        if not with_loss:
            return None
        if self.ce:
            return self._loss.reshape(-1)
        loss = R.square().sum(dim=(-2, -1)) / (2 * self.config.N)
        return loss.reshape(-1)

    def _plain(self, H, Ws):
        """(H[0], [W[0] …], Y[0]) for a batch of one, the views kept between steps.

        The updates are in place, so the same tensors come back every step, and a view costs
        ~5 µs to make.
        """
        key = (H.data_ptr(), *(W.data_ptr() for W in Ws))
        cached = getattr(self, "_views", None)
        if cached is None or cached[0] != key:
            plain = (H[0], [W[0] for W in Ws], self.Y[0])
            self._transposes = (plain[0].mT, [W.mT for W in plain[1]])
            cached = (key, plain)
            self._views = cached
        return cached[1]

    def _error(self, A, B, Y):
        """The output error N ∂(data term)/∂Z at Z = A B: Z − Y (MSE) or softmax(Z) − Y (CE).

        MSE takes one fused addmm; for CE the loss is kept when the step will return it.
        """
        if not self.ce:
            return _plus_product(Y, A, B, beta=-1.0)
        logp = torch.log_softmax(A @ B, dim=-2)  # one pass gives both the loss and softmax(Z)
        if self._with_loss:
            self._loss = -(logp * Y).sum(dim=(-2, -1)) / self.config.N
        return logp.exp_().sub_(Y)

    def data_loss(self, H, Ws) -> torch.Tensor:
        """The data term per model (MSE or CE), without updating anything."""
        x = H
        for l, W in enumerate(Ws):
            x = W @ x
            if self.config.activation == "relu" and l < len(Ws) - 1:
                x = x.clamp_min(0.0)
        if self.ce:
            return _cross_entropy(x, self.Y, self.config.N)
        return (x - self.Y).square().sum(dim=(1, 2)) / (2 * self.config.N)

    def regulariser(self, H, Ws) -> torch.Tensor:
        """Σ_l ½λ_{W_l}‖W_l‖_F² + ½λ_{H_1}‖H_1‖_F² per model (each with its own λ's)."""
        reg = 0.5 * self.lambda_H * H.square().sum(dim=(1, 2))
        for l, W in enumerate(Ws):
            reg = reg + 0.5 * self.lambda_W[:, l] * W.square().sum(dim=(1, 2))
        return reg

    def _linear(self, H, Ws, Y):
        """One step of the linear model; returns the residual Z − Y before it."""
        L = len(Ws)
        A = [None] * (L + 2)  # A[l] = W_L ⋯ W_l; A[L+1] = I is never formed
        A[L] = Ws[L - 1]
        for l in range(L - 1, 0, -1):
            A[l] = A[l + 1] @ Ws[l - 1]
        R = self._error(A[1], H, Y)  # Z − Y (MSE) or softmax(Z) − Y (CE)
        Qs = [R @ H.mT]  # Q_1 = P = (Z − Y) H_1ᵀ; the 1/N sits in alpha
        for l in range(1, L):
            Qs.append(Qs[-1] @ Ws[l - 1].mT)
        _add_product_(H, A[1].mT, R, beta=self.decay_H, alpha=self.alpha)
        for l in range(1, L):
            _add_product_(Ws[l - 1], A[l + 1].mT, Qs[l - 1], self.decay_W[l - 1], self.alpha)
        Ws[L - 1].mul_(self.decay_W[L - 1]).add_(Qs[L - 1], alpha=self.alpha)
        return R

    def _relu(self, H, Ws, Y):
        """One step of the ReLU model; returns the residual Z − Y before it."""
        L = len(Ws)
        if H.dim() == 2:
            return self._relu_plain(H, Ws, Y)
        xs = [H]
        for l in range(L - 1):
            xs.append((Ws[l] @ xs[-1]).clamp_min_(0.0))
        R = self._error(Ws[L - 1], xs[-1], Y)  # Z − Y (MSE) or softmax(Z) − Y (CE)
        delta = R
        for l in range(L, 1, -1):
            W = Ws[l - 1]
            # Error at layer l−1's pre-activation: (W_lᵀ δ) ⊙ 1[h^(l) > 0], with W_l before its
            # update; the mask is applied in place on the fresh product.
            back = W.mT @ delta
            _THRESHOLD_BACKWARD(back, xs[l - 1], 0.0, grad_input=back)
            _add_product_(W, delta, xs[l - 1].mT, self.decay_W[l - 1], self.alpha)
            delta = back
        grad_H = Ws[0].mT @ delta  # W_1 and H_1 each need the other before its update
        _add_product_(Ws[0], delta, H.mT, self.decay_W[0], self.alpha)
        H.mul_(self.decay_H).add_(grad_H, alpha=self.alpha)
        return R

    def _relu_plain(self, H, Ws, Y):
        """:meth:`_relu` for one model (plain matrices), with the products called directly.

        The same products as :meth:`_relu`, called as ``torch.mm`` and ``addmm`` (no ``matmul``
        dispatch), with the transposed views of W_l and H_1 made once (see :meth:`_plain`) and
        H_1 updated by one ``addmm``.
        """
        L, alpha, mm, addmm = len(Ws), self.alpha, torch.mm, torch.addmm
        decay_W, decay_H = self.decay_W, self.decay_H
        if isinstance(decay_H, torch.Tensor):  # per-model λ's; a batch of one has one of each
            decay_W = [float(w.reshape(-1)[0]) for w in decay_W]
            decay_H = float(decay_H.reshape(-1)[0])
        Ht, WTs = self._transposes
        xs = [H]
        for l in range(L - 1):
            xs.append(mm(Ws[l], xs[-1]).relu_())
        R = self._error(Ws[L - 1], xs[-1], Y)  # N ∂ℓ/∂Z (Z − Y for MSE)
        delta = R
        for l in range(L, 1, -1):
            back = mm(WTs[l - 1], delta)
            _THRESHOLD_BACKWARD(back, xs[l - 1], 0.0, grad_input=back)
            Ws[l - 1].addmm_(delta, xs[l - 1].mT, beta=decay_W[l - 1], alpha=alpha)
            delta = back
        new_H = addmm(H, WTs[0], delta, beta=decay_H, alpha=alpha)  # W_1 before its update
        Ws[0].addmm_(delta, Ht, beta=decay_W[0], alpha=alpha)  # H_1 before its update
        H.copy_(new_H)
        return R


def _cross_entropy(Z, Y, N: int) -> torch.Tensor:
    """Σ_i (logsumexp(z_i) − z_{i,y_i}) / N for K×N outputs (or a batch of them), per model."""
    return (torch.logsumexp(Z, dim=-2) - (Z * Y).sum(dim=-2)).sum(dim=-1) / N


# grad ⊙ 1[x > threshold], written into ``grad_input`` (the fused kernel autograd uses for ReLU).
_THRESHOLD_BACKWARD = torch.ops.aten.threshold_backward.grad_input


def _plus_product(C, A, B, beta):
    """beta·C + A B for matrices or batches of them."""
    return torch.addmm(C, A, B, beta=beta) if C.dim() == 2 else torch.baddbmm(C, A, B, beta=beta)


def _add_product_(C, A, B, beta, alpha):
    """C ← beta·C + alpha·A B in place, for matrices or batches of them.

    ``beta`` is a number, or a (B, 1, 1) tensor with one value per model.
    """
    if isinstance(beta, torch.Tensor):
        C.mul_(beta).baddbmm_(A, B, alpha=alpha)
    elif C.dim() == 2:
        C.addmm_(A, B, beta=beta, alpha=alpha)
    else:
        C.baddbmm_(A, B, beta=beta, alpha=alpha)
