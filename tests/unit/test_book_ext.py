"""The book's Sphinx extension (tools/book_ext.py) and the browser-free checks of the built HTML."""

import importlib.util
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


book_ext = load("book_ext", "tools/book_ext.py")
check_book = load("check_book", "tests/browser/check_book.py")


def fake_app(repository_url):
    options = {
        "repository_url": repository_url,
        "launch_buttons": {"binderhub_url": "https://binder", "colab_url": "https://colab"},
    }
    config = types.SimpleNamespace(html_theme_options=options, html_context={}, mathjax_path="")
    return types.SimpleNamespace(config=config), config


def test_mathjax_is_served_from_the_pinned_package():
    folder = book_ext.mathjax_source()
    assert (folder / "tex-chtml.js").stat().st_size > 100_000
    assert list((folder / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    app, config = fake_app("")
    book_ext.configure(app, config)
    assert config.mathjax_path == "mathjax/tex-chtml.js"  # relative: under _static


def test_repository_url_is_the_one_switch_for_launch_buttons():
    app, config = fake_app("")
    book_ext.configure(app, config)
    launch = config.html_theme_options["launch_buttons"]
    assert launch["binderhub_url"] == launch["colab_url"] == ""
    assert config.html_theme_options["use_repository_button"] is False
    app, config = fake_app("https://github.com/org/repo")
    book_ext.configure(app, config)
    launch = config.html_theme_options["launch_buttons"]
    assert launch["binderhub_url"] and launch["colab_url"]
    assert config.html_theme_options["use_repository_button"] is True


def test_install_cell_runs_only_on_colab(monkeypatch):
    cell = book_ext.install_cell("https://github.com/org/repo")
    assert "dnc @ git+https://github.com/org/repo" in cell.source
    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(cell.source, {})
    assert calls == []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(cell.source, {})
    assert len(calls) == 1 and calls[0][0][-1] == "dnc @ git+https://github.com/org/repo"


def test_status_page_is_read_last_and_at_every_build():
    docnames = ["book/agop_mechanism", "book/status", "book/weight_spectra"]
    assert book_ext.status_last(docnames) is None  # in place: Sphinx reads the list it handed out
    assert docnames == ["book/agop_mechanism", "book/weight_spectra", "book/status"]
    unchanged = ["book/intro", "book/relu_ufm"]
    book_ext.status_last(unchanged)
    assert unchanged == ["book/intro", "book/relu_ufm"]
    assert book_ext.reread_status(None, None, set(), set(), set()) == ["book/status"]


def page(body, head=""):
    return f"<html><head>{head}</head><body><main>{body}</main></body></html>"


@pytest.fixture
def site(tmp_path):
    html = tmp_path / "html"
    (html / "_images").mkdir(parents=True)
    (html / "_images" / "a.png").write_bytes(b"png-a")
    (html / "_images" / "b.png").write_bytes(b"png-a")  # same picture, another file
    (html / "index.html").write_text(page('<a href="p.html#here">p</a>'))
    return html


def run_static(html):
    pages = sorted(html.rglob("*.html"))
    failures, _ = check_book.static_checks(html, pages)
    return "\n".join(failures)


def test_static_checks_pass_a_clean_site(site):
    (site / "p.html").write_text(page('<p id="here"><img src="_images/a.png"></p>'))
    assert run_static(site) == ""


def test_static_checks_find_what_a_reader_would_see(site):
    (site / "p.html").write_text(
        page(
            '<img src="_images/a.png"><img src="_images/b.png"><img src="_images/none.png">'
            '<a href="gone.html">x</a><span class="math">\\(x\\)</span>',
            head='<script src="https://cdn.example/mathjax.js"></script>',
        )
    )
    found = run_static(site)
    assert "no id 'here'" in found
    assert "appears twice" in found
    assert "none.png' does not exist" in found
    assert "'gone.html' points to a missing file" in found
    assert "from the network" in found
    assert "is not the book's own" in found
