"""A real network under the UFM's linear layers, and paper A's measurements on it.

A residual feature map h(x; θ̄) followed by L bias-free linear layers, trained with the deep UFM's
objective.

``model`` (the network), ``training`` (objective, training loop, cache), ``measure`` (the
theorems' quantities on the linear layers), ``curvature`` (the Hessian over every parameter, by
Lanczos); the chapter's settings and runs are in
:mod:`dnc.experiments.realnet`.
"""

from dnc.realnet import curvature, measure, model, training
from dnc.realnet.model import RealNet
from dnc.realnet.training import RealNetConfig, RealNetRun, train_network, train_network_cached

__all__ = [
    "RealNet",
    "RealNetConfig",
    "RealNetRun",
    "curvature",
    "measure",
    "model",
    "training",
    "train_network",
    "train_network_cached",
]
