"""dnc.probe.measure on three kinds of model, against dense autograd references and curvlinops."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dnc import metrics, probe
from dnc.probe import curvature, stats
from dnc.probe.measure import gap
from dnc.probe.reference import Scale
from dnc.ufm.collapse import scaling_constant

K = 3


def _data(n=14, d=6, seed=0, shift=2.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat_interleave(n)
    X = torch.randn(K * n, d, generator=g) + shift * F.one_hot(y, d).float()
    return X, y


def _mlp():
    """An nn.Sequential MLP with biases, a smooth and a piecewise-linear activation."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 7), nn.Tanh(), nn.Linear(7, 5, bias=False),
        nn.Linear(5, K),
    )  # fmt: skip


class ConvNet(nn.Module):
    """Conv layers, then a linear head with a functional ReLU and a skip around its last layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3))
        self.fc1 = nn.Linear(8, 6)
        self.fc2 = nn.Linear(6, 6)
        self.out = nn.Linear(6, K)

    def forward(self, x):
        h = self.conv(x.reshape(-1, 1, 6, 6)).flatten(1)
        h = F.relu(self.fc1(h))
        return self.out(h + F.softplus(self.fc2(h)))


class BiasHead(nn.Module):
    """Linear layers with biases only, in a ModuleList: the tail of every layer is affine."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.layers = nn.ModuleList([nn.Linear(6, 5), nn.Linear(5, 4), nn.Linear(4, K)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


MODELS = {
    "mlp": (_mlp, ["0", "2", "4", "5"]),
    "conv": (ConvNet, ["fc1", "fc2", "out"]),
    "bias": (BiasHead, ["layers.0", "layers.1", "layers.2"]),
}


def _inputs(kind):
    X, y = _data(n=14, d=36 if kind == "conv" else 6)
    return X, y


def _reference(model, name, X, y, loss):
    """Dense float64 references for layer ``name``: Hessian eigenvalues, gradient, AGOP, features."""
    net = model.double().eval()
    X = X.double()
    layer = dict(net.named_modules())[name]
    W0 = layer.weight.detach().clone()

    def term(out):
        if loss == "mse":
            return 0.5 * (out - F.one_hot(y, K).double()).square().sum() / len(y)
        return F.cross_entropy(out, y)

    def of_weight(w):
        return term(torch.func.functional_call(net, {f"{name}.weight": w}, (X,)))

    hess = torch.autograd.functional.hessian(of_weight, W0).reshape(W0.numel(), -1)
    grad = torch.autograd.functional.jacobian(of_weight, W0)
    seen = {}
    handle = layer.register_forward_hook(lambda _m, inp, _o: seen.update(h=inp[0]))
    with torch.no_grad():
        out = net(X)
    handle.remove()
    H = seen["h"]

    def with_input(h):  # the network with layer ``name``'s input replaced by h
        hook = layer.register_forward_pre_hook(lambda _m, _i: (h,))
        try:
            return net(X)
        finally:
            hook.remove()

    J = torch.autograd.functional.jacobian(with_input, H)  # N × K × N × d
    J = torch.einsum("nknd->nkd", J)  # rows of one sample depend on that sample alone
    agop = torch.einsum("nkd,nke->de", J, J) / len(y)
    eig = np.sort(np.linalg.eigvalsh(hess.numpy()))[::-1]
    return eig, grad.numpy(), agop.numpy(), H.numpy(), out.numpy(), hess.numpy(), J.mean(0).numpy()


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_every_quantity_equals_a_dense_autograd_reference(kind, loss):
    make, layers = MODELS[kind]
    X, y = _inputs(kind)
    report = probe.measure(make(), (X, y), layers, loss=loss, batch_size=10)
    for name in layers:
        eig, grad, agop, H, out, hess, mean_jacobian = _reference(make(), name, X, y, loss)
        got = report.layers[name]
        top = got["hessian_top"]
        np.testing.assert_allclose(top, eig[: top.size], rtol=0, atol=1e-10 * eig[0])
        G = grad.reshape(grad.shape[-2:]) if grad.ndim > 2 else grad
        np.testing.assert_allclose(got["agop"], agop, rtol=1e-10, atol=1e-12 * np.abs(agop).max())
        Hd, lab = H.T, y.numpy()
        assert got["nc1"] == pytest.approx(metrics.nc1(Hd, lab, "frobenius"), rel=1e-10)
        assert got["nc1_ratio"] == pytest.approx(metrics.nc1(Hd, lab, "trace_ratio"), rel=1e-10)
        assert got["nc2"] == pytest.approx(metrics.nc2(Hd, lab, "orthogonal"), rel=1e-10)
        assert got["nc2_etf"] == pytest.approx(metrics.nc2(Hd, lab, "etf"), rel=1e-10)
        means = metrics.class_means(Hd, lab)
        nearest = np.argmin(((H[:, :, None] - means[None]) ** 2).sum(1), axis=1)
        assert got["nc4"] == np.mean(nearest != out.argmax(1))
        lower = metrics.class_means(Hd, lab)
        assert got["nc3"] == pytest.approx(scaling_constant(mean_jacobian, lower)[1], rel=1e-10)
        if loss == "mse":  # f_cc' of μ_c^(l+1) ⊗ μ_c'^(l) against the dense Hessian
            W = dict(make().double().named_modules())[name]
            upper = metrics.class_means(W(torch.as_tensor(H)).detach().numpy().T, lab)
            for c in range(K):
                for e in range(K):
                    v = np.outer(upper[:, c], lower[:, e]).ravel()
                    hv = hess @ v
                    want = (v @ hv) ** 2 / ((v @ v) * (hv @ hv))
                    assert got["alignments"][c, e] == pytest.approx(want, rel=1e-9)
        _check_gradient(make, name, X, y, loss, G, report)
    assert report.N == len(y) and report.K == K


