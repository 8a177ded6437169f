"""The package's import structure, read from the source with ``ast``: no circle between modules,
no module taking another's private name, no import inside a function without a stated reason."""

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "lib"
PACKAGE = LIB / "dnc"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


def _imports(tree):
    """(module imported, names taken from it, node) for each import of a ``dnc`` module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dnc"):
            assert node.level == 0, "relative imports are not used"
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in MODULES:  # `from dnc.spectra import hessian`: the module itself
                    yield full, None, node
                else:
                    yield node.module, alias.name, node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dnc"):
                    yield alias.name, None, node


def _graph():
    """Module → the modules it imports (a package's ``__init__`` counts as the package)."""
    return {
        name: {target for target, _, _ in _imports(tree) if target != name}
        for name, tree in TREES.items()
    }


def test_no_import_circle():
    graph = _graph()
    # A package imports its own submodules in __init__ to expose their names; a submodule that
    # imports its package's __init__ would close a circle through it, which is what we look for.
    state, stack, circles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package's __init__ importing its own submodule
                continue
            if state.get(nxt) == "open":
                circles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_no_module_takes_another_modules_private_name():
    offences = []
    for name, tree in TREES.items():
        for target, taken, node in _imports(tree):
            if taken and taken.startswith("_") and target != name:
                offences.append(f"{name}:{node.lineno} takes {target}.{taken}")
        imported_modules = {
            alias.asname or alias.name: f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dnc")
            for alias in node.names
            if f"{node.module}.{alias.name}" in MODULES
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offences.append(
                    f"{name}:{node.lineno} uses {imported_modules[node.value.id]}.{node.attr}"
                )
    assert not offences, "\n".join(offences)


def test_imports_inside_functions_say_why():
    """An import inside a function is allowed only with a ``# local:`` comment above it."""
    unexplained = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node in ast.walk(TREES[name]):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    above = lines[max(sub.lineno - 3, 0) : sub.lineno - 1]
                    if not any(line.strip().startswith("# local:") for line in above):
                        unexplained.append(f"{name}:{sub.lineno}: {ast.unparse(sub)}")
    assert not unexplained, "imports inside functions without a reason:\n" + "\n".join(unexplained)


def test_subpackages_expose_their_public_names():
    """Each subpackage's __init__ lists what it exposes, and every listed name exists
    (dnc.experiments excepted: its modules load on use, each with its chapter's data)."""
    import importlib

    for package in ("dnc.ufm", "dnc.spectra", "dnc.agop", "dnc.realnet"):
        module = importlib.import_module(package)
        assert module.__doc__, package
        exposed = getattr(module, "__all__", None)
        assert exposed, f"{package} has no __all__"
        missing = [n for n in exposed if not hasattr(module, n)]
        assert not missing, f"{package}.__all__ names missing objects: {missing}"


def test_every_dotted_name_in_the_book_and_the_docs_resolves():
    """``dnc.a.b.name`` written in a chapter, the README or a docstring names a real object, so
    the text follows the code when it moves."""
    import importlib
    import re

    root = LIB.parent
    files = [*(root / "book").glob("*.md"), root / "README.md", *PACKAGE.rglob("*.py")]
    unresolved = []
    for path in files:
        text = path.read_text()
        if path.name == "codehash.py":  # names modules that may not exist (NOT_HASHED)
            continue
        for match in re.finditer(r"(?<![\w./])dnc(?:\.[A-Za-z_]\w*)+", text):
            parts = match.group(0).split(".")
            for i in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                except ImportError:
                    continue
                for attr in parts[i:]:
                    obj = getattr(obj, attr, None)
                break
            if obj is None:
                unresolved.append(f"{path.relative_to(root)}: {match.group(0)}")
    assert not unresolved, "\n".join(sorted(set(unresolved)))
