"""The experiments of paper A's chapters with their ``quick`` and ``paper`` settings.

Each setting is a plain dataclass; ``*_run`` functions train (cached on disk) and return a
:class:`dnc.ufm.loop.TrainResult`. The figure functions and the chapters call these, so an
experiment is defined once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from dnc import ufm
from dnc.profile import choose
from dnc.spectra import gradients
from dnc.ufm import TrainResult, UFMConfig, regularisation_ratio, train_cached


@dataclass(frozen=True)
class Setting:
    """A training run and the epochs its analyses look at."""

    config: UFMConfig
    epochs: int
    lr: float
    layer: int = 1
    figure_epochs: tuple[int, ...] = ()  # epochs shown side by side (paper A Figs 3, 8, 9, …)
    early_epochs: tuple[int, ...] = ()  # dense early snapshots (Figs 4 and 7)
    knockout_epochs: tuple[int, ...] = ()  # (early, late): Figs 5 and 6
    log_epochs: tuple[int, ...] = ()  # log-spaced snapshots for curves over the whole run
    threads: int | None = 1  # CPU threads while training (None: all); speed only, not results
    seeds: tuple[int, ...] = ()  # a batch of models, one per seed (default: config.seed alone)

    @property
    def snapshots(self) -> tuple[int, ...]:
        """Every epoch whose parameters are stored, sorted: all epoch lists, 0 and the last."""
        every = set(self.figure_epochs) | set(self.early_epochs) | set(self.knockout_epochs)
        every |= set(self.log_epochs) | {0, self.epochs}
        return tuple(sorted(every))


def _log_epochs(epochs: int, count: int) -> tuple[int, ...]:
    return tuple(sorted({0, *np.unique(np.geomspace(1, epochs, count).astype(int)).tolist()}))


def one_layer_setting(profile: str | None = None) -> Setting:
    """Chapter 1: the plain UFM (L = 1), MSE and L2 on W and H."""
    quick = dict(K=4, n=10, d=8, epochs=3000)
    paper = dict(K=10, n=50, d=32, epochs=20000)
    s = choose(quick, paper, profile)
    config = UFMConfig(K=s["K"], n=s["n"], d=s["d"], L=1, lambda_W=5e-3, lambda_H=5e-3, seed=0)
    return Setting(config, s["epochs"], lr=1.0, log_epochs=_log_epochs(s["epochs"], 40))


def deep_linear_setting(profile: str | None = None) -> Setting:
    """Paper A §5.1: K = 3, d = 60, n = 40, L = 5, layer l = 3 (quick: smaller, same structure)."""
    quick = dict(K=3, n=10, d=20, L=4, epochs=30000, early=1000, knock=(800, 25000))
    paper = dict(K=3, n=40, d=60, L=5, epochs=30000, early=2000, knock=(2000, 25000))
    s = choose(quick, paper, profile)
    config = UFMConfig(K=s["K"], n=s["n"], d=s["d"], L=s["L"], lambda_W=5e-3, lambda_H=5e-3, seed=0)
    E = s["epochs"]
    return Setting(
        config,
        E,
        lr=0.1,
        layer=3,
        figure_epochs=(0, E // 300, E // 30, E // 6, E),
        early_epochs=tuple(np.linspace(0, s["early"], 41).astype(int).tolist()),
        knockout_epochs=s["knock"],
        log_epochs=_log_epochs(E, 60),
    )


def run(setting: Setting, progress: bool | None = None) -> TrainResult:
    """Train ``setting`` (cached by its full config and the hash of the code it runs)."""
    return train_cached(
        setting.config,
        setting.epochs,
        setting.lr,
        snapshots=setting.snapshots,
        seeds=setting.seeds or None,
        log_every=max(1, setting.epochs // 2000),
        progress=progress,
    )


def one_layer_run(profile: str | None = None) -> TrainResult:
    """The cached training run of :func:`one_layer_setting`."""
    return run(one_layer_setting(profile))


def deep_linear_run(profile: str | None = None) -> TrainResult:
    """The cached training run of :func:`deep_linear_setting`."""
    return run(deep_linear_setting(profile))


def lambda_for_ratio(K: int, n: int, L: int, ratio: float) -> float:
    """The common λ (all L weights and H_1) at which condition (2)'s left side is ``ratio`` × bound.

    The left side scales like λ^{L+1} for a common λ, so λ = (ratio / ratio at λ = 1)^{1/(L+1)}.
    """
    return (ratio / regularisation_ratio(K, n, [1.0] * L, 1.0)) ** (1.0 / (L + 1))


def sweep_setting(profile: str | None = None) -> dict:
    """Chapter 2's sweep of a common λ across the threshold of condition (2)."""
    # Past the end of the nonzero local branch of φ in both profiles (a ratio of 4.0 in quick,
    # 45.6 in paper): ``branch_end_ratio`` gives it, and the chapter asserts the sweep passes it.
    ratios = (0.03, 0.1, 0.3, 0.6, 0.9, 1.2, 2.0, 4.0, 10.0, 30.0, 100.0)
    quick = dict(K=3, n=10, d=20, L=3, epochs=6000, lr=1.0, ratios=ratios)
    paper = dict(K=3, n=40, d=60, L=5, epochs=20000, lr=1.0, ratios=ratios)
    return choose(quick, paper, profile)


