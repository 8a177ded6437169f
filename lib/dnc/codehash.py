"""The version of the code a run executes: a hash over what it calls, not over file names.

``code_hash(f)`` is a Merkle hash. A function or class of ``dnc`` is hashed from its syntax tree
with its docstrings, comments, layout and own name removed, and with every reference to another
``dnc`` function, class or module attribute replaced by *that* object's hash; references to
constants are replaced by their values, references to other libraries stay as written. So

- editing a function that a run calls (directly or through any chain of calls) changes the hash;
- moving a function to another module, renaming it, rewording its docstring or changing how it is
  imported (``hessian._layer`` → ``_layer``) does not;
- code the run never references (a figure, a chapter's table) does not enter at all, nor does
  the storage and progress code of :data:`NOT_HASHED`.

What cannot be seen statically (a method called on an argument whose class is not named in the
function) is reached through the classes named in annotations and through the classes of the
closure's values: a run's entry point names its configuration class, so its methods are covered.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
import types

_PACKAGE = "dnc"
_SCALARS = (type(None), bool, int, float, complex, str, bytes)


# How a result is stored, how progress is shown and how inputs are checked (a check raises or
# returns the same values in a canonical type) do not change a result: these modules' code is
# left out (a reference to them stays as written).
NOT_HASHED = ("dnc.cache", "dnc.codehash", "dnc.progress", "dnc._checks")


def _ours(obj) -> bool:
    """Whether ``obj`` is a function, class or module of the ``dnc`` package.

    Modules listed in :data:`NOT_HASHED`, and everything defined in them, do not count.
    """
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
    elif isinstance(obj, types.FunctionType | type):
        name = getattr(obj, "__module__", "") or ""
    else:
        return False
    if name in NOT_HASHED:
        return False
    return name == _PACKAGE or name.startswith(_PACKAGE + ".")


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]


def _definition(obj) -> ast.AST:
    """The syntax tree of ``obj``'s definition, docstrings stripped and its own name blanked.

    A lambda's source is the line(s) around it, which need not parse alone: it is hashed as text.
    """
    source = textwrap.dedent(inspect.getsource(obj))
    try:
        node = ast.parse(source).body[0]
    except SyntaxError:
        node = None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return ast.Constant(value=source)
    _strip_docstrings(node)
    node.name = "_"
    return node


class _Hasher:
    """One traversal: the hash of each object reached, with cycles cut at the object's name."""

    def __init__(self):
        self.done: dict[int, str] = {}
        self.active: set[int] = set()

    def of(self, obj) -> str:
        obj = inspect.unwrap(obj) if isinstance(obj, types.FunctionType) else obj
        key = id(obj)
        if key in self.done:
            return self.done[key]
        if key in self.active:  # a cycle: the name stands for the object
            return f"<cycle {obj.__name__}>"
        self.active.add(key)
        try:
            node = _definition(obj)
            scope = self._scope(obj)
            node = _Substitute(self, scope).visit(node)
            digest = hashlib.sha256(ast.dump(node).encode()).hexdigest()[:16]
        finally:
            self.active.discard(key)
        self.done[key] = digest
        return digest

    def _scope(self, obj) -> dict:
        """The names ``obj``'s code can see: its closure's values over its module's globals."""
        if isinstance(obj, types.FunctionType):
            scope = dict(obj.__globals__)
            if obj.__closure__:
                for name, cell in zip(obj.__code__.co_freevars, obj.__closure__, strict=True):
                    try:
                        value = cell.cell_contents
                    except ValueError:  # an empty cell: assigned later
                        continue
                    # the closure's data (sizes, flags, thread counts) is the run's config, or
                    # does not change the result: only its code and our objects enter the hash
                    if _ours(value) or _ours(type(value)):
                        scope[name] = value
                    else:
                        scope.pop(name, None)
            return scope
        module = inspect.getmodule(obj)
        return dict(vars(module)) if module is not None else {}

    def value(self, obj) -> str:
        """What a reference to ``obj`` contributes to the hash of the code that names it."""
        if _ours(obj) and not isinstance(obj, types.ModuleType):
            return self.of(obj)
        if isinstance(obj, _SCALARS):
            return repr(obj)
        if isinstance(obj, tuple | list | set | frozenset):
            parts = [self.value(v) for v in obj]
            return f"{type(obj).__name__}({', '.join(sorted(parts) if isinstance(obj, set | frozenset) else parts)})"
        if isinstance(obj, dict):
            return (
                "{" + ", ".join(f"{self.value(k)}: {self.value(v)}" for k, v in obj.items()) + "}"
            )
        if _ours(type(obj)):  # an instance of our class: its class's code runs when it is used
            return f"<{self.of(type(obj))} instance>"
        if callable(obj) and hasattr(obj, "__qualname__"):
            return f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"
        return f"<{type(obj).__module__}.{type(obj).__qualname__}>"


class _Substitute(ast.NodeTransformer):
    """Replace each name or ``module.attribute`` chain that resolves to ``dnc`` code by its hash."""

    def __init__(self, hasher: _Hasher, scope: dict):
        self.hasher = hasher
        self.scope = scope

    def _resolve(self, node):
        """The object a ``Name`` or ``Attribute`` chain refers to, if it starts in our scope."""
        if isinstance(node, ast.Name):
            return self.scope.get(node.id, _MISSING)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            if isinstance(base, types.ModuleType) and _ours(base):
                return getattr(base, node.attr, _MISSING)
        return _MISSING

    def _replace(self, node):
        if not isinstance(getattr(node, "ctx", None), ast.Load):
            return None
        obj = self._resolve(node)
        if obj is _MISSING or isinstance(obj, types.ModuleType):
            return None
        if isinstance(node, ast.Name) and not (_ours(obj) or _ours(type(obj)) or _constant(obj)):
            return None  # a library name (np, torch, math): kept as written
        return ast.copy_location(ast.Name(id=self.hasher.value(obj), ctx=ast.Load()), node)

    def visit_Name(self, node):
        return self._replace(node) or node

    def visit_Attribute(self, node):
        replaced = self._replace(node)
        if replaced is not None:
            return replaced
        self.generic_visit(node)
        return node


def _constant(obj) -> bool:
    if isinstance(obj, _SCALARS):
        return True
    if isinstance(obj, tuple | list | set | frozenset):
        return all(_constant(v) or _ours(v) for v in obj)
    if isinstance(obj, dict):
        return all((_constant(k) and (_constant(v) or _ours(v))) for k, v in obj.items())
    return False


_MISSING = object()


def code_hash(*objects) -> str:
    """SHA-256 (first 16 hex digits) of the code ``objects`` run.

    Each object is a function or class (of ``dnc`` or not), hashed with everything it references
    in ``dnc`` (see the module docstring).

    Raises:
        ValueError: no object given.
        TypeError: an object that is not a function or a class.
    """
    if not objects:
        raise ValueError("code_hash needs at least one function or class")
    hasher = _Hasher()
    parts = []
    for obj in objects:
        if not isinstance(obj, types.FunctionType | type):
            raise TypeError(f"code_hash takes functions and classes, got {obj!r}")
        parts.append(hasher.of(obj))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
