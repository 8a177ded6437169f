"""Registry of figure functions: each reproduces one figure of paper A or B (or is the book's own).

A figure function takes keyword arguments only (``profile=None`` at least, plus optional
precomputed results) and returns a matplotlib ``Figure``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PAPERS = {"A": "Garrod & Keating (2024)", "B": "Beaglehole et al. (2024)", "book": "this book"}


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure: its function's name, the paper and figure number, and a summary.

    ``paper`` is a key of :data:`PAPERS`; ``number`` is empty for the book's own figures;
    ``summary`` is the first line of the function's docstring.
    """

    name: str
    paper: str
    number: str
    function: Callable
    summary: str

    @property
    def label(self) -> str:
        """Where the figure comes from in words: 'paper A, Figure 3' or 'the book's own figure'."""
        if self.paper == "book":
            return "the book's own figure"
        return f"paper {self.paper}, Figure {self.number}"


REGISTRY: dict[str, FigureSpec] = {}


def figure(paper: str, number: str | int | None = None):
    """Register the decorated function as the one home of paper ``paper``'s figure ``number``."""
    if paper not in PAPERS:
        raise ValueError(f"paper must be one of {sorted(PAPERS)}, got {paper!r}")

    def register(fn: Callable) -> Callable:
        if fn.__name__ in REGISTRY:
            raise ValueError(f"figure {fn.__name__!r} is registered twice")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        num = "" if number is None else str(number)
        REGISTRY[fn.__name__] = FigureSpec(fn.__name__, paper, num, fn, summary)
        return fn

    return register


def get(name: str) -> FigureSpec:
    """The registered figure called ``name``; KeyError (naming the CLI's list) if there is none."""
    if name not in REGISTRY:
        raise KeyError(
            f"no figure named {name!r}; `python -m dnc list` shows the {len(REGISTRY)} known"
        )
    return REGISTRY[name]


def save(fig, out_dir: Path, name: str) -> list[Path]:
    """Save ``fig`` as ``<out_dir>/<name>.png`` and ``.pdf``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths
