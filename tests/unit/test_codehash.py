"""The code hash in a run's cache key follows what the run executes, not where the code lives."""

import importlib.util
import sys

import pytest

from dnc.codehash import code_hash

_COUNTER = [0]


def _module(tmp_path, source: str):
    """Import ``source`` as a fresh module of the ``dnc`` package (so its code counts as ours)."""
    _COUNTER[0] += 1
    name = f"dnc._codehash_probe_{_COUNTER[0]}"
    path = tmp_path / f"probe_{_COUNTER[0]}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


HELPER = '''
import numpy as np
SCALE = 2.0

def helper(x):
    """Twice x."""
    return SCALE * np.asarray(x)
'''
RUN = "\ndef run(x):\n    return helper(x) + 1\n"


def test_moving_renaming_and_rewording_keep_the_hash(tmp_path):
    together = _module(tmp_path, HELPER + RUN)
    helpers = _module(tmp_path, HELPER.replace("helper(x)", "twice(x)").replace("Twice", "2x"))
    split = _module(
        tmp_path,
        f'''
import {helpers.__name__} as lib

def run(x):
    """Another docstring."""
    # a comment
    return lib.twice(x) + 1
''',
    )
    assert code_hash(together.run) == code_hash(split.run)


def test_editing_a_callee_or_a_constant_changes_the_hash(tmp_path):
    base = _module(tmp_path, HELPER + RUN)
    callee = _module(tmp_path, HELPER.replace("SCALE * ", "SCALE + ") + RUN)
    constant = _module(tmp_path, HELPER.replace("2.0", "3.0") + RUN)
    assert len({code_hash(m.run) for m in (base, callee, constant)}) == 3


def test_a_closure_is_hashed_by_its_code_not_its_data(tmp_path):
    source = "\ndef make(threads):\n    def compute(x):\n        return helper(x) * threads\n    return compute\n"
    module = _module(tmp_path, HELPER + source)
    assert code_hash(module.make(1)) == code_hash(module.make(4))


def test_mutual_recursion_terminates(tmp_path):
    source = "def even(n):\n    return n == 0 or odd(n - 1)\n\ndef odd(n):\n    return n != 0 and even(n - 1)\n"
    module = _module(tmp_path, source)
    assert code_hash(module.even) == code_hash(module.even) != code_hash(module.odd)


def test_rejects_what_is_not_code():
    with pytest.raises(TypeError, match="functions and classes"):
        code_hash(3)
    with pytest.raises(ValueError, match="at least one"):
        code_hash()
