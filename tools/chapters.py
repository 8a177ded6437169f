"""The book's executable chapters, in table-of-contents order."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chapter_files() -> list[Path]:
    """The MyST notebooks listed in _toc.yml (pages without a kernel are not notebooks)."""
    toc = (ROOT / "_toc.yml").read_text()
    names = re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)\s*$", toc, flags=re.M)
    files = [ROOT / f"{name}.md" for name in names]
    return [f for f in files if f.exists() and "kernelspec:" in f.read_text()[:600]]


def stochastic_chapters() -> list[Path]:
    """The chapters that pin minibatch-trained results by their spread over seeds
    (``dnc.book.check_seeds``): those whose outcome depends on the CPU's vector kernels."""
    return [f for f in chapter_files() if "check_seeds(" in f.read_text()]
