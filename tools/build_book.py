"""Build the HTML book with warnings as errors.

Jupyter Book's execution cache keys a notebook by its own code cells only, so a change in
``lib/dnc`` or in ``DNC_PROFILE`` would not re-execute anything. We keep a stamp of both next
to the build and drop the execution cache and the Sphinx environment when it changes; a change
of the book's Sphinx extension (tools/book_ext.py) drops the rendered pages only.

With ``DNC_REFERENCE=report`` (``make book``'s default) a chapter whose pinned values moved from
``tests/reference`` still renders; each chapter's ``dnc.book.check`` calls write what moved to
``_build/reference-report/<profile>/<chapter>.json`` and the build lists it at the end. The book
is built either way: the tests (``make test``) are where a mismatch fails.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
STAMP = BUILD / ".dnc_stamp"
REPORT = BUILD / "reference-report"


def list_moved_values(profile: str) -> int:
    """Print what the chapters' reference checks reported as moved; return how many values."""
    import json

    moved = 0
    for path in sorted((REPORT / profile).glob("*.json")):
        problems = json.loads(path.read_text())
        if problems:
            print(f"[build_book] {path.stem}: {len(problems)} value(s) moved from its reference:")
            for line in problems:
                print(f"    {line}")
            moved += len(problems)
    if moved:
        print(
            f"[build_book] the book is built; {moved} value(s) differ from tests/reference/"
            f"{profile} (listed above). On a CPU or GPU other than the one that recorded them, "
            "stochastic results may leave their bands; `make test` is where a mismatch fails."
        )
    return moved


def main() -> int:
    jobs = os.environ.get("DNC_PREFETCH_JOBS")
    if jobs is not None and not (jobs.strip().isdigit() and int(jobs) >= 1):
        print(f"[build_book] DNC_PREFETCH_JOBS={jobs!r} must be a whole number >= 1", flush=True)
        return 2
    sys.path.insert(0, str(ROOT / "lib"))
    from dnc.cache import code_version
    from dnc.profile import current

    stamp = f"profile={current()} code={code_version()}"
    # Sphinx rewrites a page only when its source changed, not when our extension did.
    render = hashlib.sha256((ROOT / "tools" / "book_ext.py").read_bytes()).hexdigest()[:16]
    stamp_text = STAMP.read_text().splitlines() if STAMP.exists() else []
    if stamp_text[:1] != [stamp]:
        for stale in (".jupyter_cache", ".doctrees", "html", "jupyter_execute", "reference-report"):
            shutil.rmtree(BUILD / stale, ignore_errors=True)
    elif stamp_text[1:2] != [f"extension={render}"]:
        for stale in (".doctrees", "html"):
            shutil.rmtree(BUILD / stale, ignore_errors=True)
    # The long runs first, in parallel processes through their caches (`python -m dnc prefetch`);
    # the chapters then only read them, so the build takes its critical path, not the sum.
    start = time.time()
    prefetch = [sys.executable, "-m", "dnc", "prefetch"] + (["--jobs", jobs] if jobs else [])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(prefetch, cwd=ROOT, env=env)
    print(f"[build_book] prefetch finished in {time.time() - start:.0f} s", flush=True)
    if done.returncode != 0:  # build what can be built: a chapter needing a failed run shows why
        print(
            f"[build_book] a prefetched run failed (exit {done.returncode}, above); building the "
            "book anyway: the chapters that need it will compute it again and show the error",
            flush=True,
        )
    jb = Path(sys.executable).with_name("jupyter-book")
    command = [str(jb), "build", str(ROOT), "--builder", "html", "-W", "-n", "--keep-going"]
    print(f"[build_book] {stamp}", flush=True)
    start = time.time()
    # No progress bars or cache notes in the rendered pages: the prefetch above computed the runs.
    # book/status.md tells the chapters executed from now on from those taken from the cache.
    book_env = {
        **os.environ,
        "DNC_REFERENCE_REPORT": str(REPORT),
        "DNC_PROGRESS": "off",
        "DNC_BUILD_STARTED": datetime.datetime.now(datetime.UTC).isoformat(),
    }
    result = subprocess.run(command, cwd=ROOT, env=book_env)
    print(f"[build_book] finished in {time.time() - start:.0f} s, exit code {result.returncode}")
    if result.returncode == 0:
        STAMP.write_text(f"{stamp}\nextension={render}")
    list_moved_values(current())
    return result.returncode or done.returncode


if __name__ == "__main__":
    sys.exit(main())
