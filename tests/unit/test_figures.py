"""Every registered figure, drawn from a small result: the plotted arrays are the analysis
functions' output, one panel per requested epoch, and a missing epoch is an error."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dnc.figures.all  # noqa: E402, F401  (fills the registry)
from dnc import metrics, ufm  # noqa: E402
from dnc.agop import rfm
from dnc.experiments import paper_a as experiments
from dnc.figures import REGISTRY, paper_a, paper_a_relu, style  # noqa: E402
from dnc.spectra import full_hessian, gradients, hessian, matrices, predictions
from dnc.ufm import tracking, train  # noqa: E402

EPOCHS = (0, 10, 60)  # snapshots of the small runs; figures are asked for these


@pytest.fixture(scope="module")
def linear_run():
    config = ufm.UFMConfig(K=3, n=4, d=8, L=4, seed=0)
    return train(config, 60, 0.1, snapshots=(0, 3, 10, 25, 60))


@pytest.fixture(scope="module")
def relu_run():
    config = ufm.UFMConfig(K=3, n=4, d=8, L=5, activation="relu", seed=0)
    return train(config, 60, 0.3, snapshots=(0, 3, 10, 25, 60))


@pytest.fixture(scope="module")
def one_layer_run():
    config = ufm.UFMConfig(K=3, n=4, d=6, L=1, seed=0)
    return train(config, 60, 1.0, snapshots=(0, 10, 60))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def figures_fit_the_column(monkeypatch):
    """Every figure a test draws fits the book's column, its text readable there.

    The book shows a figure at most ~660 px wide: a PNG more than 1.5 × wider, or text under
    9 pt at the size shown, fails (:func:`dnc.figures.style.readability`).
    """
    made, blank = [], style.blank

    def recording(*args, **kwargs):
        fig = blank(*args, **kwargs)
        made.append(fig)
        return fig

    monkeypatch.setattr(style, "blank", recording)
    yield
    for fig in made:
        assert style.readability(fig) == [], fig.get_suptitle()


# --- reading a drawn figure back ---------------------------------------------------------------


def panels(fig, prefix):
    return [ax for ax in fig.axes if ax.get_label().startswith(prefix)]


def line(ax, gid):
    hits = [ln for ln in ax.lines if ln.get_gid() == gid]
    assert len(hits) == 1, f"expected one line with gid {gid!r}, found {len(hits)}"
    return hits[0]


def bars(container):
    """(left, right, height) of each bar of a bar container."""
    rects = list(container)
    left = np.array([r.get_x() for r in rects])
    return (
        left,
        left + np.array([r.get_width() for r in rects]),
        np.array([r.get_height() for r in rects]),
    )


def assert_spectrum_histogram(ax, eigenvalues, n_outliers, floor):
    vals = np.maximum(np.sort(eigenvalues)[::-1], floor)
    bulk_bars, outlier_bars = ax.containers
    for container, part in ((bulk_bars, vals[n_outliers:]), (outlier_bars, vals[:n_outliers])):
        left, right, height = bars(container)
        counts = [np.sum((part >= a) & (part < b)) for a, b in zip(left, right, strict=True)]
        assert np.array_equal(height, counts), (height, counts)
        assert height.sum() == part.size  # no value left out of the drawn bars


def spectrum_cases():
    """(figure, run fixture, spectrum of (H, Ws, result), expected outlier count)."""

    def hess(act, l):
        return lambda H, Ws, r: hessian.layer_hessian_spectrum(H, Ws, l, act)

    return {
        "hessian_outliers_over_training": ("linear_run", hess("linear", 3), lambda K: K * K),
        "relu_hessian_outliers_over_training": ("relu_run", hess("relu", 4), lambda K: K * K),
        "weight_gram_spectra_over_training": (
            "linear_run",
            lambda H, Ws, r: matrices.weight_gram_spectrum(Ws[2]),
            lambda K: K,
        ),
        "relu_weight_spectra_over_training": (
            "relu_run",
            lambda H, Ws, r: matrices.weight_gram_spectrum(Ws[3]),
            lambda K: K,
        ),
        "gradient_covariance_spectra_over_training": (
            "linear_run",
            lambda H, Ws, r: matrices.gradient_covariance_spectrum(H, Ws, 3),
            lambda K: K - 1,
        ),
        "backprop_error_spectra_over_training": (
            "linear_run",
            lambda H, Ws, r: matrices.backprop_second_moment_spectrum(H, Ws, 3),
            lambda K: K,
        ),
        "feature_gram_spectra_over_training": (
            "linear_run",
            lambda H, Ws, r: matrices.feature_gram_spectrum(H, Ws, 3),
            lambda K: K,
        ),
    }


SPECTRUM = spectrum_cases()


def check_spectrum_figure(fig, result, epochs, spectrum, n):
    assert [ax.get_label() for ax in panels(fig, "spectrum at epoch")] == [
        f"spectrum at epoch {e}" for e in epochs
    ]
    snaps = result.snapshot_epochs.tolist()
    spectra = {e: spectrum(*result.params(e), result) for e in snaps}
    floor = style.FLOOR_RTOL * max(s.max() for s in spectra.values())
    (traj,) = panels(fig, "trajectories")
    for i in range(n):
        drawn = line(traj, f"outlier {i + 1}")
        assert np.array_equal(drawn.get_xdata(), snaps)
        expected = [max(spectra[e][i], floor) for e in snaps]
        np.testing.assert_allclose(drawn.get_ydata(), expected, rtol=1e-12)
    assert not [ln for ln in traj.lines if ln.get_gid() == f"outlier {n + 1}"]
    edge = [max(spectra[e][n], floor) for e in snaps]
    np.testing.assert_allclose(line(traj, "bulk edge").get_ydata(), edge, rtol=1e-12)
    for ax, e in zip(panels(fig, "spectrum at epoch"), epochs, strict=True):
        assert_spectrum_histogram(ax, spectra[e], n, floor)


@pytest.mark.parametrize("name", sorted(SPECTRUM))
def test_spectrum_figures_plot_the_spectra(name, request):
    fixture, spectrum, count = SPECTRUM[name]
    result = request.getfixturevalue(fixture)
    fn = REGISTRY[name].function
    n = count(result.config.K)
    for epochs in ((0, 10, 60), (60, 3)):  # one panel per epoch, in the order asked
        fig = fn(result=result, epochs=epochs)
        check_spectrum_figure(fig, result, epochs, spectrum, n)
    with pytest.raises(ValueError, match=r"\[7\]"):
        fn(result=result, epochs=(0, 7))


def test_outlier_count_is_a_parameter(linear_run):
    fig = paper_a.hessian_outliers_over_training(result=linear_run, epochs=(60,), n_outliers=4)
    (ax,) = panels(fig, "spectrum at epoch")
    assert sum(bars(ax.containers[1])[2]) == 4
    with pytest.raises(ValueError, match="outlier count"):
        paper_a.hessian_outliers_over_training(result=linear_run, epochs=(60,), n_outliers=0)


def test_converged_outliers_and_bulk_are_separate_marks():
    """K² equal outliers over a bulk of zeros: one red bar of height K² and one grey bar of the
    rest at the floor, far apart on the log axis (what a linear axis hid)."""
    K, D = 3, 64
    fig, ax = style.new()
    vals = np.concatenate([np.full(K * K, 0.2), np.zeros(D - K * K)])
    style.spectrum_panel(ax[0, 0], vals, K * K, "converged")
    (bl, br, bh), (ol, orr, oh) = (bars(c) for c in ax[0, 0].containers)
    assert list(bh) == [D - K * K] and list(oh) == [K * K]
    assert ol[0] / br[0] > 1e6  # the outlier bar lies decades above the bulk's


# --- knockouts ---------------------------------------------------------------------------------

KNOCKOUTS = {
    "hessian_knockouts_early": ("linear_run", "linear", 3, False),
    "hessian_knockouts_late": ("linear_run", "linear", 3, True),
    "relu_hessian_knockouts": ("relu_run", "relu", 4, False),
}


@pytest.mark.parametrize("name", sorted(KNOCKOUTS))
def test_knockout_panels_colour_each_panels_expected_count(name, request):
    fixture, act, l, top_only = KNOCKOUTS[name]
    result = request.getfixturevalue(fixture)
    K = result.config.K
    fig = REGISTRY[name].function(result=result, epoch=25)
    spectra = hessian.knockout_spectra(*result.params(25), l, act)
    counts = {"Hess": K * K, "minus class": K * (K - 1), "minus cross": K, "minus within": K * K}
    assert paper_a.knockout_outlier_counts(K) == counts
    floor = style.FLOOR_RTOL * max(v.max() for v in spectra.values())
    drawn = panels(fig, "knockout")
    assert [ax.get_label() for ax in drawn] == [f"knockout {k}" for k in spectra]
    for ax, (key, vals) in zip(drawn, spectra.items(), strict=True):
        if top_only:
            (container,) = ax.containers
            heights = bars(container)[2]
            np.testing.assert_allclose(heights, np.maximum(vals[: K * K + 3], floor), rtol=1e-12)
            red = [
                matplotlib.colors.same_color(r.get_facecolor(), style.OUTLIER) for r in container
            ]
            assert red == [i < counts[key] for i in range(K * K + 3)]
        else:
            assert_spectrum_histogram(ax, vals, counts[key], floor)
    with pytest.raises(ValueError, match=r"\[7\]"):
        REGISTRY[name].function(result=result, epoch=7)


# --- the other figures of paper A and of the book ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "measure", "symbol_lines"),
    [
        ("predicted_eigenvector_alignment", predictions.predicted_alignments, 9),
        ("gradient_natural_basis_coefficients", gradients.natural_basis_coefficients, 9),
    ],
)
def test_pairwise_figures_plot_every_pair(name, measure, symbol_lines, linear_run):
    epochs = (0, 3, 10)
    fig = REGISTRY[name].function(result=linear_run, epochs=epochs)
    _, f = tracking.over_snapshots(linear_run, lambda H, Ws: measure(H, Ws, 3), epochs)
    (ax,) = fig.axes
    curves = [ln for ln in ax.lines if ln.get_label().startswith("$")]
    assert len(curves) == symbol_lines
    K = f.shape[1]
    for i, ln in enumerate(curves):
        assert np.array_equal(ln.get_xdata(), epochs)
        np.testing.assert_allclose(ln.get_ydata(), f[:, i // K, i % K], rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[7\]"):
        REGISTRY[name].function(result=linear_run, epochs=(0, 7))


def test_top_fraction_plots_both_parts(linear_run):
    epochs = (3, 10, 60)
    fig = REGISTRY["gradient_top_fraction_over_training"].function(result=linear_run, epochs=epochs)
    (ax,) = fig.axes
    lam = linear_run.config.lambda_W_list[2]
    for ln, part in zip(ax.lines, (0.0, lam), strict=True):
        _, f = tracking.over_snapshots(
            linear_run, lambda H, Ws, p=part: gradients.top_fraction(H, Ws, 3, p), epochs
        )
        np.testing.assert_allclose(ln.get_ydata(), f, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[7\]"):
        REGISTRY["gradient_top_fraction_over_training"].function(result=linear_run, epochs=(7,))


def test_loss_against_optimum(linear_run):
    (ax,) = REGISTRY["loss_against_optimum"].function(result=linear_run).axes
    c = linear_run.config
    best = ufm.optimal_loss(c.K, c.n, c.lambda_W_list, c.lambda_H)
    gap = tracking.relative_gap(linear_run.loss[:, 0], best)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.maximum(gap, 1e-17), rtol=1e-12)


def test_regularisation_threshold_sweep_plots_the_sweep():
    s = experiments.sweep_setting("quick")
    ratio = np.array([0.1, 0.9, 3.0])
    lam = [experiments.lambda_for_ratio(s["K"], s["n"], s["L"], r) for r in ratio]
    rng = np.random.default_rng(0)
    sweep = {"ratio": ratio, "s_learned": rng.uniform(0, 1, (ratio.size, s["K"])), "lam": lam}
    fig = REGISTRY["regularisation_threshold_sweep"].function(sweep=sweep, profile="quick")
    (ax,) = fig.axes
    points = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert len(points) == s["K"]
    for k, ln in enumerate(points):
        np.testing.assert_allclose(ln.get_ydata(), sweep["s_learned"][:, k])
    optimum = ax.lines[0]
    x = optimum.get_xdata()
    expected = [
        ufm.linear_optimum(
            s["K"], s["n"], [experiments.lambda_for_ratio(s["K"], s["n"], s["L"], r)] * s["L"],
            experiments.lambda_for_ratio(s["K"], s["n"], s["L"], r),
        ).product_sv
        for r in x[::40]
    ]  # fmt: skip
    np.testing.assert_allclose(optimum.get_ydata()[::40], expected, rtol=1e-12)


def test_relu_outlier_convergence_plots_the_tracks(relu_run):
    tracks = paper_a_relu.convergence_tracks(relu_run, 4)
    fig = REGISTRY["relu_outlier_convergence"].function(result=relu_run)
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), tracks["hessian_spread"] - 1)
    np.testing.assert_allclose(left.lines[1].get_ydata(), tracks["weight_spread"] - 1)
    np.testing.assert_allclose(right.lines[0].get_ydata(), np.maximum(tracks["nc1"], 1e-300))
    assert np.array_equal(left.lines[0].get_xdata(), tracks["epochs"])


def test_collapse_figures(one_layer_run):
    labels = ufm.labels(one_layer_run.config.K, one_layer_run.config.n)
    (ax,) = REGISTRY["nc1_over_training"].function(result=one_layer_run).axes
    for ln, kind in zip(ax.lines, metrics.NC1_KINDS, strict=True):
        _, v = tracking.over_snapshots(
            one_layer_run, lambda H, Ws, k=kind: metrics.nc1(H, labels, k)
        )
        np.testing.assert_allclose(ln.get_ydata(), v, rtol=1e-12)
    fig = REGISTRY["class_mean_gram"].function(result=one_layer_run)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 4
    for i, (epoch, frame) in enumerate(
        [(0, "orthogonal"), (0, "etf"), (60, "orthogonal"), (60, "etf")]
    ):
        H, _ = one_layer_run.params(epoch)
        expected = metrics.class_mean_cosines(H, labels, frame)
        np.testing.assert_allclose(images[i].get_array(), expected, rtol=1e-12)


# --- paper B: the figure draws the result it is given ------------------------------------------


def test_paper_b_figures_plot_their_results():
    rng = np.random.default_rng(1)
    gmean = lambda v: np.exp(np.log(v).mean(0))  # noqa: E731  (the bands' centre on log axes)
    runs = [
        {
            "history_epoch": np.arange(0, 50, 10),
            "history_decomposition": rng.uniform(0.01, 1, (5, 4, 3)),  # records × depth × parts
            "history_nfa": rng.uniform(0, 1, (5, 3)),
            "history_nfa_sqrt": rng.uniform(0, 1, (5, 3)),
            "history_nc2_decomposition_authors": rng.uniform(0.01, 1, (5, 4, 3)),
            "history_trace_fractions": rng.uniform(0.01, 1, (5, 5, 2)),
            "history_trace_fractions_authors": rng.uniform(0.01, 10, (5, 5, 2)),
            "history_epoch_loss": rng.uniform(0.01, 1, 40),
        }
        for _ in range(2)
    ]
    for name, key in (
        ("mlp_layer_nc1_decomposition", "history_decomposition"),
        ("mlp_layer_nc2_decomposition", "history_nc2_decomposition_authors"),
    ):
        fig = REGISTRY[name].function(result=runs, **({"K": 10} if "nc1" in name else {}))
        panels = [ax for ax in fig.axes if ax.axison]
        assert len(panels) == 4  # one panel per layer, the spare cells hold the legend
        dec = np.stack([r[key] for r in runs])
        for l, ax in enumerate(panels):
            assert len(ax.lines) == 3
            for j, ln in enumerate(ax.lines):
                np.testing.assert_array_equal(ln.get_xdata(), runs[0]["history_epoch"])
                np.testing.assert_allclose(ln.get_ydata(), gmean(dec[:, :, l, j]))
    fig = REGISTRY["mlp_layer_nc1_decomposition"].function(result=runs, K=10)
    panels = [ax for ax in fig.axes if ax.axison]
    assert "ours" in panels[0].get_ylabel()
    (authors,) = panels[2].child_axes  # each row's right axis reads the authors' code's ÷ K
    assert "authors" in authors.get_ylabel()
    np.testing.assert_allclose(authors._functions[0](np.array([10.0, 0.5])), [1.0, 0.05])

    ratios = (1.0, 4.0)
    sweep = rng.uniform(0.01, 1, (2, 6))
    real = [{"nc1_in": np.exp(-0.5 * np.arange(8)) * (1 + 0.01 * rng.standard_normal(8))}]
    fig = REGISTRY["nc1_decay_against_depth"].function(sweep=sweep, ratios=ratios, real=real)
    left, right = fig.axes[:2]
    for ln, curve in zip(left.lines, sweep, strict=True):
        np.testing.assert_array_equal(ln.get_ydata(), curve)
    np.testing.assert_array_equal(right.lines[0].get_ydata(), real[0]["nc1_in"])
    fitted = right.lines[1].get_ydata()  # the exponential fitted from layer 2 on: factor e^{-0.5}
    np.testing.assert_allclose(fitted[1:] / fitted[:-1], np.exp(-0.5), rtol=0.02)

    fig = REGISTRY["mlp_variance_and_loss"].function(result=runs)
    left, right = fig.axes[:2]
    fractions = np.stack([r["history_trace_fractions_authors"] for r in runs])[:, :, -1, :]
    np.testing.assert_allclose(left.lines[0].get_ydata(), gmean(fractions[:, :, 0]))
    loss = np.stack([r["history_epoch_loss"] for r in runs])
    np.testing.assert_allclose(right.lines[0].get_ydata(), gmean(loss))
    np.testing.assert_array_equal(right.lines[0].get_xdata(), np.arange(1, 41))

    grams = rng.uniform(-1, 1, (3, 6, 6))
    fig = REGISTRY["deep_rfm_feature_grams"].function(
        result={"grams": grams, "gram_layers": np.array([0, 2, 5])}
    )
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    for im, G in zip(images, grams, strict=True):
        np.testing.assert_array_equal(im.get_array(), G)

    metrics_b = ("nc1", "nc2", "nc2_authors")
    keys = [f"{m}_{stage}" for m in metrics_b for stage in ("in", "agop")]
    nc_runs = [{k: rng.uniform(0.01, 1, 5) for k in keys} for _ in range(3)]
    fig = REGISTRY["deep_rfm_nc_per_layer"].function(result=nc_runs, K=10)
    assert "authors" in fig.axes[0].child_axes[0].get_ylabel()  # NC1 ÷ K on the right
    assert "authors" in fig.axes[2].get_ylabel() and "ours" in fig.axes[1].get_ylabel()
    for ax, metric in zip(fig.axes[:3], metrics_b, strict=True):
        markers = [ln for ln in ax.lines if ln.get_marker() in ("o", "s")]
        before = np.stack([r[f"{metric}_in"] for r in nc_runs])
        after = np.stack([r[f"{metric}_agop"] for r in nc_runs])
        np.testing.assert_allclose(markers[0].get_ydata(), gmean(before))
        np.testing.assert_allclose(markers[1].get_ydata(), gmean(after))

    fig = REGISTRY["random_feature_distance_ratio"].function(points=50)
    left = fig.axes[0].lines[0]
    np.testing.assert_allclose(left.get_ydata(), rfm.relu_feature_distance(left.get_xdata()))

    fig = REGISTRY["nfa_over_training"].function(result=runs)
    for ax, key in zip(fig.axes, ("history_nfa", "history_nfa_sqrt"), strict=True):
        assert len(ax.lines) == 3
        values = np.stack([r[key] for r in runs])
        for l, ln in enumerate(ax.lines):
            np.testing.assert_allclose(ln.get_ydata(), values[:, :, l].mean(0))
        band = ax.collections[0].get_paths()[0].vertices[:, 1]  # layer 1: mean ± s.d., ddof 1
        top = values[:, :, 0].mean(0) + values[:, :, 0].std(0, ddof=1)
        np.testing.assert_allclose(band.max(), top.max())


TESTED = (
    set(SPECTRUM)
    | set(KNOCKOUTS)
    | {
        "predicted_eigenvector_alignment",
        "gradient_natural_basis_coefficients",
        "gradient_top_fraction_over_training",
        "loss_against_optimum",
        "regularisation_threshold_sweep",
        "relu_outlier_convergence",
        "nc1_over_training",
        "class_mean_gram",
        "mlp_layer_nc1_decomposition",
        "mlp_layer_nc2_decomposition",
        "mlp_variance_and_loss",
        "nc1_decay_against_depth",
        "deep_rfm_feature_grams",
        "deep_rfm_nc_per_layer",
        "random_feature_distance_ratio",
        "nfa_over_training",
        "mse_ce_spectra_over_training",
        "full_hessian_gap_against_depth",
        "full_hessian_inheritance_against_depth",
        "realnet_hessian_outliers",
        "realnet_alignment_beside_ufm",
        "realnet_gradient_coefficients",
        "realnet_knockouts",
        "realnet_full_hessian_top",
        "linear_phase_diagram",
        "relu_phase_diagram",
        "effective_rank_over_training",
        "probe_summary",
    }
)


def test_probe_summary_draws_what_the_reports_hold():
    import torch
    from torch import nn

    from dnc import probe
    from dnc.figures import probe as probe_figures

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    y = np.repeat(np.arange(3), 10)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    reports = [probe.measure(model, (X, y), ["0", "2"], heldout=(X, y)) for _ in range(2)]
    fig = probe_figures.probe_summary(result=reports)
    ax_nc, ax_hess, ax_align = fig.axes
    assert ax_nc.get_yscale() == "log" and ax_hess.get_yscale() == "log"
    np.testing.assert_allclose(ax_nc.lines[0].get_ydata(), reports[0].table()["nc1_ratio"])
    top = reports[0].layers["2"]["hessian_top"]
    np.testing.assert_allclose(ax_hess.lines[1].get_ydata(), np.maximum(top / top[0], 1e-12))
    np.testing.assert_allclose(ax_align.lines[0].get_ydata(), reports[0].table()["hess_overlap"])
    assert probe_figures.probe_summary(result=reports[0]).axes[0].lines[0].get_ydata().size == 2


def test_mse_ce_spectra_plot_both_losses_at_every_epoch(linear_run):
    from dnc.figures import paper_a_later

    config = ufm.UFMConfig(K=3, n=4, d=8, L=4, loss="ce", lambda_W=1e-3, lambda_H=1e-3, seed=0)
    ce_run = train(config, 60, 0.5, snapshots=(0, 3, 10, 25, 60))
    fig = paper_a_later.mse_ce_spectra_over_training(
        mse=linear_run, ce=ce_run, epochs=(0, 10, 60), layer=2
    )
    for loss, run in (("mse", linear_run), ("ce", ce_run)):
        for epoch in (0, 10, 60):
            want = hessian.layer_hessian_spectrum(*run.params(epoch), 2, loss=loss)[:18]
            got = [
                ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == f"{loss} epoch {epoch}"
            ]
            assert len(got) == 1
            np.testing.assert_allclose(got[0].get_ydata(), np.maximum(want, 1e-16 * want[0]))
    with pytest.raises(ValueError, match=r"\[7\]"):
        paper_a_later.mse_ce_spectra_over_training(mse=linear_run, ce=ce_run, epochs=(0, 7))


def test_full_hessian_gap_plots_gap_and_bound_per_schedule():
    from dnc.figures import paper_a_later

    L = np.array([2, 3, 4, 6, 10] * 4)
    Lbar = np.repeat([1, 2, 1, 2], 5)
    schedule = np.repeat(["fixed", "fixed", "decaying", "decaying"], 5)
    gap = Lbar / L * (1 + 0.01 * np.arange(20))
    sweep = {"L": L, "Lbar": Lbar, "schedule": schedule, "gap": gap, "bound": 3 * gap}
    fig = paper_a_later.full_hessian_gap_against_depth(sweep=sweep)
    for sched in ("fixed", "decaying"):
        for lb in (1, 2):
            pick = (schedule == sched) & (Lbar == lb)
            lines = {ln.get_gid(): ln for ax in fig.axes for ln in ax.lines if ln.get_gid()}
            np.testing.assert_array_equal(lines[f"gap {sched} {lb}"].get_ydata(), gap[pick])
            np.testing.assert_array_equal(lines[f"bound {sched} {lb}"].get_ydata(), 3 * gap[pick])


def test_realnet_figures_plot_the_measurements(linear_run):
    from dnc.figures import realnet
    from dnc.realnet import measure

    params = [linear_run.params(60), linear_run.params(25)]
    result = {"params": params, "ufm_params": [linear_run.params(60)]}
    result["reports"] = {
        "mse": [measure.ufm_report(h, ws) for h, ws in params],
        "ufm": [measure.ufm_report(*linear_run.params(60))],
    }
    H1, Ws = params[0]
    L, K = len(Ws), Ws[-1].shape[0]

    fig = realnet.realnet_hessian_outliers(result=result)
    assert len(fig.axes) == L  # one panel per linear layer
    spectra = [hessian.layer_hessian_spectrum(H1, Ws, l) for l in range(1, L + 1)]
    floor = style.spectrum_floor(spectra)
    for ax, spec in zip(fig.axes, spectra, strict=True):
        assert_spectrum_histogram(ax, spec, K * K, floor)

    (ax,) = realnet.realnet_alignment_beside_ufm(result=result).axes
    dots = [ln for ln in ax.lines if ln.get_marker() == "."]
    assert len(dots) == len(params) * L
    for b, (h, ws) in enumerate(params):
        for l in range(1, L + 1):
            want = np.maximum(1 - predictions.predicted_alignments(h, ws, l).ravel(), 1e-16)
            np.testing.assert_allclose(dots[b * L + l - 1].get_ydata(), want)
    assert ax.get_yscale() == "log"

    fig = realnet.realnet_gradient_coefficients(result=result, layer=2)
    images = [a.images[0] for a in fig.axes if a.images]
    for im, (h, ws) in zip(images, (params[0], result["ufm_params"][0]), strict=True):
        np.testing.assert_allclose(im.get_array(), gradients.natural_basis_coefficients(h, ws, 2))

    fig = realnet.realnet_knockouts(result=result, layer=2)
    spectra = hessian.knockout_spectra(H1, Ws, 2)
    assert len(fig.axes) == len(spectra)
    for ax, vals in zip(fig.axes, spectra.values(), strict=True):
        top = vals[: K * K + 2 * K]
        np.testing.assert_allclose(ax.lines[0].get_ydata(), np.maximum(top, 1e-16 * vals[0]))

    whole = {"values": np.geomspace(50.0, 5.0, 6), "head_share": np.linspace(0.01, 0.06, 6)}
    left, right = realnet.realnet_full_hessian_top(result=result, whole=whole).axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), whole["values"])
    np.testing.assert_allclose(
        left.lines[1].get_ydata(), full_hessian.full_hessian_top_eigenvalues(H1, Ws, 6)
    )
    for l in range(1, L + 1):
        np.testing.assert_allclose(
            left.lines[1 + l].get_ydata(), hessian.layer_hessian_spectrum(H1, Ws, l)[:6]
        )
    np.testing.assert_allclose(right.lines[0].get_ydata(), whole["head_share"])
    assert left.get_yscale() == right.get_yscale() == "log"


@pytest.mark.parametrize("name", ["linear_phase_diagram", "relu_phase_diagram"])
def test_phase_diagrams_mark_every_run_by_its_outcome(name):
    from dnc.experiments import paper_a as experiments

    s = experiments.phase_setting("quick")
    ratios = np.asarray(s["ratios"], dtype=float)[:4]
    widths = np.array([2, 3, 6])
    names = ["collapsed optimum", "zero solution", "rank-deficient stationary point"]
    outcome = np.array([[names[(i + j) % 3] for j in range(4)] for i in range(3)], dtype=object)
    predicted = outcome.copy()
    predicted[0, 0] = "zero solution"  # one run that is not where the closed form says
    classes = {"ratio": ratios, "width": widths, "outcome": outcome, "predicted": predicted}
    (ax,) = REGISTRY[name].function(classes=classes).axes
    runs = [ln for ln in ax.lines if ln.get_marker() in ("o", "x", "^")]
    assert len(runs) == outcome.size  # one mark per run
    for ln in runs:
        (x,), (y,) = ln.get_xdata(), ln.get_ydata()
        j, i = int(np.argmin(abs(ratios - x))), int(y)
        marker = {"collapsed optimum": "o", "zero solution": "x"}.get(outcome[i, j], "^")
        assert ln.get_marker() == marker
    misses = [ln for ln in ax.lines if ln.get_marker() == "s"]  # a frame around each miss
    assert len(misses) == 1 and misses[0].get_xdata()[0] == ratios[0]
    assert misses[0].get_markersize() >= 10  # large enough to see around the run's own mark


def test_effective_rank_plots_both_tracks():
    from dnc.figures import paper_a_evidence

    rng = np.random.default_rng(0)
    tracks = {
        name: {
            "epochs": np.arange(1, 6),
            "weights": rng.uniform(3, 9, 5),
            "hessian": rng.uniform(9, 40, 5),
        }
        for name in ("linear", "relu")
    }
    fig = paper_a_evidence.effective_rank_over_training(
        linear=tracks["linear"], relu=tracks["relu"], profile="quick"
    )
    for ax, tr in zip(fig.axes, tracks.values(), strict=True):
        np.testing.assert_array_equal(ax.lines[0].get_ydata(), tr["weights"])
        np.testing.assert_array_equal(ax.lines[1].get_ydata(), tr["hessian"])


def test_every_registered_figure_is_tested_here():
    assert TESTED == set(REGISTRY), sorted(set(REGISTRY) ^ TESTED)


def test_figures_are_not_held_by_pyplot(linear_run):
    """A figure function returns its figure without registering it with pyplot, so a notebook
    shows it once (where the chapter glues or displays it), not a second time at the cell's end."""
    before = plt.get_fignums()
    paper_a.hessian_knockouts_late(result=linear_run, epoch=60)
    assert plt.get_fignums() == before


