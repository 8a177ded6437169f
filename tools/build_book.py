"""Build the HTML book with warnings as errors.

Jupyter Book's execution cache keys a notebook by its own code cells only, so a change in
``lib/dnc`` or in ``DNC_PROFILE`` would not re-execute anything. We keep a stamp of both next
to the build and drop the execution cache and the Sphinx environment when it changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
STAMP = BUILD / ".dnc_stamp"


def main() -> int:
    sys.path.insert(0, str(ROOT / "lib"))
    from dnc.cache import code_version
    from dnc.profile import current

    stamp = f"profile={current()} code={code_version()}"
    if not STAMP.exists() or STAMP.read_text() != stamp:
        for stale in (".jupyter_cache", ".doctrees", "html", "jupyter_execute"):
            shutil.rmtree(BUILD / stale, ignore_errors=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    command = [str(jb), "build", str(ROOT), "--builder", "html", "-W", "-n", "--keep-going"]
    print(f"[build_book] {stamp}", flush=True)
    start = time.time()
    result = subprocess.run(command, cwd=ROOT, env=os.environ.copy())
    print(f"[build_book] finished in {time.time() - start:.0f} s, exit code {result.returncode}")
    if result.returncode == 0:
        STAMP.write_text(stamp)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
