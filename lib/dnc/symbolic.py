"""Exact building blocks for the chapters' sympy checks.

Free symbolic matrices, orthonormal frames in general position, collapsed feature matrices, and
the residuals of an eigenvector equation.

A frame is in *general position* when it has no special alignment with the coordinate axes or
with another frame. :func:`orthonormal_frame` gets one exactly, with rational entries, from the
Cayley transform Q = (I − S)(I + S)⁻¹ of a skew-symmetric S with seeded random rational entries
(Q is orthogonal because S is skew: QᵀQ = (I + S)⁻ᵀ(I − S)ᵀ(I − S)(I + S)⁻¹ = I).
"""

from __future__ import annotations

import random

import sympy as sp


def symbolic_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    """A rows×cols matrix of independent real symbols ``{name}{i}{j}``.

    When a size exceeds 10 the symbols are ``{name}{i}_{j}``, so that entries (1, 11) and (11, 1)
    stay distinct.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"a symbolic matrix needs positive sizes, got {rows}×{cols}")
    sep = "_" if max(rows, cols) > 10 else ""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}{i}{sep}{j}", real=True))


def cayley(S: sp.Matrix) -> sp.Matrix:
    """Q = (I − S)(I + S)⁻¹: orthogonal for every skew-symmetric S (I + S is then invertible)."""
    if S.shape[0] != S.shape[1] or sp.simplify(S + S.T) != sp.zeros(*S.shape):
        raise ValueError(f"cayley() needs a skew-symmetric square matrix, got shape {S.shape}")
    eye = sp.eye(S.shape[0])
    return (eye - S) * (eye + S).inv()


def orthonormal_frame(d: int, K: int, seed: int = 0) -> sp.Matrix:
    """A d×K matrix with exactly orthonormal rational columns in general position.

    Its columns are the first K columns of the Cayley transform of a seeded random rational
    skew-symmetric d×d matrix. Raises ValueError unless 1 ≤ K ≤ d.
    """
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
    """The d×(K·n) feature matrix of a collapsed layer: column c·n + i is the class mean μ_c.

    ``means`` is d×K; the samples are ordered class by class, n per class.
    """
    if n < 1:
        raise ValueError(f"each class needs at least one sample, got n={n}")
    return sp.Matrix.hstack(*[means[:, c] for c in range(means.shape[1]) for _ in range(n)])


def deep_linear_model(K: int, d: int, L: int) -> tuple[sp.Matrix, list[sp.Matrix], sp.Matrix]:
    """A symbolic deep linear UFM with one sample per class, returned as (H, [W_1, …, W_L], Y).

    Features H (d×K), weights W_1, …, W_{L−1} (d×d) and W_L (K×d), every entry a free symbol,
    and targets Y = I_K. Raises ValueError for a size below 1 or more than 15 layers.
    """
    if L < 1 or K < 1 or d < 1:
        raise ValueError(f"a deep linear model needs K, d, L >= 1, got K={K}, d={d}, L={L}")
    names = "abcdefgpqrstuvw"[-L:] if L <= 15 else None
    if names is None:
        raise ValueError(f"at most 15 layers, got L={L}")
    Ws = [symbolic_matrix(names[l], d, d) for l in range(L - 1)] + [
        symbolic_matrix(names[-1], K, d)
    ]
    return symbolic_matrix("h", d, K), Ws, sp.eye(K)


def layer_input(H: sp.Matrix, Ws: list[sp.Matrix], l: int) -> sp.Matrix:
    """h^(l) = W_{l−1}⋯W_1 H, the input of layer l (l = 1 gives H)."""
    x = H
    for W in Ws[: l - 1]:
        x = W * x
    return x


def product_above(Ws: list[sp.Matrix], l: int) -> sp.Matrix:
    """A^(l+1) = W_L⋯W_{l+1}, the product of the layers above layer l (I_K for l = L)."""
    A = sp.eye(Ws[-1].shape[0])
    for W in reversed(Ws[l:]):
        A = A * W
    return A


def mse_objective(H: sp.Matrix, Ws: list[sp.Matrix], Y: sp.Matrix) -> sp.Expr:
    """The data term of paper A's objective (1): ‖W_L⋯W_1H − Y‖_F² / (2N), N = columns of H."""
    R = layer_input(H, Ws, len(Ws) + 1) - Y
    return sum(x**2 for x in R) / (2 * H.shape[1])