def _check_gradient(make, name, X, y, loss, G, report):
    """The gradient shares equal those of the dense gradient, in the basis of the class means."""
    from dnc.spectra.gradients import natural_basis_shares

    net = make().double().eval()
    layer = dict(net.named_modules())[name]
    seen = {}
    handle = layer.register_forward_hook(lambda _m, inp, out: seen.update(h=inp[0], z=out))
    with torch.no_grad():
        net(X.double())
    handle.remove()
    lab = y.numpy()
    upper = metrics.class_means(seen["z"].numpy().T, lab)
    lower = metrics.class_means(seen["h"].numpy().T, lab)
    want = natural_basis_shares(G, upper, lower)
    np.testing.assert_allclose(
        report.layers[name]["grad_coefficients"], want, rtol=1e-9, atol=1e-14
    )


def test_the_routes_are_the_ones_each_tail_allows():
    X, y = _inputs("conv")
    routes = {n: e["hess_route"] for n, e in probe.measure(ConvNet(), (X, y), ["fc1", "out"]).layers.items()}  # fmt: skip
    assert routes == {"fc1": "autograd through the network", "out": "Kronecker closed form"}
    X, y = _inputs("mlp")
    report = probe.measure(_mlp(), (X, y), ["0", "5"], loss="ce")
    assert report.layers["0"]["hess_route"] == "autograd through the tail"
    assert report.layers["5"]["hess_route"] == "CE closed form"
    assert report.layers["0"]["nfa_depth_power"] == pytest.approx(1 / 4)


