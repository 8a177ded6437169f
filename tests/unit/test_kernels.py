"""tools/kernels.py: which kernel set the second pass of the stochastic chapters runs under."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import kernels  # noqa: E402
from chapters import stochastic_chapters  # noqa: E402


@pytest.mark.parametrize(
    ("current", "native", "want"),
    [
        ("AVX512", "AVX512", kernels.GENERIC),  # vectorised now: the generic kernels next
        ("AVX2", "AVX512", kernels.GENERIC),
        ("DEFAULT", "AVX512", kernels.AVX2),  # generic now (chosen by the environment): AVX2
        ("DEFAULT", "DEFAULT", kernels.GENERIC),  # one kernel set: the pass repeats it
    ],
)
def test_the_other_kernel_set(monkeypatch, current, native, want):
    def capability(env):
        if env.get("ATEN_CPU_CAPABILITY") == "avx2":
            return "AVX2" if native != "DEFAULT" else "DEFAULT"
        if env.get("ATEN_CPU_CAPABILITY") == "default":
            return "DEFAULT"
        return current if "ATEN_CPU_CAPABILITY" in env else native

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "set-by-test")
    monkeypatch.setattr(kernels, "capability", capability)
    overrides, now, other = kernels.other_kernels()
    assert overrides == want and now == current
    assert other == capability({**overrides})


def test_the_real_capability_is_the_one_torch_uses_here():
    import os

    import torch

    assert kernels.capability(dict(os.environ)) == torch.backends.cpu.get_cpu_capability().upper()


def test_the_stochastic_chapters_are_those_that_pin_seeds():
    names = {c.stem for c in stochastic_chapters()}
    assert {"real_networks", "agop_mechanism", "agop_theory", "probe"} <= names
    assert "hessian_kronecker" not in names  # closed forms and float64: deterministic


def test_the_second_pass_prefetches_runs_that_exist():
    from dnc.experiments import runs as prefetch

    assert len(prefetch.select(kernels.STOCHASTIC_RUNS)) == 15
