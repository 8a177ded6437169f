"""Small helpers for the chapters: hand numbers and figures to myst-nb's glue."""

from __future__ import annotations


def glue(**values) -> None:
    """Glue each keyword as a hidden value for ``{glue:text}`` roles in the prose."""
    import numpy as np
    from myst_nb import glue as _glue

    for name, value in values.items():
        if isinstance(value, np.generic):  # numpy 2 scalars repr as np.float64(...)
            value = value.item()
        _glue(name, value, display=False)


def glue_figure(name: str, fig) -> None:
    """Glue a matplotlib figure for a ``{glue:figure}`` directive and close it (shown once)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue as _glue

    _glue(name, fig, display=False)
    plt.close(fig)


def glue_markdown(**texts) -> None:
    """Glue each keyword as Markdown text, for ``{glue:md}`` roles (words chosen by computation)."""
    from IPython.display import Markdown
    from myst_nb import glue as _glue

    for name, text in texts.items():
        _glue(name, Markdown(str(text)), display=False)
