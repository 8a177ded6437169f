"""dnc.book.execution_table: which chapters a build executed, read from myst-nb's jupyter-cache."""

import datetime

import nbformat
import pytest
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.cache.db import NbCacheRecord

from dnc import book

UTC = datetime.UTC


def executed_notebook(code):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(code, execution_count=1))
    return nb


@pytest.fixture
def chapters(tmp_path):
    """Three chapter files: `old` cached long ago, `new` executed now, `never` not cached."""
    folder = tmp_path / "book"
    folder.mkdir()
    files = {name: folder / f"{name}.md" for name in ("old", "new", "never")}
    for path in files.values():
        path.write_text("# A chapter\n")
    cache = get_cache(str(tmp_path / "cache"))
    long_ago = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for key, name, seconds in (("a", "old", 12.345), ("b", "new", 99.0)):  # `new`'s is superseded
        NbCacheRecord.create_record(
            str(files[name]), key, cache.db, created=long_ago, data={"execution_seconds": seconds}
        )
    bundle = CacheBundleIn(
        executed_notebook("1 + 1"), str(files["new"]), data={"execution_seconds": 1234.5}
    )
    cache.cache_notebook_bundle(bundle, check_validity=False)  # made now, as myst-nb does
    return tmp_path / "cache", {f"`{name}`": path for name, path in files.items()}


def rows(markdown):
    lines = [line for line in markdown.splitlines() if line.startswith("| `")]
    return {cells[0]: cells[1:] for cells in (line.strip("| ").split(" | ") for line in lines)}


def test_this_build_or_from_the_cache_around_the_start(chapters):
    cache, files = chapters
    table = book.execution_table(cache, "2026-06-01T00:00:00+00:00", files)
    assert table.splitlines()[0] == "| chapter | execution | run time (s) |"
    assert rows(table) == {
        "`old`": ["from the cache of 2026-01-02 03:04 UTC", "12.3"],
        "`new`": ["executed in this build", "1230"],  # the newest record of the file
        "`never`": ["not in the execution cache", "—"],
    }
    assert list(rows(table)) == list(files)  # the chapters' order
    later = datetime.datetime.now(UTC) + datetime.timedelta(minutes=1)
    assert rows(book.execution_table(cache, later, files))["`new`"][0].startswith("from the cache")
    naive = datetime.datetime(2026, 1, 2, 3, 4, 5)  # a time without a timezone is UTC: at the start
    assert rows(book.execution_table(cache, naive, files))["`old`"][0] == "executed in this build"


@pytest.mark.parametrize("started", [None, "", "  "])
def test_without_a_start_time_the_table_says_so(chapters, started):
    cache, files = chapters
    text = book.execution_table(cache, started, files)
    assert text.startswith("The build's start time is unknown")
    assert rows(text)["`old`"] == ["cached on 2026-01-02 03:04 UTC", "12.3"]
    assert rows(text)["`new`"][0].startswith("cached on ")
    assert "this build" not in "".join(cells[0] for cells in rows(text).values())


def test_a_missing_cache_is_empty_and_not_created(tmp_path, chapters):
    _, files = chapters
    table = book.execution_table(tmp_path / "none", "2026-06-01T00:00:00Z", files)
    assert all(cells == ["not in the execution cache", "—"] for cells in rows(table).values())
    assert not (tmp_path / "none").exists()


def test_a_start_time_that_is_not_iso_8601_is_an_error(chapters):
    cache, files = chapters
    with pytest.raises(ValueError):
        book.execution_table(cache, "yesterday", files)


def test_book_chapters_are_the_toc_notebooks_in_order(tmp_path):
    (tmp_path / "book").mkdir()
    notebook = "---\nkernelspec:\n  name: python3\n---\n# Page\n"
    (tmp_path / "book" / "b.md").write_text(notebook)
    (tmp_path / "book" / "a.md").write_text(notebook)
    (tmp_path / "book" / "intro.md").write_text("# Intro, no kernel\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/b\n  - file: book/a\n"
    )
    assert book.book_chapters(tmp_path) == {
        "{doc}`/book/b`": tmp_path / "book" / "b.md",
        "{doc}`/book/a`": tmp_path / "book" / "a.md",
    }
    assert book.book_root(tmp_path / "book") == tmp_path
    with pytest.raises(FileNotFoundError, match="no _toc.yml at or above"):
        book.book_root(tmp_path.parent)