def sweep_point(ratio: float, profile: str | None = None) -> tuple[float, TrainResult]:
    """(λ, the cached run) of the sweep at one ratio of condition (2): a common λ on every layer."""
    s = sweep_setting(profile)
    lam = lambda_for_ratio(s["K"], s["n"], s["L"], ratio)
    config = UFMConfig(K=s["K"], n=s["n"], d=s["d"], L=s["L"], lambda_W=lam, lambda_H=lam, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # above the threshold on purpose
        return lam, train_cached(config, s["epochs"], s["lr"], log_every=s["epochs"])


def regularisation_sweep(profile: str | None = None) -> dict[str, np.ndarray]:
    """Train at each ratio of condition (2) (left side over bound) and compare with the optimum.

    Returns, per ratio (arrays keyed ``ratio``, ``lam``, ``s_learned``, ``s_optimal``,
    ``s_local``, ``loss``, ``loss_optimal``): the common λ, the K learned singular values of
    W_L⋯W_1H_1, the global and the nonzero-local optimal singular value, the final and the
    optimal loss.
    """
    s = sweep_setting(profile)
    K, n, L = s["K"], s["n"], s["L"]
    out = {
        k: [] for k in ("ratio", "lam", "s_learned", "s_optimal", "s_local", "loss", "loss_optimal")
    }
    for ratio in s["ratios"]:
        lam, result = sweep_point(ratio, profile)
        H, Ws = result.params()
        opt = ufm.linear_optimum(K, n, [lam] * L, lam)
        out["ratio"].append(ratio)
        out["lam"].append(lam)
        out["s_learned"].append(np.linalg.svd(ufm.layer_inputs(H, Ws)[-1], compute_uv=False)[:K])
        out["s_optimal"].append(opt.product_sv)
        out["s_local"].append(opt.local_sv)
        out["loss"].append(float(result.final_loss[0]))
        out["loss_optimal"].append(opt.loss)
    return {k: np.asarray(v) for k, v in out.items()}


def varied_lambda_setting(profile: str | None = None) -> Setting:
    """Chapter 2's second run: a different λ on every layer, so the closed form is really tested."""
    base = deep_linear_setting(profile)
    c = base.config
    lambdas = tuple(2e-3 * (l + 1) for l in range(c.L))
    config = UFMConfig(K=c.K, n=c.n, d=c.d, L=c.L, lambda_W=lambdas, lambda_H=3e-3, seed=1)
    return Setting(config, base.epochs, 0.5, base.layer, log_epochs=base.log_epochs)


def relu_setting(profile: str | None = None) -> Setting:
    """Paper A §5.2: the ReLU deep UFM, K = 3, d = 65, n = 40, L = 5, layer l = 4, 10⁶ epochs."""
    quick = dict(K=3, n=10, d=24, L=5, layer=4, epochs=60000)
    paper = dict(K=3, n=40, d=65, L=5, layer=4, epochs=1_000_000)
    s = choose(quick, paper, profile)
    config = UFMConfig(
        K=s["K"],
        n=s["n"],
        d=s["d"],
        L=s["L"],
        lambda_W=5e-3,
        lambda_H=5e-3,
        activation="relu",
        seed=0,
    )
    E = s["epochs"]
    return Setting(
        config,
        E,
        lr=0.5,
        layer=s["layer"],
        figure_epochs=(0, E // 1000, E // 100, E // 10, E),
        knockout_epochs=(E,),
        log_epochs=_log_epochs(E, 80),
    )


def relu_run(profile: str | None = None, progress: bool | None = None) -> TrainResult:
    """The cached training run of :func:`relu_setting` (``progress`` shows a progress bar)."""
    return run(relu_setting(profile), progress=progress)


# --------------------------------------------------------------------------------------------
# Evidence for the ReLU chapter: seeds, widths, and the (λ, d) phase diagram.
# --------------------------------------------------------------------------------------------


def relu_seeds_setting(profile: str | None = None) -> Setting:
    """The ReLU run of :func:`relu_setting` for five seeds trained as one batch.

    It runs for as many epochs as the paper build's budget allows (paper: 1.5·10⁵, about 4.5 min
    of one core; the seed-0 run of :func:`relu_setting` goes on to 10⁶). A snapshot at the epoch
    count of :func:`relu_width_settings` compares widths fairly.
    """
    base = relu_setting(profile)
    s = choose(
        dict(epochs=12000, width_epochs=4000), dict(epochs=150_000, width_epochs=30_000), profile
    )
    E = s["epochs"]
    return Setting(
        base.config,
        E,
        base.lr,
        base.layer,
        figure_epochs=(s["width_epochs"],),
        log_epochs=_log_epochs(E, 40),
        seeds=(0, 1, 2, 3, 4),
    )


def relu_width_settings(profile: str | None = None) -> list[Setting]:
    """The ReLU run at two other widths (paper: d = 33 and 130 around the paper's 65).

    Three seeds each as one batch, for the epochs of ``relu_seeds_setting(...).figure_epochs``.
    """
    seeds = relu_seeds_setting(profile)
    widths = choose((12, 48), (33, 130), profile)
    E = seeds.figure_epochs[0]
    return [
        Setting(
            replace(seeds.config, d=d),
            E,
            seeds.lr,
            seeds.layer,
            log_epochs=_log_epochs(E, 20),
            seeds=(0, 1, 2),
        )
        for d in widths
    ]


def relu_seeds_run(profile: str | None = None) -> TrainResult:
    """The cached batch run of :func:`relu_seeds_setting` (five seeds)."""
    return run(relu_seeds_setting(profile))


def relu_width_runs(profile: str | None = None) -> list[TrainResult]:
    """The cached runs of :func:`relu_width_settings`, one batch per width."""
    return [run(setting) for setting in relu_width_settings(profile)]


def branch_end_ratio(K: int, n: int, L: int) -> float:
    """The ratio of condition (2) (common λ) beyond which φ has no nonzero local minimum.

    That is where K c n^{1/q} reaches max_t (1 − t) t^{1−2/q}, at t = (q − 2)/(2q − 2),
    q = L + 1.
    """
    q = L + 1
    t = (q - 2) / (2 * q - 2)
    peak = (1 - t) * t ** (1 - 2 / q)
    lam = peak / (K * n ** (1 / q))  # c = λ when every factor has the same λ
    return regularisation_ratio(K, n, [lam] * L, lam)


def phase_setting(profile: str | None = None) -> dict:
    """The (λ, d) grid of the phase diagram.

    Ratios of condition (2) from 10⁻⁸ (below the chapters' λ = 5·10⁻³; the ratio grows like
    λ^{L+1}, so this spans one to three decades of λ) to past the end of the local branch, at
    widths d < K, d = K, d = 2K and the chapter's.
    """
    ratios = (1e-8, 1e-6, 1e-4, 0.01, 0.1, 0.3, 0.6, 0.9, 1.2, 2.0, 5.0, 12.0, 30.0, 100.0, 300.0)
    quick = dict(K=3, n=10, L=3, widths=(2, 3, 6, 20), epochs=6000, ratios=ratios)
    paper = dict(K=3, n=40, L=5, widths=(2, 3, 6, 60), epochs=20000, ratios=ratios)
    s = choose(quick, paper, profile)
    s["lr"] = 0.5  # 1.0 diverges for the linear model at d = K in the paper profile
    return s


def phase_runs(activation: str, profile: str | None = None) -> list[TrainResult]:
    """One batch per width: every ratio of :func:`phase_setting` from the same initialisation."""
    s = phase_setting(profile)
    K, n, L = s["K"], s["n"], s["L"]
    lambdas = [lambda_for_ratio(K, n, L, r) for r in s["ratios"]]
    out = []
    for d in s["widths"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # d < K and above-threshold on purpose
            config = UFMConfig(K=K, n=n, d=d, L=L, activation=activation, seed=0)
            out.append(
                train_cached(
                    config,
                    s["epochs"],
                    s["lr"],
                    log_every=s["epochs"],
                    lambdas=[(lam, lam) for lam in lambdas],
                )
            )
    return out


def relu_lr_setting(profile: str | None = None) -> Setting:
    """The ReLU run at half the learning rate for twice the epochs of ``relu_width_settings``.

    The same time η·t of the gradient flow, seeds 0–2: does the learning rate move the tables?
    """
    seeds = relu_seeds_setting(profile)
    E = 2 * seeds.figure_epochs[0]
    return Setting(
        seeds.config,
        E,
        seeds.lr / 2,
        seeds.layer,
        log_epochs=_log_epochs(E, 20),
        seeds=(0, 1, 2),
    )


def relu_lr_run(profile: str | None = None) -> TrainResult:
    """The cached batch run of :func:`relu_lr_setting` (three seeds)."""
    return run(relu_lr_setting(profile))


def sweep_class_means(profile: str | None = None) -> dict[str, np.ndarray]:
    """The class means H̄ = H̄^(1) of every run of :func:`regularisation_sweep` (same cached runs).

    Returns, per ratio (arrays keyed ``ratio``, ``rank``, ``norm_ratio``, ``frame_distance``,
    ``gram_eigenvalues``): the number of singular values of W_L⋯W_1H_1 above 10⁻⁶ of √n, the
    smallest class-mean norm over the largest, ‖H̄ᵀH̄/‖H̄ᵀH̄‖_F − I_K/√K‖_F (the distance of the
    means' Gram matrix to that of an orthogonal frame) and the K eigenvalues of H̄ᵀH̄ over the
    largest, descending; NaN where the run ended at the zero solution.
    """
    s = sweep_setting(profile)
    K, n = s["K"], s["n"]
    keys = ("ratio", "rank", "norm_ratio", "frame_distance", "gram_eigenvalues")
    out = {k: [] for k in keys}
    for ratio in s["ratios"]:
        _, result = sweep_point(ratio, profile)
        H, Ws = result.params()
        sv = np.linalg.svd(ufm.layer_inputs(H, Ws)[-1], compute_uv=False)
        means = H.reshape(H.shape[0], K, n).mean(axis=2)
        norms = np.linalg.norm(means, axis=0)
        gram = means.T @ means
        rank = int(np.sum(sv > 1e-6 * np.sqrt(n)))
        out["ratio"].append(ratio)
        out["rank"].append(rank)
        if rank == 0:
            out["norm_ratio"].append(np.nan)
            out["frame_distance"].append(np.nan)
            out["gram_eigenvalues"].append(np.full(K, np.nan))
            continue
        out["norm_ratio"].append(norms.min() / norms.max())
        distance = np.linalg.norm(gram / np.linalg.norm(gram) - np.eye(K) / np.sqrt(K))
        out["frame_distance"].append(distance)
        eigenvalues = np.linalg.eigvalsh(gram)[::-1]
        out["gram_eigenvalues"].append(eigenvalues / eigenvalues[0])
    return {k: np.asarray(v) for k, v in out.items()}


def top_eigenspace_overlaps(result: TrainResult, l: int, epochs=None) -> dict[str, np.ndarray]:
    """How far the top-K² eigenspace of Hess_l moves between stored epochs (Gur-Ari et al.).

    With P_e the projector onto the span of the top K² eigenvectors u_m ⊗ v_m of Hess_l at epoch
    e (:func:`dnc.spectra.gradients.top_eigenvectors`), the overlap of two epochs is
    tr(P_e P_f)/K² = ‖B_eᵀB_f‖_F²/K², one when the spaces agree and K²/(d_l d_{l−1}) on average
    for unrelated ones; (u ⊗ v)ᵀ(u' ⊗ v') = (uᵀu')(vᵀv') gives B_eᵀB_f without a d_l d_{l−1} vector.

    Args:
        result: a deep linear run with snapshots.
        l: the layer, 1-based.
        epochs: stored epochs, ascending (default: every snapshot).

    Returns:
        Arrays keyed ``epoch``, ``final`` (overlap with the last of ``epochs``) and ``next``
        (overlap with the following epoch of ``epochs``; NaN for the last).
    """
    epochs = [int(e) for e in (result.snapshot_epochs if epochs is None else epochs)]
    spaces = [gradients.top_eigenvectors(*result.params(e), l)[:2] for e in epochs]
    k = spaces[0][0].shape[0]

    def overlap(a, b):
        return float(np.sum(((a[0] @ b[0].T) * (a[1] @ b[1].T)) ** 2) / k)

    final = [overlap(space, spaces[-1]) for space in spaces]
    following = [overlap(a, b) for a, b in zip(spaces[:-1], spaces[1:], strict=True)] + [np.nan]
    return {"epoch": np.asarray(epochs), "final": np.asarray(final), "next": np.asarray(following)}
