"""Linear algebra shared by the spectra modules.

Symmetric eigenvalues, descending padding, Hessian products from the Jacobian factors, and
Rayleigh alignments.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh


def eigvalsh(S: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Eigenvalues of a symmetric matrix by LAPACK's MRRR driver (``evr``), ascending.

    ``overwrite``: S is a scratch array that LAPACK may destroy (saves a copy).
    """
    return eigh(S, eigvals_only=True, driver="evr", check_finite=False, overwrite_a=overwrite)


def pad_descending(vals: np.ndarray, dim: int) -> np.ndarray:
    """The largest ``dim`` of ``vals``, descending, padded with zeros to length ``dim``."""
    vals = np.sort(vals)[::-1][:dim]
    return np.concatenate([vals, np.zeros(dim - vals.size)])


def hessian_matvecs(At, X, V) -> np.ndarray:
    """Hess_l V for a stack V (m, d_l, d_{l−1}) of matrices, from the factors (Ã, X).

    Each product is (1/N) Σ_i Ã_iᵀ Ã_i V x_i x_iᵀ, with r_ic = ã_icᵀ V x_i (J v) computed once per
    sample; the result has V's shape.
    """
    VX = np.einsum("mab,bi->mai", V, X)  # V x_i
    r = np.einsum("ica,mai->mic", At, VX)  # J v: one entry per (sample, output)
    back = np.einsum("mic,ica->mai", r, At)  # Ã_iᵀ r_i
    return back @ X.T / X.shape[1]


def alignments(vs: np.ndarray, hvs: np.ndarray) -> np.ndarray:
    """|vᵀ Hv|² / (‖v‖² ‖Hv‖²) row by row (0 where a norm vanishes)."""
    num = np.sum(vs * hvs, axis=1) ** 2
    denom = np.sum(vs**2, axis=1) * np.sum(hvs**2, axis=1)
    safe = np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, num / safe, 0.0)