def test_hessians_equal_curvlinops_on_the_same_model():
    from curvlinops import HessianLinearOperator

    X, y = _inputs("mlp")
    model = _mlp().double()
    report = probe.measure(model, (X, y), ["0", "5"], batch_size=10)
    for name in ("0", "5"):
        params = [dict(model.named_modules())[name].weight]
        scaled = nn.Sequential(model, Scale(1 / np.sqrt(2 * len(y))))
        Y = F.one_hot(y, K).double() / np.sqrt(2 * len(y))
        op = HessianLinearOperator(scaled, nn.MSELoss(reduction="sum"), params, [(X.double(), Y)])
        D = params[0].numel()
        dense = (op @ torch.eye(D, dtype=torch.float64)).numpy()
        eig = np.sort(np.linalg.eigvalsh((dense + dense.T) / 2))[::-1]
        top = report.layers[name]["hessian_top"]
        np.testing.assert_allclose(top, eig[: top.size], rtol=0, atol=1e-10 * eig[0])


def test_lanczos_route_on_a_layer_too_large_to_build(monkeypatch):
    monkeypatch.setattr(curvature, "DENSE_MAX", 10)
    X, y = _inputs("mlp")
    lanczos = probe.measure(_mlp(), (X, y), ["2"], top=6).layers["2"]
    monkeypatch.setattr(curvature, "DENSE_MAX", 10_000)
    dense = probe.measure(_mlp(), (X, y), ["2"], top=6).layers["2"]
    np.testing.assert_allclose(lanczos["hessian_top"], dense["hessian_top"], rtol=1e-8)
    assert lanczos["hess_residual"] < 1e-8 and lanczos["hess_products"] > 6


@pytest.mark.parametrize("batch", [1, 5, 13, 100])
def test_streamed_statistics_equal_the_two_pass_ones(batch):
    X, y = _data(n=11, d=7, seed=3, shift=0.5)
    X, y = X.double(), y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    acc = stats.ClassStats(K, 7)
    for i in range(0, len(y), batch):
        acc.add(X[i : i + batch], y[i : i + batch])
    H, lab = X.numpy().T, y.numpy()
    np.testing.assert_allclose(acc.means(), metrics.class_means(H, lab), rtol=1e-12)
    np.testing.assert_allclose(acc.sigma_w(), metrics.within_class_covariance(H, lab), atol=1e-13)
    np.testing.assert_allclose(acc.sigma_b(), metrics.between_class_covariance(H, lab), atol=1e-13)
    np.testing.assert_allclose(acc.second_moment(), H @ H.T / H.shape[1], rtol=1e-12)
    got = acc.collapse()
    assert got["nc1_trace"] == pytest.approx(metrics.nc1(H, lab), rel=1e-10)
    assert got["nc1_authors"] == pytest.approx(metrics.nc1_authors(H, lab), rel=1e-10)
    assert got["nc2_authors"] == pytest.approx(metrics.nc2_authors(H, lab), rel=1e-10)


def test_the_data_forms_agree_and_held_out_data_is_measured():
    X, y = _inputs("bias")
    forms = [
        (X, y),
        (X.numpy(), y.numpy()),
        TensorDataset(X, y),
        DataLoader(TensorDataset(X, y), batch_size=7),
    ]
    tables = [probe.measure(BiasHead(), f, ["layers.1"]).table(["nc1", "hess_gap", "nfa"]) for f in forms]  # fmt: skip
    for t in tables[1:]:
        for k, v in t.items():
            np.testing.assert_allclose(v, tables[0][k], rtol=1e-10)
    Xh, yh = _data(n=5, seed=9)
    report = probe.measure(BiasHead(), (X, y), "layers.1", heldout=(Xh, yh))
    entry = report.layers["layers.1"]
    ref = probe.collapse(BiasHead(), (Xh, yh), ["layers.1"])["layers.1"]
    assert entry["heldout_nc1"] == pytest.approx(ref["nc1"], rel=1e-12)
    assert entry["heldout_nc4"] == ref["nc4"]
    assert 0 <= report.heldout_accuracy <= 1
    saved = report.to_dict()["layers.1"]
    assert isinstance(saved["hessian_top"], list) and isinstance(saved["nc1"], float)
    assert "| NC1" in report.markdown() and "held-out" in report._repr_markdown_()


