"""Where the papers meet: the AGOP of a deep UFM's head and the Neural Feature Ansatz.

In a deep UFM with layers W_1, …, W_L (samples as columns, h^(1) = H_1 the input of W_1) the rest
of the network from layer l is f_{≥l}(h) = W_L σ(W_{L−1} ⋯ σ(W_l h)). Linear: f_{≥l}(h) = A^(l) h
with A^(l) = W_L ⋯ W_l, so J = A^(l) at every point and AGOP_l = A^(l)ᵀA^(l). At a balanced point
(W_{l+1}ᵀW_{l+1} = W_l W_lᵀ, which every critical point with equal λ_W's satisfies),
A^(l)ᵀA^(l) = (W_lᵀW_l)^{L−l+1}: the NFA holds with exponent 1/(L−l+1), set by the depth above.
"""

from __future__ import annotations

import numpy as np

from dnc.agop.core import pearson
from dnc.ufm import ACTIVATIONS, check_params, layer_inputs


def layer_agops(H1, Ws, activation: str = "linear") -> list[np.ndarray]:
    """AGOP_l = (1/N) Σ_i J_l(h_i^(l))ᵀ J_l(h_i^(l)) of f_{≥l} for l = 1..L, samples as columns.

    J_l(h) = W_L D_{L−1} W_{L−1} ⋯ D_l W_l with D_j = diag(1[W_j h^(j) > 0]) (identity if linear).
    """
    H1, Ws = check_params(H1, Ws)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    hs = layer_inputs(H1, Ws, activation)
    N = H1.shape[1]
    B = np.broadcast_to(Ws[-1], (N, *Ws[-1].shape))  # N×K×d: J of the last layer
    out = [np.einsum("nkd,nke->de", B, B) / N]
    for j in range(len(Ws) - 2, -1, -1):
        active = (Ws[j] @ hs[j] > 0).T if activation == "relu" else np.ones((N, Ws[j].shape[0]))
        B = (B * active[:, None, :]) @ Ws[j]
        out.append(np.einsum("nkd,nke->de", B, B) / N)
    return out[::-1]


def balance_residuals(Ws) -> np.ndarray:
    """‖W_{l+1}ᵀW_{l+1} − W_l W_lᵀ‖_F / ‖W_l W_lᵀ‖_F for l = 1..L−1 (0 at a balanced point)."""
    return np.array(
        [
            np.linalg.norm(b.T @ b - a @ a.T) / np.linalg.norm(a @ a.T)
            for a, b in zip(Ws[:-1], Ws[1:], strict=True)
        ]
    )


def root(G, p: float, floor: float = 1e-12) -> np.ndarray:
    """G^p for symmetric PSD G, eigenvalues below ``floor``·λ_max set to 0 first.

    A rank-deficient G (as every UFM AGOP with d > K) has rounding-level eigenvalues ε‖G‖ whose
    p-th power (ε^p, e.g. 5e-6 for p = 1/3) would swamp the comparison; they are zeroed.
    """
    vals, vecs = np.linalg.eigh((G + G.T) / 2)
    vals = np.where(vals > floor * vals.max(), vals, 0.0)
    return (vecs * vals**p) @ vecs.T


def nfa_depth_exponent(H1, Ws, activation: str = "linear") -> dict:
    """How well W_lᵀW_l matches AGOP_l^{p_l}, p_l = 1/(L−l+1), against p = 1/2, per layer l = 1..L.

    Returns a dict of length-L arrays: ``error`` ‖W_lᵀW_l − AGOP_l^{p_l}‖_F / ‖W_lᵀW_l‖_F,
    ``error_half`` the same with p = 1/2, and the NFA correlations ``rho_depth``
    ρ(W_lᵀW_l, AGOP_l^{p_l}) and ``rho_half`` ρ(W_lᵀW_l, AGOP_l^{1/2}).
    """
    H1, Ws = check_params(H1, Ws)
    G = layer_agops(H1, Ws, activation)
    L = len(Ws)
    out = {k: [] for k in ("error", "error_half", "rho_depth", "rho_half")}
    for l, (W, g) in enumerate(zip(Ws, G, strict=True)):
        gram = W.T @ W
        deep, half = root(g, 1.0 / (L - l)), root(g, 0.5)
        out["error"].append(np.linalg.norm(gram - deep) / np.linalg.norm(gram))
        out["error_half"].append(np.linalg.norm(gram - half) / np.linalg.norm(gram))
        out["rho_depth"].append(pearson(gram, deep))
        out["rho_half"].append(pearson(gram, half))
    return {k: np.array(v) for k, v in out.items()}


def exponent_correlations(Ws, agops) -> dict:
    """NFA correlations ρ(W_lᵀW_l, G_l^p) for p = 1/(L_total−l+1) (``depth``), 1/2 and 1.

    W_1..W_L are the weight layers and G_1..G_L their AGOPs (w.r.t. each layer's input; the
    readout last or absent). L_total = len(Ws), so L_total − l + 1 counts every weight layer
    above and including l. Returns a dict of arrays keyed ``depth``, ``half`` and ``one``.
    """
    L = len(Ws)
    out = {"depth": [], "half": [], "one": []}
    for l, (W, g) in enumerate(zip(Ws, agops)):  # noqa: B905 (the readout's AGOP may be absent)
        gram = W.T @ W
        for key, p in (("depth", 1.0 / (L - l)), ("half", 0.5), ("one", 1.0)):
            out[key].append(pearson(gram, root(g, p)))
    return {k: np.array(v) for k, v in out.items()}
