"""Turn the chapters into notebooks for ``pytest --nbval-lax``, with reference outputs filled in.

``prepare OUT``: write OUT/<chapter>.ipynb for every chapter; cells tagged ``nbval-check-output``
get the stdout stored in ``tests/reference/<chapter>.json``, so nbval compares the fresh output
with it. ``refresh REF``: execute every chapter and store the stdout of its tagged cells in REF.
The reference remembers each tagged cell's source, so an edited cell asks for a refresh
instead of being compared with an output of different code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jupytext
import nbformat
from chapters import ROOT, chapter_files

TAG = "nbval-check-output"


def checked_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and TAG in c.metadata.get("tags", [])]


def prepare(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    problems = []
    for chapter in chapter_files():
        nb = jupytext.read(chapter)
        ref_file = ROOT / "tests" / "reference" / f"{chapter.stem}.json"
        refs = json.loads(ref_file.read_text()) if ref_file.exists() else []
        cells = checked_cells(nb)
        if not cells and not refs:
            nbformat.write(nb, out / f"{chapter.stem}.ipynb")
            print(f"prepared {chapter.stem}: values pinned by dnc.book.check")
            continue
        if len(refs) != len(cells):
            problems.append(
                f"{chapter.name}: {len(cells)} cells tagged {TAG} but {len(refs)} reference "
                f"outputs in {ref_file.relative_to(ROOT)}"
            )
            continue
        stale = [c.source for c, r in zip(cells, refs, strict=True) if r["source"] != c.source]
        if stale:
            problems.append(
                f"{chapter.name}: a checked cell changed since its reference was "
                f"stored:\n{stale[0]}"
            )
            continue
        for cell, ref in zip(cells, refs, strict=True):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=ref["stdout"])]
            cell.execution_count = 1  # nbval compares only cells that look executed
        nbformat.write(nb, out / f"{chapter.stem}.ipynb")
        print(f"prepared {chapter.stem}: {len(cells)} checked cells")
    if problems:
        sys.exit(
            "\n".join(problems) + "\nrun `make refresh-reference` and commit the new references"
        )


def refresh(ref_dir: Path, only: list[str]) -> None:
    """Execute the chapters with ``DNC_REFERENCE=record`` (their ``dnc.book.check`` calls store
    into ``ref_dir/<profile>/``) and keep the stdout of legacy tagged cells in ``ref_dir``."""
    import os

    from nbclient import NotebookClient

    os.environ["DNC_REFERENCE"] = "record"
    os.environ["DNC_REFERENCE_DIR"] = str(ref_dir.resolve())
    ref_dir.mkdir(parents=True, exist_ok=True)
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
        refs = []
        for cell in checked_cells(nb):
            text = "".join(
                o.get("text", "")
                for o in cell.outputs
                if o.output_type == "stream" and o.name == "stdout"
            )
            refs.append({"source": cell.source, "stdout": text})
        if refs:
            (ref_dir / f"{chapter.stem}.json").write_text(json.dumps(refs, indent=1) + "\n")
        print(f"refreshed {chapter.stem}: {len(refs)} checked cells")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("prepare", "refresh"):
        sys.exit("usage: nbval_notebooks.py prepare OUT | refresh REFERENCE_DIR [CHAPTER ...]")
    if sys.argv[1] == "prepare":
        prepare(Path(sys.argv[2]))
    else:
        refresh(Path(sys.argv[2]), sys.argv[3:])
