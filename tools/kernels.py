"""Run the stochastic chapters under another set of CPU kernels than this machine's own.

Minibatch float32 training rounds differently under each vector instruction set that torch and
oneDNN dispatch to (AVX-512, AVX2, the generic kernels), and SGD amplifies it: a reader's laptop
trains like another seed. ``python tools/kernels.py OUT`` executes every chapter that pins such
results with ``dnc.book.check_seeds`` (``tools/chapters.stochastic_chapters``) once more, under
nbval, with

* ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` when the current kernels are vectorised,
* ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` when they are the generic ones (the
  current environment chose them) and the CPU has AVX2,

and a cache directory of its own (``$DNC_CACHE_DIR/kernels-<set>``), so that every network is
trained afresh under those kernels. ``python tools/kernels.py --show`` prints the choice.

``python tools/kernels.py refresh [CHAPTER ...]`` (``make refresh-stochastic``) re-records the
stochastic chapters' references under every kernel set this CPU offers (its own, AVX2, the
generic ones), each with its own cache directory: each pass replaces only its own kernel set's
seeds in ``tests/reference/<profile>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chapters import stochastic_chapters

# The prefetch entries (dnc.experiments.runs.RUNS) of the stochastic chapters' minibatch training.
STOCHASTIC_RUNS = tuple(
    f"{kind}_seed{seed}"
    for kind in ("paper_b_mlp", "paper_b_mlp_adam", "realnet_mse", "realnet_ce", "probe_mlp")
    for seed in (0, 1, 2)
)
GENERIC = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def capability(env: dict) -> str:
    """The kernel set torch dispatches to under ``env`` (a fresh interpreter reads it)."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"could not ask torch for its CPU capability: {out.stderr.strip()}")
    return out.stdout.strip().upper()


def other_kernels() -> tuple[dict, str, str]:
    """(environment overrides, current set, other set): the kernels to run the second pass under."""
    current = capability(dict(os.environ))
    if current != "DEFAULT":
        return GENERIC, current, capability({**os.environ, **GENERIC})
    native = {k: v for k, v in os.environ.items() if k not in GENERIC}
    if capability(native) in ("AVX2", "AVX512"):
        return AVX2, current, capability({**os.environ, **AVX2})
    return GENERIC, current, current  # a CPU with one kernel set: the pass repeats the first


def kernel_sets() -> list[tuple[dict, str]]:
    """[(environment overrides, kernel set)]: this CPU's own kernels, then AVX2 and the generic
    ones where they differ from it."""
    native = {k: v for k, v in os.environ.items() if k not in GENERIC}
    sets = [({}, capability(native))]
    for overrides in (AVX2, GENERIC):
        name = capability({**native, **overrides})
        if name not in [n for _, n in sets]:
            sets.append((overrides, name))
    return sets


def cache_for(kernels: str, native: str) -> str:
    """The cache directory of a pass: the usual one for this CPU's own kernels, else a sibling."""
    cache = Path(os.environ.get("DNC_CACHE_DIR", Path.home() / ".cache" / "dnc"))
    return str(cache if kernels == native else cache / f"kernels-{kernels.lower()}")


def refresh(chapters: list[str]) -> int:
    """Re-record the stochastic chapters' references under every kernel set of this CPU (or
    those named by ``--sets AVX512,DEFAULT`` before the chapters)."""
    only = None
    if chapters[:1] == ["--sets"] and len(chapters) > 1:
        only, chapters = chapters[1].upper().split(","), chapters[2:]
    known = [c.stem for c in stochastic_chapters()]
    unknown = sorted(set(chapters) - set(known))
    if unknown:
        print(f"not stochastic chapters: {unknown}; these are: {known}", file=sys.stderr)
        return 2
    sets = kernel_sets()
    native = sets[0][1]
    if only is not None:
        sets = [(overrides, name) for overrides, name in sets if name in only]
    tool = Path(__file__).resolve().parent / "nbval_notebooks.py"
    reference = Path(__file__).resolve().parent.parent / "tests" / "reference"
    for overrides, name in sets:
        base = {k: v for k, v in os.environ.items() if k not in GENERIC}
        env = {**base, **overrides, "DNC_CACHE_DIR": cache_for(name, native)}
        print(f"[kernels] recording {', '.join(chapters or known)} under {name}", flush=True)
        done = subprocess.run(
            [sys.executable, str(tool), "refresh", str(reference), *(chapters or known)], env=env
        )
        if done.returncode != 0:
            return done.returncode
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["refresh"]:
        return refresh(argv[1:])
    overrides, current, other = other_kernels()
    settings = " ".join(f"{k}={v}" for k, v in overrides.items())
    print(f"[kernels] this run: {current}; second pass: {other} ({settings})", flush=True)
    if argv[:1] == ["--show"]:
        return 0
    if len(argv) != 1:
        print("usage: kernels.py OUT | --show", file=sys.stderr)
        return 2
    out = Path(argv[0])
    chapters = stochastic_chapters()
    import jupytext
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    for chapter in chapters:
        nbformat.write(jupytext.read(chapter), out / f"{chapter.stem}.ipynb")
    cache = Path(os.environ.get("DNC_CACHE_DIR", Path.home() / ".cache" / "dnc"))
    env = {**os.environ, **overrides, "DNC_CACHE_DIR": str(cache / f"kernels-{other.lower()}")}
    # the long minibatch runs first, two processes at a time, as the book build does
    prefetch = [sys.executable, "-m", "dnc", "prefetch", "--only", *STOCHASTIC_RUNS]
    done = subprocess.run(prefetch, env=env)
    if done.returncode != 0:
        return done.returncode
    print(f"[kernels] {', '.join(c.stem for c in chapters)} under {other}", flush=True)
    command = [sys.executable, "-m", "pytest", "-q", "--durations=5", "--nbval-lax",
               "--nbval-cell-timeout=1200", "-p", "no:cacheprovider", str(out)]  # fmt: skip
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
