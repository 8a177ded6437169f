"""Every error the library raises (outside the modules whose owners test them) is reached by a test.

``test_every_raise_is_matched_by_a_test`` reads each ``raise`` of ``lib/dnc`` and looks for a
``pytest.raises(..., match=...)`` pattern in ``tests/unit`` (given directly, or through
``pytest.mark.parametrize``) that names a piece of its message, so a new error without a test
fails here. The cases below reach the ones no other test file reaches.
"""

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from dnc import _checks, metrics, profile, symbolic, ufm
from dnc.spectra import gradients, hessian, matrices

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib" / "dnc"
# Modules whose owners write their own tests (figures/ included).
OWNED = {
    "agop/core.py",
    "agop/rfm.py",
    "agop/theory.py",
    "data.py",
    "agop/mlp.py",
    "experiments/paper_b.py",
}
# The subpackages read here (figures/ and realnet/ are tested by their own files).
SCANNED = ("", "ufm/", "spectra/", "agop/", "experiments/", "probe/")
# A bare ``raise`` re-raises (cache.save_arrays: test_cache.test_a_failed_write_leaves_no_file);
# book.check's AssertionError lists the differing values (test_book_setup checks each kind).
MESSAGES_WITHOUT_TEXT = {("cache.py", None), ("book.py", "AssertionError")}


def _point(K=3, n=2, d=5):
    H1 = np.kron(np.eye(d)[:, :K], np.ones((1, n)))
    Ws = [np.eye(d), np.eye(d)[:, :K].T]
    return H1, Ws


def _zero_last(K=3, n=2, d=5):
    H1, Ws = _point(K, n, d)
    return H1, [Ws[0], 0.0 * Ws[1]]


CASES = [
    # _checks.py, matrices.py, profile.py (other files test these with shorter patterns)
    (lambda: _checks.as_float64([1.0, np.inf], "H"), "H contains NaN or infinite entries"),
    (lambda: matrices.row_overlaps(_point()[1][-1:]), "row overlaps need L >= 2 layers"),
    (lambda: profile.current("huge"), "unknown profile 'huge'"),
    # gradients.py
    (lambda: gradients.natural_basis_coefficients(*_zero_last(), 1), "data gradient is exactly"),
    (lambda: gradients.top_eigenvector_coefficients(*_zero_last(), 1), "the gradient is exactly"),
    # hessian.py
    (lambda: hessian.papyan_vectors(*_point(), 1, K=4), "cannot be split into K = 4"),
    (lambda: hessian.top_eigenpairs(np.zeros((5, 6)), _point()[1], 1, 2), "fewer than k = 2"),
    # metrics.py
    (lambda: metrics.frame_gram(3, "simplex"), "frame must be one of"),
    (lambda: metrics.class_mean_cosines(np.zeros((2, 4)), [0, 0, 1, 1]), "a class mean is zero"),
    (
        lambda: metrics.nc4(np.ones((2, 3)), np.ones((2, 4)), [0, 0, 1, 1]),
        r"W must have shape \(K, d\)",
    ),
    # symbolic.py
    (lambda: symbolic.symbolic_matrix("A", 0, 2), "needs positive sizes"),
    (lambda: symbolic.collapsed_features(sp.eye(2), 0), "each class needs at least one sample"),
    (lambda: symbolic.orthonormal_frame(2, 3), "an orthonormal frame of K=3"),
    # ufm.py
    (
        lambda: ufm.Stepper(
            ufm.UFMConfig(K=3, n=2, d=4, L=2), 0.1, torch.zeros(2, 4, 6), configs=[None]
        ),
        "1 configurations for a batch of 2",
    ),
    (lambda: ufm.train(ufm.UFMConfig(K=3, n=2, d=4, L=2), 1, 0.1, seeds=()), "at least one seed"),
    # ufm.py
    (lambda: ufm.check_params(np.ones((3, 6)), []), "at least one weight matrix"),
    (lambda: ufm.layer_inputs(*_point(), activation="gelu"), "activation must be one of"),
    (lambda: ufm.data_loss(np.ones((5, 5)), _point()[1]), "cannot be split into K = 3 equal"),
]


@pytest.mark.parametrize("call, message", CASES, ids=[c[1] for c in CASES])
def test_error_names_the_problem(call, message):
    with pytest.raises((ValueError, KeyError), match=message):
        call()


def _raise_sites():
    """(file, kind, static text) for every ``raise`` in the library outside OWNED and figures/."""
    sites = []
    for path in sorted(p for folder in SCANNED for p in (LIB / folder).glob("*.py")):
        name = str(path.relative_to(LIB))
        if name in OWNED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise):
                continue
            exc = node.exc
            if exc is None:
                sites.append((name, None, ""))
                continue
            kind = exc.func.id if isinstance(exc, ast.Call) else ast.unparse(exc)
            text = ""
            if isinstance(exc, ast.Call) and exc.args:  # every argument: CacheFileError(path, why)
                text = "\x00".join(_static_text(arg) for arg in exc.args)
            sites.append((name, kind, text))
    return sites


def _static_text(node) -> str:
    """The literal parts of a message, with ``\\x00`` where a value is formatted in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            _static_text(v) if isinstance(v, ast.Constant) else "\x00" for v in node.values
        )
    if isinstance(node, ast.BinOp):  # "..." + "..."
        return _static_text(node.left) + "\x00" + _static_text(node.right)
    return "\x00"


def _test_patterns():
    """Every ``match=`` string of a pytest.raises, and every string of a parametrize list (where
    ``match=`` names a parameter)."""
    found = []
    for path in sorted((ROOT / "tests" / "unit").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "match":
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    found.append(node.value.value)
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) == "pytest.mark.parametrize"
                or isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "CASES" for t in node.targets)
            ):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        found.append(sub.value)
    return found


def _pieces(pattern: str) -> list[str]:
    """The plain-text pieces of a regex pattern (split at metacharacters, escapes and digits)."""
    plain = re.sub(r"\\.", "\x01", pattern)
    return [p for p in re.split(r"[\x01\[\]().*+?^$|{}\d]+", plain) if len(p.strip()) >= 5]


def test_every_raise_is_matched_by_a_test():
    patterns = [p for pattern in _test_patterns() for p in _pieces(pattern)]
    uncovered = []
    sites = _raise_sites()
    assert len(sites) > 40
    for name, kind, text in sites:
        if (name, kind) in MESSAGES_WITHOUT_TEXT:
            continue
        chunks = [c for c in text.split("\x00") if c.strip()]
        if not any(
            p in c or c.strip() in p for p in patterns for c in chunks if len(c.strip()) >= 5
        ):
            uncovered.append(f"{name}: {kind}({text.replace(chr(0), '{…}')!r})")
    assert not uncovered, "raise sites no test matches:\n" + "\n".join(uncovered)
