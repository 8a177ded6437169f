"""AGOP of a deep UFM's head: closed form against autograd, balanced factors, bad input."""

import numpy as np
import pytest
import torch

from dnc.agop import core as agop
from dnc.agop import ufm_head as ufm_agop


def random_ufm(d=5, N=7, K=3, L=3, seed=0):
    rng = np.random.default_rng(seed)
    H1 = rng.standard_normal((d, N))
    Ws = [rng.standard_normal((d, d)) for _ in range(L - 1)] + [rng.standard_normal((K, d))]
    return H1, Ws


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_layer_agops_match_autograd(activation):
    H1, Ws = random_ufm()
    hs = [H1]
    for W in Ws[:-1]:
        pre = W @ hs[-1]
        hs.append(np.maximum(pre, 0) if activation == "relu" else pre)
    for l, G in enumerate(ufm_agop.layer_agops(H1, Ws, activation)):

        def head(h, l=l):  # rows are samples for torch
            for j in range(l, len(Ws)):
                h = h @ torch.as_tensor(Ws[j]).T
                if j < len(Ws) - 1 and activation == "relu":
                    h = torch.relu(h)
            return h

        np.testing.assert_allclose(G, agop.agop(head, hs[l].T), rtol=1e-10, atol=1e-12)


def test_balanced_factors_satisfy_the_depth_exponent():
    rng = np.random.default_rng(1)
    frames = [np.linalg.qr(rng.standard_normal((4, 4)))[0] for _ in range(4)]
    s = np.diag([2.0, 1.5, 0.7, 0.3])
    Ws = [frames[l + 1] @ s @ frames[l].T for l in range(3)]  # balanced: W_{l+1}ᵀW_{l+1} = W_lW_lᵀ
    assert ufm_agop.balance_residuals(Ws).max() < 1e-14
    out = ufm_agop.nfa_depth_exponent(rng.standard_normal((4, 6)), Ws)
    assert out["error"].max() < 1e-12
    assert out["error_half"][0] > 0.1  # p = 1/2 is the wrong exponent three layers deep


def test_bad_input_is_named():
    H1, Ws = random_ufm()
    with pytest.raises(ValueError, match="activation"):
        ufm_agop.layer_agops(H1, Ws, "tanh")
