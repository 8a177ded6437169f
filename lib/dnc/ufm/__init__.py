"""The deep unconstrained feature model (paper A): the model, its optimum, training, collapse.

- :mod:`~dnc.ufm.model`: the objective, its configuration and forward pass;
  :mod:`~dnc.ufm.point`: the model at given parameters, checked once, with its forward quantities;
- :mod:`~dnc.ufm.optimum`: condition (2) and the closed-form optimum (MSE; the CE analogue);
- :mod:`~dnc.ufm.factorisation`: the Schatten-quasi-norm bound behind the optimum;
- :mod:`~dnc.ufm.step`: the closed-form gradient-descent step; :mod:`~dnc.ufm.result`: a run's
  snapshots; :mod:`~dnc.ufm.loop`: the training loop and its cache; :mod:`~dnc.ufm.tracking`:
  quantities over snapshots;
- :mod:`~dnc.ufm.collapse`: deep neural collapse measured layer by layer;
  :mod:`~dnc.ufm.outcomes`: which optimum a run reached.
"""

from dnc.ufm import collapse, factorisation, outcomes, tracking
from dnc.ufm.loop import batch_configs, train, train_cached
from dnc.ufm.model import (
    ACTIVATIONS,
    LOSSES,
    UFMConfig,
    check_loss,
    check_params,
    data_loss,
    labels,
    layer_inputs,
    objective,
    products,
    softmax,
    targets,
)
from dnc.ufm.optimum import (
    LinearOptimum,
    below_threshold,
    ce_below_threshold,
    ce_collapsed_objective,
    ce_collapsed_optimum,
    linear_optimum,
    optimal_loss,
    regularisation_ratio,
)
from dnc.ufm.point import Point
from dnc.ufm.result import TrainResult
from dnc.ufm.step import Stepper, initial_params

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "LinearOptimum",
    "Stepper",
    "TrainResult",
    "UFMConfig",
    "batch_configs",
    "below_threshold",
    "ce_below_threshold",
    "ce_collapsed_objective",
    "ce_collapsed_optimum",
    "check_loss",
    "check_params",
    "collapse",
    "data_loss",
    "factorisation",
    "initial_params",
    "labels",
    "layer_inputs",
    "linear_optimum",
    "objective",
    "optimal_loss",
    "outcomes",
    "Point",
    "products",
    "regularisation_ratio",
    "softmax",
    "targets",
    "tracking",
    "train",
    "train_cached",
]
