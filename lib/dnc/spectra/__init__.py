"""Spectra of the deep UFM: layer Hessians, their top eigenpairs, gradients and other matrices.

- :mod:`~dnc.spectra.hessian`: Hess_l from the Jacobian factors (dense, spectrum, products, top
  eigenpairs, Papyan's components and knockouts); :mod:`~dnc.spectra.top_eigen`: top eigenpairs
  of a symmetric matrix, certified;
- :mod:`~dnc.spectra.predictions`: Theorem 4.1's eigenvectors and eigenvalues;
- :mod:`~dnc.spectra.full_hessian`: the Hessian of all layers at once (the depth theorem);
- :mod:`~dnc.spectra.gradients`: the layer gradient and its alignment (Theorem 4.3);
  :mod:`~dnc.spectra.eigenbases`: coefficients in bases of the top eigenspace;
- :mod:`~dnc.spectra.matrices`: gradient covariance, backpropagated errors, Grams, row overlaps;
- :mod:`~dnc.spectra.cross_entropy`: the cross-entropy measurements;
  :mod:`~dnc.spectra.effective_rank`: effective rank over training.
"""

from dnc.spectra import (
    cross_entropy,
    effective_rank,
    eigenbases,
    full_hessian,
    gradients,
    hessian,
    matrices,
    predictions,
    top_eigen,
)
from dnc.spectra.full_hessian import full_hessian_top_eigenvalues
from dnc.spectra.gradients import data_gradient_matrix, natural_basis_coefficients
from dnc.spectra.hessian import (
    jacobian_factors,
    knockout_spectra,
    layer_hessian,
    layer_hessian_spectrum,
    papyan_components,
    top_eigenpairs,
)
from dnc.spectra.predictions import (
    predicted_alignments,
    predicted_eigenvectors,
    predicted_outlier_eigenvalues,
)

__all__ = [
    "cross_entropy",
    "data_gradient_matrix",
    "effective_rank",
    "eigenbases",
    "full_hessian",
    "full_hessian_top_eigenvalues",
    "gradients",
    "hessian",
    "jacobian_factors",
    "knockout_spectra",
    "layer_hessian",
    "layer_hessian_spectrum",
    "matrices",
    "natural_basis_coefficients",
    "papyan_components",
    "predicted_alignments",
    "predicted_eigenvectors",
    "predicted_outlier_eigenvalues",
    "predictions",
    "top_eigen",
    "top_eigenpairs",
]
