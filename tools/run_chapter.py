"""Execute one chapter as a notebook and print its text outputs (for authors; the book and the
tests execute chapters themselves). Usage: python tools/run_chapter.py book/CHAPTER.md"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(path: str) -> int:
    chapter = Path(path).resolve()
    nb = jupytext.read(chapter)
    start = time.time()
    client = NotebookClient(
        nb,
        timeout=3600,
        kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    try:
        client.execute()
        status = 0
    except CellExecutionError as err:
        print(err)
        status = 1
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                print(out.text, end="")
    print(f"[{chapter.name}: {time.time() - start:.1f} s]")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
