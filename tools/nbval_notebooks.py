"""Turn the chapters into notebooks for ``pytest --nbval-lax``, and re-record their references.

``prepare OUT``: write OUT/<NN>_<chapter>.ipynb for every chapter, NN its place in _toc.yml, so
that pytest, which runs a folder's files in name order, executes them in the book's order: a
chapter that reads other chapters' runs (the pages of verdicts at the end of each part) runs
after the chapters that compute them. Each chapter pins its headline numbers itself, in hidden
cells that call ``dnc.book.check`` against ``tests/reference/<profile>/<chapter>.json``; nbval
runs the notebooks and a value that moved fails its cell. ``refresh REF [CHAPTER ...]``: execute
the chapters (all, or those named) with ``DNC_REFERENCE=record``, so that their ``check`` calls
store the values in ``REF/<profile>/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext
import nbformat
from chapters import chapter_files


def prepare(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    for place, chapter in enumerate(chapter_files(), start=1):
        nbformat.write(jupytext.read(chapter), out / f"{place:02d}_{chapter.stem}.ipynb")
        print(f"prepared {chapter.stem}")


def refresh(ref_dir: Path, only: list[str]) -> None:
    from nbclient import NotebookClient

    os.environ["DNC_REFERENCE"] = "record"
    os.environ["DNC_REFERENCE_DIR"] = str(ref_dir.resolve())
    unknown = set(only) - {c.stem for c in chapter_files()}
    if unknown:
        sys.exit(f"no chapter named {sorted(unknown)}")
    for chapter in chapter_files():
        if only and chapter.stem not in only:
            continue
        nb = jupytext.read(chapter)
        NotebookClient(
            nb,
            timeout=3600,
            kernel_name="python3",
            resources={"metadata": {"path": str(chapter.parent)}},
        ).execute()
        print(f"refreshed {chapter.stem}")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("prepare", "refresh"):
        sys.exit("usage: nbval_notebooks.py prepare OUT | refresh REFERENCE_DIR [CHAPTER ...]")
    if sys.argv[1] == "prepare":
        prepare(Path(sys.argv[2]))
    else:
        refresh(Path(sys.argv[2]), sys.argv[3:])