def test_nc4_without_kept_features_runs_the_network_again(monkeypatch):
    import importlib

    probe_measure = importlib.import_module("dnc.probe.measure")  # the module, not the function
    X, y = _inputs("conv")
    kept = probe.collapse(ConvNet(), (X, y), ["fc1", "out"], batch_size=8)
    monkeypatch.setattr(probe_measure, "FEATURE_BUDGET", 100)
    again = probe.collapse(ConvNet(), (X, y), ["fc1", "out"], batch_size=8)
    assert kept == again


def test_the_model_is_left_as_it_was():
    model = _mlp()
    before = [p.detach().clone() for p in model.parameters()]
    X, y = _inputs("mlp")
    probe.measure(model, (X, y), ["2"])
    assert all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_collapsed_linear_head_shows_the_theorems_values():
    """A head trained as a deep linear UFM (float64, full batch) gives K² outliers and f ≈ 1."""
    from dnc.realnet import measure as realnet_measure
    from dnc.ufm import UFMConfig
    from dnc.ufm import train as train_ufm

    H1, Ws = train_ufm(
        UFMConfig(K=3, n=4, d=6, L=3, lambda_W=5e-3, lambda_H=5e-3), 20000, 0.5
    ).params()
    entry = realnet_measure.ufm_report(H1, Ws).layers["1"]
    assert entry["hess_count"] == 9 and entry["hess_overlap"] > 1 - 1e-6
    assert entry["alignment_min"] > 1 - 1e-6 and entry["nfa_depth"] > 1 - 1e-6
    assert gap(entry["hessian_top"], 9) > 1e6


CASES = [
    (lambda X, y: probe.measure(_mlp(), (X, y), ["7"]), ValueError, "no layer '7'"),
    (lambda X, y: probe.measure(_mlp(), (X, y), []), ValueError, "name at least one layer"),
    (lambda X, y: probe.measure(_mlp(), (X, y), ["0", "0"]), ValueError, "named once"),
    (lambda X, y: probe.measure(_mlp(), (X, y), ["1"]), TypeError, "'1' is a ReLU"),
    (lambda X, y: probe.measure(_mlp(), (X, y), ["0"], loss="hinge"), ValueError, "hinge"),
    (lambda X, y: probe.measure(_mlp(), (X, y + 1), ["0"]), ValueError, r"lie in 0..2 .* got \[3"),
    (lambda X, y: probe.measure(_mlp(), (X, 0 * y), ["0"]), ValueError, "a single class"),
    (lambda X, y: probe.measure(_mlp(), (X, y % 2), ["0"]), ValueError, r"classes \[2\] have no"),
    (lambda X, y: probe.measure(_mlp(), (X[:0], y[:0]), ["0"]), ValueError, "yields no samples"),
    (
        lambda X, y: probe.measure(_mlp(), DataLoader(TensorDataset(X[:0], y[:0])), ["0"]),
        ValueError,
        "yields no samples",
    ),  # fmt: skip
    (lambda X, y: probe.measure(_mlp(), (X, y[:-1]), ["0"]), ValueError, "same number of rows"),
    (lambda X, y: probe.measure(_mlp(), X, ["0"]), TypeError, "data must be a DataLoader"),
    (lambda X, y: probe.measure(_mlp(), ({1: 2}, y), ["0"]), TypeError, "X must be a tensor"),
    (lambda X, y: probe.measure(_mlp(), (X, y.double()), ["0"]), ValueError, "integers 0..K−1"),
    (
        lambda X, y: probe.measure(_mlp(), DataLoader(TensorDataset(X, y, y)), ["0"]),
        ValueError,
        "an \\(x, y\\) pair",
    ),  # fmt: skip
    (
        lambda X, y: probe.measure(_mlp(), DataLoader(TensorDataset(X, F.one_hot(y))), ["0"]),
        ValueError,
        "one entry per row",
    ),  # fmt: skip
    (lambda X, y: probe.measure(Twice(), (X, y), ["shared"]), ValueError, "ran 2 times"),
    (lambda X, y: probe.measure(Flat(), (X, y), ["fc"]), ValueError, r"\(batch, K\) tensor"),
    (lambda X, y: probe.measure(Seq(), (X, y), ["fc"]), ValueError, "a \\(batch, features\\)"),
]


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(6, 6)
        self.out = nn.Linear(6, K)

    def forward(self, x):
        return self.out(self.shared(self.shared(x)))


class Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, K)

    def forward(self, x):
        return self.fc(x).sum(1)


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, K)

    def forward(self, x):
        return self.fc(x.reshape(len(x), 2, 3)).mean(1)


@pytest.mark.parametrize(("call", "error", "match"), CASES)
def test_bad_input_gets_a_clear_error(call, error, match):
    X, y = _data()
    with pytest.raises(error, match=match):
        call(X, y)


def test_the_linear_layer_hessian_identity_holds_symbolically_and_is_not_vacuous():
    import sympy as sp

    from dnc import symbolic

    assert symbolic.linear_layer_hessian_gap(2, 3).is_zero_matrix
    assert symbolic.linear_layer_hessian_gap(3, 2).is_zero_matrix
    # the same Hessian against C ⊗ I (the input's outer product left out) is not zero
    W = symbolic.symbolic_matrix("w", 1, 2)
    h = symbolic.symbolic_matrix("h", 2, 1)
    z = (W * h)[0]
    hess = sp.hessian(z**3, list(W))
    assert not sp.expand(
        hess - sp.kronecker_product(sp.Matrix([[6 * z]]), sp.eye(2))
    ).is_zero_matrix
    assert sp.expand(hess - sp.kronecker_product(sp.Matrix([[6 * z]]), h * h.T)).is_zero_matrix


def test_a_report_survives_the_cache_format():
    X, y = _inputs("mlp")
    report = probe.measure(_mlp(), (X, y), ["2", "5"], heldout=(X, y))
    again = probe.Report.from_arrays(*report.to_arrays())
    import json

    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(
        report.to_dict(), sort_keys=True
    )
    assert again.heldout_accuracy == report.heldout_accuracy
    assert again.markdown() == report.markdown()


def test_the_chapter_mlp_splits_its_data_and_stops_when_training_diverges(tmp_path, monkeypatch):
    from dnc.experiments import probe_mlp

    monkeypatch.setenv("DNC_CACHE_DIR", str(tmp_path))
    s = probe_mlp.Setting(n_per_class=3, widths=(8, 4, 4), epochs=2, batch=10)
    (X, y), (Xh, yh) = probe_mlp.split(s)
    assert X.shape == (30, 784) and len(yh) == 5000 - 30
    assert np.all(np.bincount(y.numpy()) == 3) and float(X.max()) <= 1.0
    names = [n for n, m in probe_mlp.network(s).named_modules() if isinstance(m, nn.Linear)]
    assert tuple(names) == probe_mlp.LAYERS
    model, history = probe_mlp.train(s, 0, progress=False)
    assert history["loss"].shape == (2,) and np.all(np.isfinite(history["loss"]))
    with pytest.raises(FloatingPointError, match="training diverged"):
        probe_mlp.train(probe_mlp.Setting(n_per_class=3, widths=(8, 4, 4), epochs=3, lr=1e8), 0)


def test_the_curvlinops_check_says_what_to_install(monkeypatch):
    import sys

    from dnc.probe import reference

    monkeypatch.setitem(sys.modules, "curvlinops", None)  # import curvlinops now fails
    X, y = _inputs("mlp")
    with pytest.raises(ModuleNotFoundError, match="needs curvlinops: pip install"):
        reference.curvlinops_top(_mlp(), (X, y), "0", k=2)