def test_full_hessian_inheritance_plots_each_measure_per_schedule():
    from dnc.figures import paper_a_later

    T = np.tile(np.arange(3, 8), 2)
    schedule = np.repeat(["fixed", "decaying"], 5)
    whole = np.outer(1 + 0.1 * np.arange(10), np.linspace(1.0, 0.9, 9))
    inheritance = {
        "T": T,
        "schedule": schedule,
        "deviation": 0.01 * (1 + np.arange(10)),
        "overlap": 1 - 1e-6 * np.arange(10),
        "whole": whole,
        "next": 1e-3 * whole[:, -1],
    }
    fig = paper_a_later.full_hessian_inheritance_against_depth(inheritance=inheritance)
    lines = {ln.get_gid(): ln for ax in fig.axes for ln in ax.lines if ln.get_gid()}
    for sched in ("fixed", "decaying"):
        pick = schedule == sched
        np.testing.assert_array_equal(lines[f"deviation {sched}"].get_xdata(), T[pick])
        np.testing.assert_array_equal(
            lines[f"deviation {sched}"].get_ydata(), inheritance["deviation"][pick]
        )
        np.testing.assert_allclose(
            lines[f"outside {sched}"].get_ydata(),
            np.maximum(1e-6 * np.arange(10)[pick], 1e-16),
        )
        np.testing.assert_allclose(lines[f"separation {sched}"].get_ydata(), 1e-3)


