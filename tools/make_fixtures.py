"""Regenerate the fixed weights on which the stochastic chapters' measuring code is regression-tested.

Minibatch float32 training rounds differently on every CPU family, so its outcomes are pinned by
their spread over seeds (``dnc.book.check_seeds``). The code that *measures* a trained model is
deterministic, and ``tests/unit/test_pipeline_fixtures.py`` pins it at 1e-4 on weights that do not
move: those written here, once, into ``tests/fixtures``:

* ``realnet_mse.npz``, ``realnet_ce.npz``: the quick profile's seed-0 networks of the chapter
  "Real networks" (``dnc.experiments.realnet.setting("quick")``), parameters in float32;
* ``mlp.npz``: a small bias-free ReLU MLP (width 32, three hidden layers) trained by
  ``dnc.agop.mlp.train_mlp`` on the quick profile's MNIST subset of the chapter "Linear denoising";
* ``pipeline.json``: what the measuring code gives on them (the values the test pins).

Run ``python tools/make_fixtures.py`` only when a measurement changes on purpose (then commit the
new files); re-running it on another machine trains slightly different weights, which is fine:
the test compares the measurements with the weights stored beside them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures"
MLP_SETTINGS = dict(width=32, depth=3, lr=1e-3, epochs=40, batch_size=32, seed=0, record_every=40)


def realnet_measurements(config: dict, state: dict, K: int, loss: str) -> dict:
    """The chapter's measurements of one network: its layer table and (MSE) the knockouts."""
    import torch

    from dnc.experiments import realnet as experiments
    from dnc.realnet import measure, training

    config = training.RealNetConfig(**{**config, "widths": tuple(config["widths"])})
    net = config.build(K).double()
    net.load_state_dict(
        {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in state.items()}
    )
    images, labels = training.load_images(config.dataset, config.n_per_class)
    report = measure.network_report(net, images, labels, loss)
    out = {k: v.tolist() for k, v in measure.layer_table(report).items()}
    H1, Ws = measure.head_params(net, images)
    if loss == "mse":
        out["knockouts"], out["within_share"] = measure.knockouts(
            H1, Ws, experiments.setting("quick").layer
        )
    return out


def mlp_measurements(weights: list[np.ndarray]) -> dict:
    """What the MLP chapters measure on a trained MLP: the NC1 decomposition, NC1/NC2 of every
    layer's input, the NFA correlations (p = 1, 1/2) and the exponent correlations."""
    import torch

    from dnc import metrics
    from dnc.agop import mlp
    from dnc.agop import ufm_head as ufm_agop
    from dnc.agop.core import nfa_correlation

    X, y = mlp_data()
    model = mlp.MLP(X.shape[1], MLP_SETTINGS["width"], weights[-1].shape[0], MLP_SETTINGS["depth"])
    with torch.no_grad():
        for layer, W in zip(model.layers, weights, strict=True):
            layer.weight.copy_(torch.as_tensor(W))
    with torch.no_grad():  # in float32, as the chapters measure the trained MLPs
        hs = [h.double().numpy().T for h in model.layer_inputs(torch.as_tensor(X).float())]
    G = mlp.hidden_agops(model, X)
    Ws = [W.astype(np.float64) for W in weights]
    with torch.no_grad():
        accuracy = float((model(torch.as_tensor(X).float()).argmax(1).numpy() == y).mean())
    return {
        "decomposition": mlp.layer_nc1_decomposition(model, X, y).tolist(),
        "nc1": [metrics.nc1(H, y, kind="trace_ratio") for H in hs],
        "nc2": [metrics.nc2(H, y, frame="etf") for H in hs],
        "nfa": [nfa_correlation(W, g, 1.0) for W, g in zip(Ws, G, strict=False)],
        "nfa_sqrt": [nfa_correlation(W, g, 0.5) for W, g in zip(Ws, G, strict=False)],
        "exponents": {k: v.tolist() for k, v in ufm_agop.exponent_correlations(Ws, G).items()},
        "accuracy": accuracy,
    }


def mlp_data():
    """The quick profile's MNIST subset of paper B's MLP (30 images a class, seed 0)."""
    from dnc import data
    from dnc.experiments import paper_b as deep_rfm_experiments

    cfg = deep_rfm_experiments.mlp_settings("quick")
    return data.load(cfg["dataset"], n_per_class=cfg["n_per_class"], seed=0)


def main() -> int:
    from dnc.agop.mlp import train_mlp
    from dnc.experiments import realnet as experiments
    from dnc.realnet import training

    OUT.mkdir(parents=True, exist_ok=True)
    s = experiments.setting("quick")
    images, labels = training.load_images(s.config.dataset, s.config.n_per_class)
    pinned = {}
    for loss in ("mse", "ce"):
        config = replace(s.config, seed=0, loss=loss)
        run = training.train_network_cached(config, images, labels)
        state = {k: np.asarray(v, dtype=np.float32) for k, v in run.state.items()}
        np.savez_compressed(OUT / f"realnet_{loss}.npz", **state)
        as_dict = config.as_dict()
        pinned[f"realnet_{loss}"] = {"config": as_dict, "K": run.K}
        pinned[f"realnet_{loss}"]["measured"] = realnet_measurements(as_dict, state, run.K, loss)
        print(f"realnet {loss}: stored", flush=True)
    X, y = mlp_data()
    model, _ = train_mlp(X, y, **MLP_SETTINGS)
    weights = [layer.weight.detach().numpy().astype(np.float32) for layer in model.layers]
    np.savez_compressed(OUT / "mlp.npz", *weights)
    pinned["mlp"] = {"settings": MLP_SETTINGS, "measured": mlp_measurements(weights)}
    (OUT / "pipeline.json").write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
