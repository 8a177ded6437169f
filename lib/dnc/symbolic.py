"""Exact building blocks for the chapters' sympy checks: free symbolic matrices, orthonormal
frames in general position, and collapsed feature matrices.

A frame is in *general position* when it has no special alignment with the coordinate axes or
with another frame. :func:`orthonormal_frame` gets one exactly, with rational entries, from the
Cayley transform Q = (I − S)(I + S)⁻¹ of a skew-symmetric S with seeded random rational entries
(Q is orthogonal because S is skew: QᵀQ = (I + S)⁻ᵀ(I − S)ᵀ(I − S)(I + S)⁻¹ = I).
"""

from __future__ import annotations

import random

import sympy as sp


def symbolic_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    """A rows×cols matrix of independent real symbols ``{name}{i}{j}``."""
    if rows < 1 or cols < 1:
        raise ValueError(f"a symbolic matrix needs positive sizes, got {rows}×{cols}")
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}{i}{j}", real=True))


def cayley(S: sp.Matrix) -> sp.Matrix:
    """Q = (I − S)(I + S)⁻¹: orthogonal for every skew-symmetric S (I + S is then invertible)."""
    if S.shape[0] != S.shape[1] or sp.simplify(S + S.T) != sp.zeros(*S.shape):
        raise ValueError(f"cayley() needs a skew-symmetric square matrix, got shape {S.shape}")
    eye = sp.eye(S.shape[0])
    return (eye - S) * (eye + S).inv()


def orthonormal_frame(d: int, K: int, seed: int = 0) -> sp.Matrix:
    """A d×K matrix with exactly orthonormal rational columns in general position: the first K
    columns of the Cayley transform of a seeded random rational skew-symmetric d×d matrix."""
    if not 1 <= K <= d:
        raise ValueError(f"an orthonormal frame of K={K} vectors needs 1 <= K <= d={d}")
    rng = random.Random(seed)
    S = sp.zeros(d, d)
    for i in range(d):
        for j in range(i + 1, d):
            S[i, j] = sp.Rational(rng.randint(-9, 9) or 1, rng.randint(2, 9))
            S[j, i] = -S[i, j]
    return cayley(S)[:, :K]


def collapsed_features(means: sp.Matrix, n: int) -> sp.Matrix:
    """The d×(K·n) feature matrix of a collapsed layer: column c·n + i is the class mean μ_c
    (samples ordered class by class, n per class)."""
    if n < 1:
        raise ValueError(f"each class needs at least one sample, got n={n}")
    return sp.Matrix.hstack(*[means[:, c] for c in range(means.shape[1]) for _ in range(n)])