# --- the book's column -------------------------------------------------------------------------


def test_readability_flags_wide_figures_and_small_text():
    fig = plt.figure(figsize=(12, 3))  # a plain figure: nothing raises its text
    ax = fig.add_subplot()
    ax.set_title("tiny", fontsize=6)
    problems = style.readability(fig)
    assert any("shown at 660 px" in p for p in problems)
    assert any("'tiny'" in p for p in problems)
    fig = plt.figure(figsize=(5, 3))
    fig.add_subplot().set_title("small", fontsize=8)
    assert [p for p in style.readability(fig) if "'small'" in p]
    plt.close("all")


def test_book_figures_fit_the_column_and_raise_small_text():
    fig, axes = style.new(ncols=4, width=3.0)  # asked 12 inches: narrowed to the column
    assert fig.get_figwidth() == style.COLUMN_WIDTH
    axes[0, 0].legend(handles=[matplotlib.lines.Line2D([], [], label="x")], fontsize=6)
    assert style.readability(fig) == []  # drawing raised the legend's 6 pt to 9 pt
    assert axes[0, 0].get_legend().get_texts()[0].get_fontsize() == style.MIN_FONT


@pytest.mark.parametrize(("n", "shape"), [(1, (1, 1)), (3, (1, 3)), (4, (2, 2)), (5, (2, 3))])
def test_panel_grid_fills_rows_and_offers_the_spare_cell(n, shape):
    assert style.grid_shape(n) == shape
    fig = style.blank(style.COLUMN_WIDTH, 4)
    axes, spare = style.panel_grid(fig, n)
    assert len(axes) == n
    assert (spare is None) == (shape[0] * shape[1] == n)
