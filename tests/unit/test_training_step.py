"""Two training steps on fixed input, against the same steps written out in float64.

Minibatch float32 training is stochastic across CPUs (its trajectory amplifies rounding), so the
chapters pin its outcomes by their spread over seeds. What must not change silently is the step
itself: the objective and its scaling, the optimiser and its hyper-parameters, the learning-rate
schedule. These tests take two full-batch steps of the real network (SGD with momentum 0.9,
cosine-annealed learning rate, the gradient clipped to norm ``max_grad_norm``) and of paper B's MLP (Adam) and compare the parameters with the
update rules evaluated by autograd in float64, to a tolerance (1e-3 of the update) far below any
change of those and far above float32 rounding (~1e-6 measured).
"""

import numpy as np
import pytest
import torch

from dnc import data
from dnc.agop import mlp
from dnc.realnet import training


def _update_error(after, before, expected):
    """‖(after − before) − expected‖ / ‖expected‖ over all parameters together."""
    pairs = zip(after, before, expected, strict=True)
    diff = sum(float(((a - b) - e).pow(2).sum()) for a, b, e in pairs)
    return (diff / sum(float(e.pow(2).sum()) for e in expected)) ** 0.5


@pytest.mark.parametrize("max_grad_norm", [10.0, 0.2])  # not reached; clipping both steps
def test_two_real_network_steps_are_sgd_with_momentum_on_the_ufm_objective(max_grad_norm):
    images, labels = training.load_images("digits", 4)
    N, K = images.shape[0], 10
    config = training.RealNetConfig(
        dataset="digits", n_per_class=4, widths=(2, 2, 4), blocks=1, stem_stride=1, d=6, L=3,
        batch_size=N, epochs=2, lr=0.05, optimizer="sgd", lambda_W=5e-3, lambda_H=1e-3, seed=3,
        max_grad_norm=max_grad_norm,
    )  # fmt: skip
    state, _ = training.train_network(config, images, labels, progress=False)

    net = config.build(K).double()  # the same initial weights, in float64
    names = [name for name, _ in net.named_parameters()]
    params = list(net.parameters())
    start = [p.detach().clone() for p in params]
    x = images.double()
    Y = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(labels)), K).double()

    def gradient():
        H = net.features(x)
        objective = (net.head(H) - Y).square().sum() / (2 * N)
        objective = objective + 0.5 * config.lambda_H * H.square().sum()
        objective = objective + 0.5 * config.lambda_W * sum(W.square().sum() for W in net.weights())
        grads = torch.autograd.grad(objective, params)
        norm = sum(float(g.square().sum()) for g in grads) ** 0.5  # clipped to max_grad_norm
        norms.append(norm)
        return [g * min(1.0, max_grad_norm / (norm + 1e-6)) for g in grads]

    # epoch 0 at lr, epoch 1 at lr·(1 + cos(π/2))/2 = lr/2; the momentum buffer starts at g
    norms = []
    g0 = gradient()
    with torch.no_grad():
        for p, g in zip(params, g0, strict=True):
            p -= config.lr * g
    g1 = gradient()
    with torch.no_grad():
        for p, a, b in zip(params, g0, g1, strict=True):
            p -= config.lr / 2 * (0.9 * a + b)
    expected = [p.detach() - p0 for p, p0 in zip(params, start, strict=True)]
    after = [torch.as_tensor(state[name]) for name in names]
    clipped = [n > max_grad_norm for n in norms]
    assert clipped == [max_grad_norm < 1] * 2, norms  # both steps clipped, or neither
    assert _update_error(after, start, expected) < 1e-3


def test_two_mlp_steps_are_adam_on_the_mean_squared_error():
    X, y = data.gaussian_mixture(K=3, n_per_class=10, D=12, separation=2.0, seed=0)
    lr, seed = 1e-3, 5
    model, _ = mlp.train_mlp(
        X, y, width=16, depth=3, lr=lr, epochs=2, batch_size=len(y), seed=seed, record_every=2
    )
    torch.manual_seed(seed)  # train_mlp seeds torch, then builds the network
    net = mlp.MLP(X.shape[1], 16, 3, depth=3, init_gain=0.1).double()
    params = list(net.parameters())
    start = [p.detach().clone() for p in params]
    Xt = torch.as_tensor(X, dtype=torch.float64)
    T = torch.as_tensor(data.one_hot(y, off=-1.0), dtype=torch.float64)
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    for t in (1, 2):  # Adam with torch's defaults: β = (0.9, 0.999), ε = 1e-8
        grads = torch.autograd.grad(((net(Xt) - T) ** 2).mean(), params)
        with torch.no_grad():
            for p, g, m_, v_ in zip(params, grads, m, v, strict=True):
                m_.mul_(0.9).add_(0.1 * g)
                v_.mul_(0.999).add_(0.001 * g * g)
                p -= lr * (m_ / (1 - 0.9**t)) / ((v_ / (1 - 0.999**t)).sqrt() + 1e-8)
    expected = [p.detach() - p0 for p, p0 in zip(params, start, strict=True)]
    after = [p.detach().double() for p in model.parameters()]
    assert _update_error(after, start, expected) < 1e-3
