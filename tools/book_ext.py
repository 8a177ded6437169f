"""Sphinx extension for the book (loaded through ``_config.yml``'s ``sphinx.local_extensions``).

- **Math offline.** MathJax 3 is served from the book's own ``_static/mathjax``: the files come
  from the pinned PyPI package ``sphinx-mathjax-offline`` at build time (not committed), and
  ``mathjax_path`` points at them, so neither the build nor a reader needs a network.
  ``mathjax3_config`` (our TeX macros) keeps working: Sphinx writes it before the script.
- **Notebooks to download.** Every executed chapter is offered as ``.ipynb`` with its outputs
  (the theme's download menu, ``_sources/<page>.ipynb``).
- **Launch buttons.** ``repository.url`` in ``_config.yml`` is the one switch: empty (the
  default), the book has no repository, Binder or Colab button; set, it has all three. Binder
  opens the chapter's MyST source (jupytext in the image, see ``.binder/``). Colab can only open
  ``.ipynb`` files from a repository, so its button opens the executed notebook that this build
  publishes, ``_sources/<page>.ipynb`` on the branch the HTML is published from
  (``dnc_pages_branch``, default ``gh-pages``).
- **Clean console.** No script is included twice, and the theme gets a valid colour mode.
- **Colab install cell.** With a repository URL, each downloadable notebook starts with a cell
  that installs ``dnc`` from the repository when, and only when, it runs on Colab.
- **Status page last.** ``book/status`` tells, from the execution cache, which chapters ran in
  this build: it is read after every other page, and re-read at every build.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import nbformat
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

MATHJAX_PACKAGE = "sphinx-mathjax-offline"  # its module name has a dash; found by find_spec
MATHJAX_ENTRY = "tex-chtml.js"  # TeX input, CommonHTML output; extensions autoload from input/tex
# MathJax's other combined builds (SVG, MathML input, speech) are never loaded by tex-chtml.js.
MATHJAX_SKIP = ("tex-svg", "tex-mml", "mml-", "tex-chtml-full", "node-main.js", "latest.js")
PROVIDERS = ("binderhub_url", "colab_url")
COLAB_TAG = "colab-install"
STATUS_PAGE = "book/status"  # reads the execution cache that the other pages' execution writes


def mathjax_source() -> Path:
    """The MathJax 3 folder of the pinned ``sphinx-mathjax-offline`` package."""
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{MATHJAX_PACKAGE} is not installed; it serves MathJax offline (pip install -r requirements.txt)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    if not (folder / MATHJAX_ENTRY).exists():
        raise RuntimeError(f"{folder} has no {MATHJAX_ENTRY}")
    return folder


def install_cell(repository_url: str) -> nbformat.NotebookNode:
    """The first cell of a downloaded chapter: installs ``dnc`` on Colab, does nothing elsewhere."""
    source = (
        "# On Colab only: install the book's package `dnc` (elsewhere it is already installed).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        "    subprocess.run(\n"
        f'        [sys.executable, "-m", "pip", "install", "--quiet", "dnc @ git+{repository_url}"],\n'
        "        check=True,\n"
        "    )"
    )
    return nbformat.v4.new_code_cell(source, metadata={"tags": [COLAB_TAG, "remove-cell"]})


def repository_url(app: Sphinx) -> str:
    return (app.config.html_theme_options.get("repository_url") or "").strip()


def configure(app: Sphinx, config) -> None:
    """Offline MathJax; launch and repository buttons only when a repository URL is set."""
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"
    options = config.html_theme_options
    has_repository = bool(repository_url(app))
    launch = dict(options.get("launch_buttons") or {})
    if not has_repository:
        for key in PROVIDERS + ("jupyterhub_url", "deepnote_url", "jupyterlite_url"):
            launch[key] = ""
        launch["thebe"] = False
    options["launch_buttons"] = launch
    options["use_repository_button"] = has_repository
    # The theme's template reads `default_mode` from the context; unset, its script logs an
    # error on a reader's first page. Light: the figures are drawn on white.
    config.html_context = {**config.html_context, "default_mode": "light"}


def drop_duplicate_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Keep one of each script: sphinx-thebe's inline `const THEBE_JS_URL` (and togglebutton's
    selector) reach the page twice, and the second `const` is a SyntaxError in the browser."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # an inline script is registered once with filename None and once with "": the same
        key = (script.filename or "", repr(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # the builder's own list: later handlers add to it


def offer_notebook(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Let the theme's download menu offer the executed notebook of every chapter."""
    if executed_notebook(app, pagename).exists():
        context["ipynb_source"] = pagename + ".ipynb"


def colab_to_published_notebook(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Point the theme's Colab button at the published ``.ipynb`` of the page (Colab opens no .md)."""
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            if button.get("text") == "Colab":
                url = button["url"]
                head = url.split("/blob/")[0]
                button["url"] = (
                    f"{head}/blob/{app.config.dnc_pages_branch}/_sources/{pagename}.ipynb"
                )


def status_last(docnames: list[str]) -> None:
    """Move the status page to the end of ``docnames``, in place (Sphinx reads them sorted)."""
    if STATUS_PAGE in docnames:
        docnames.remove(STATUS_PAGE)
        docnames.append(STATUS_PAGE)


def read_status_last(app: Sphinx, env, docnames: list[str]) -> None:
    """Read (and so execute) the status page after the chapters whose execution it reports."""
    status_last(docnames)


def reread_status(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Re-read the status page at every build: its table must not be an earlier build's."""
    return [STATUS_PAGE]


def executed_notebook(app: Sphinx, docname: str) -> Path:
    return Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"


def with_outputs(app: Sphinx, notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with the outputs of its execution. myst-nb's ``jupyter_execute`` copy of a
    chapter taken from the execution cache has none (it writes the notebook it read, not the one
    it merged with the cache), so merge the cached outputs in here."""
    from jupyter_cache import get_cache

    cache_path = app.env.mystnb_config.execution_cache_path
    if not cache_path or not Path(cache_path).exists():
        return notebook
    try:
        _, merged = get_cache(cache_path).merge_match_into_notebook(notebook)
    except KeyError:  # executed outside the cache (e.g. `execution_mode: force`): as it is
        return notebook
    return merged


def finish(app: Sphinx, exc) -> None:
    """Copy MathJax into ``_static`` and the executed notebooks into ``_sources``."""
    if exc is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    source = mathjax_source()
    shutil.copytree(
        source,
        target,
        ignore=lambda folder, names: [
            n for n in names if Path(folder) == source and n.startswith(MATHJAX_SKIP)
        ],
    )
    url = repository_url(app)
    for docname in sorted(app.env.found_docs):
        path = executed_notebook(app, docname)
        if not path.exists():
            continue
        notebook = with_outputs(app, nbformat.read(path, as_version=4))
        if url:
            notebook.cells.insert(0, install_cell(url))
        out = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out)


def setup(app: Sphinx) -> dict:
    app.add_config_value("dnc_pages_branch", "gh-pages", "html")
    app.connect("config-inited", configure)
    app.connect("env-get-outdated", reread_status)
    app.connect("env-before-read-docs", read_status_last)
    app.connect("html-page-context", offer_notebook, priority=500)
    app.connect("html-page-context", colab_to_published_notebook, priority=502)
    app.connect("html-page-context", drop_duplicate_scripts, priority=499)
    app.connect("build-finished", finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