def papyan_parts(vectors: dict) -> dict[str, sp.Matrix]:
    """Papyan's parts of G = (1/(Kn)) Σ_{i,c,c'} v_icc' v_icc'ᵀ, with G = class + cross + within.

    The symbolic column vectors are ``vectors[i, c, c']`` (i < n samples, c < K classes, c' < K
    outputs), with v_cc' = Av_i v_icc' and v_c = Av_c' v_cc'. Returned: ``G``,
    ``class`` = Σ_c v_c v_cᵀ, ``cross`` = (1/K) Σ_{c,c'} (v_cc' − v_c)(·)ᵀ,
    ``within`` = (1/(Kn)) Σ (v_icc' − v_cc')(·)ᵀ. Raises ValueError unless every (i, c, c') has
    a vector.
    """
    n = 1 + max(i for i, _, _ in vectors)
    K = 1 + max(c for _, c, _ in vectors)
    D = next(iter(vectors.values())).shape[0]
    if len(vectors) != n * K * K:
        raise ValueError(f"need a vector for every (i, c, c') with i < {n}, c, c' < {K}")

    def outer_sum(vs):
        return sum((v * v.T for v in vs), sp.zeros(D, D))

    v_cc = {
        (c, e): sum((vectors[i, c, e] for i in range(n)), sp.zeros(D, 1)) / n
        for c in range(K)
        for e in range(K)
    }
    v_c = {c: sum((v_cc[c, e] for e in range(K)), sp.zeros(D, 1)) / K for c in range(K)}
    return {
        "G": outer_sum(vectors.values()) / (K * n),
        "class": outer_sum(v_c.values()),
        "cross": outer_sum(v_cc[c, e] - v_c[c] for c in range(K) for e in range(K)) / K,
        "within": outer_sum(vectors[i, c, e] - v_cc[c, e] for (i, c, e) in vectors) / (K * n),
    }


def eigen_residuals(M: sp.Matrix, vectors, value) -> list[sp.Matrix]:
    """The expanded residuals M v − value·v, one per column vector v of ``vectors``.

    Each v is an eigenvector of M with eigenvalue ``value`` exactly when its residual is the
    zero vector (expanded, so that identities between symbols cancel).

    Args:
        M: a square symbolic matrix.
        vectors: column vectors of M's size.
        value: the eigenvalue, a number or a symbolic expression.

    Returns:
        The residuals, in the order of ``vectors``.

    Raises:
        ValueError: M is not square or a vector is not a column of its size.
    """
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"M must be square, got shape {M.shape}")
    vectors = list(vectors)
    for k, v in enumerate(vectors):
        if v.shape != (M.shape[0], 1):
            raise ValueError(f"vector {k} has shape {v.shape}, expected ({M.shape[0]}, 1)")
    return [sp.expand(M * v - value * v) for v in vectors]


def masked_relu_hessian(masks_1: list[sp.Matrix], masks_2: list[sp.Matrix], K: int):
    """The Hessian in W_2 of a three-layer ReLU network fixed on one activation pattern per sample.

    Sample i is mapped by W_3 D₂ᵢ W_2 D₁ᵢ W_1 h_i (D₁ᵢ = ``masks_1[i]``, D₂ᵢ = ``masks_2[i]``,
    diagonal 0/1, d×d), with free symbolic H (d×N), W_1, W_2 (d×d), W_3 (K×d) and targets e_i
    (so N ≤ K).

    Returns (sympy's Hessian of the MSE data term in vec(W_2), row-major, and the formula
    Av_i{Ã_iᵀÃ_i ⊗ x_i x_iᵀ} with Ã_i = W_3 D₂ᵢ and x_i = D₁ᵢ W_1 h_i), both d²×d².
    Raises ValueError unless there is one pair of masks per sample and N ≤ K.
    """
    N, d = len(masks_1), masks_1[0].shape[0]
    if len(masks_2) != N or N > K:
        raise ValueError(
            f"need one pair of masks per sample and N <= K = {K}, got {N} and {len(masks_2)}"
        )
    H = symbolic_matrix("h", d, N)
    W1, W2, W3 = symbolic_matrix("a", d, d), symbolic_matrix("b", d, d), symbolic_matrix("c", K, d)
    Y = sp.eye(K)
    loss, formula = 0, sp.zeros(d * d, d * d)
    for i in range(N):
        x = masks_1[i] * W1 * H[:, i]  # the input of layer 2
        A_tilde = W3 * masks_2[i]
        loss += sum(r**2 for r in A_tilde * W2 * x - Y[:, i]) / (2 * N)
        formula += sp.kronecker_product(A_tilde.T * A_tilde, x * x.T) / N
    return sp.hessian(loss, list(W2)), formula


def linear_layer_hessian_gap(d_out: int = 2, d_in: int = 3) -> sp.Matrix:
    """∂²ℓ/∂(vec W)² − C ⊗ hhᵀ for ℓ = g(Wh + b), g a cubic in z with free coefficients.

    C = ∇²g at z = Wh + b; vec W is row-major. The result is the zero matrix exactly when the
    layer Hessian of a linear layer is C ⊗ hhᵀ whatever follows it (g stands for the rest of the
    network and the loss; a cubic has a Hessian that varies with z, as a network's does).
    """
    W, h, b = (
        symbolic_matrix("w", d_out, d_in),
        symbolic_matrix("h", d_in, 1),
        symbolic_matrix("b", d_out, 1),
    )
    z = sp.Matrix(sp.symbols(f"z0:{d_out}", real=True))
    terms = [z[i] for i in range(d_out)]
    terms += [z[i] * z[j] for i in range(d_out) for j in range(i, d_out)]
    terms += [
        z[i] * z[j] * z[k] for i in range(d_out) for j in range(i, d_out) for k in range(j, d_out)
    ]
    g = sum(sp.Symbol(f"c{m}", real=True) * t for m, t in enumerate(terms))
    C = sp.hessian(g, list(z))
    at = dict(zip(z, W * h + b, strict=True))
    loss = g.subs(at, simultaneous=True)
    weights = list(W)  # row-major
    return sp.expand(
        sp.hessian(loss, weights) - sp.kronecker_product(C.subs(at, simultaneous=True), h * h.T)
    )
