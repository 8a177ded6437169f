"""The average gradient outer product (paper B): AGOP, RFM and Deep RFM, the MLP, the theory.

- :mod:`~dnc.agop.core`: AGOP = (1/N) Σ_i J_iᵀJ_i, layer AGOPs, matrix powers, the NFA correlation;
- :mod:`~dnc.agop.rfm`: kernels, RFM and Deep RFM; :mod:`~dnc.agop.steps`: one Deep RFM layer
  step by step;
- :mod:`~dnc.agop.mlp`: the MLP of paper B §4 and its NC1 decomposition;
- :mod:`~dnc.agop.theory`: the closed forms of paper B §5; :mod:`~dnc.agop.ufm_head`: AGOP on the
  deep UFM.
"""

from dnc.agop import mlp, rfm, steps, theory, ufm_head
from dnc.agop.core import agop, jacobians, layer_agops, nfa_correlation, pearson, psd_power

__all__ = [
    "agop",
    "jacobians",
    "layer_agops",
    "mlp",
    "nfa_correlation",
    "pearson",
    "psd_power",
    "rfm",
    "steps",
    "theory",
    "ufm_head",
]
