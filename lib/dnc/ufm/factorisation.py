"""The regulariser of a factorisation against the Schatten quasi-norm of its product (chapter 2).

For Z = M_q⋯M_1 with singular values s_i:  Σ_j ½λ_j‖M_j‖_F² ≥ (q/2) c Σ_i s_i^{2/q},
c = (Π_j λ_j)^{1/q}, with equality for the balanced factorisation λ_j Σ_j² = c diag(s)^{2/q}.
"""

from __future__ import annotations

import numpy as np


def regulariser(factors, lambdas) -> float:
    """Σ_j ½λ_j‖M_j‖_F²."""
    return float(sum(0.5 * lam * np.sum(M**2) for lam, M in zip(lambdas, factors, strict=True)))


def schatten_bound(Z, lambdas) -> float:
    """(q/2) c Σ_i s_i(Z)^{2/q}, q = len(lambdas), c = (Π λ_j)^{1/q}."""
    q = len(lambdas)
    c = float(np.prod(lambdas)) ** (1.0 / q)
    s = np.linalg.svd(np.asarray(Z, dtype=np.float64), compute_uv=False)
    return 0.5 * q * c * float(np.sum(s ** (2.0 / q)))


def balanced_factors(Z, lambdas, d: int, seed: int = 0) -> list[np.ndarray]:
    """[M_1, …, M_q], balanced, with M_q⋯M_1 = Z (K×N, rank r ≤ d) and λ_j Σ_j² = c diag(s)^{2/q}.

    The inner frames U_2, …, U_q ∈ R^{d×r} are random orthonormal (drawn from ``seed``).

    Raises:
        ValueError: Z has rank above d (singular values below 10⁻¹² s_1 count as zero).
    """
    Z = np.asarray(Z, dtype=np.float64)
    q = len(lambdas)
    c = float(np.prod(lambdas)) ** (1.0 / q)
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    r = int(np.sum(s > 1e-12 * s[0]))
    if r > d:
        raise ValueError(f"a product of rank {r} does not factor through width d = {d}")
    U, s, Vt = U[:, :r], s[:r], Vt[:r]
    rng = np.random.default_rng(seed)
    frames = [np.linalg.qr(rng.standard_normal((d, r)))[0] for _ in range(q - 1)]
    outs = [*frames, U]  # U_2, …, U_q, then U (output side of M_q)
    ins = [Vt.T, *frames]  # V, U_2, …, U_q (input side of each factor)
    sig = [np.sqrt(c * s ** (2.0 / q) / lam) for lam in lambdas]
    return [o @ np.diag(g) @ i.T for o, g, i in zip(outs, sig, ins, strict=True)]


def schatten_bound_gap(q: int, K: int, d: int, N: int, seed: int = 0) -> dict[str, float]:
    """Relative excess (regulariser − bound)/bound of three factorisations of one product.

    ``random``: a random factorisation (Gaussian factors, random λ's in [10⁻³, 10⁻¹]);
    ``rescaled``: the same factors rescaled by scalars a_j (Π a_j = 1) that make λ_j‖M_j‖_F²
    equal (AM–GM tight, only the singular-value inequalities left); ``balanced``: the balanced
    factorisation of the same product.
    """
    rng = np.random.default_rng(seed)
    lambdas = 10 ** rng.uniform(-3, -1, size=q)
    shapes = [(d, N)] + [(d, d)] * (q - 2) + [(K, d)]
    factors = [rng.standard_normal(shape) for shape in shapes]
    Z = factors[0]
    for M in factors[1:]:
        Z = M @ Z
    bound = schatten_bound(Z, lambdas)
    balanced = balanced_factors(Z, lambdas, d, seed)
    product = balanced[0]
    for M in balanced[1:]:
        product = M @ product
    assert np.allclose(product, Z, rtol=1e-10, atol=1e-10 * np.abs(Z).max()), (
        "the balanced factors do not multiply back to Z"
    )
    weights = np.array([lam * np.sum(M**2) for lam, M in zip(lambdas, factors, strict=True)])
    scales = np.sqrt(np.exp(np.mean(np.log(weights))) / weights)  # Π scales = 1
    rescaled = [a * M for a, M in zip(scales, factors, strict=True)]
    return {
        "random": (regulariser(factors, lambdas) - bound) / bound,
        "rescaled": (regulariser(rescaled, lambdas) - bound) / bound,
        "balanced": (regulariser(balanced, lambdas) - bound) / bound,
    }
