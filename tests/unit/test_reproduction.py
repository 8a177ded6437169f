"""dnc.reproduction: the rows' verdicts, the Markdown tables, and the registry against _toc.yml."""

import re
from pathlib import Path

import pytest
import yaml

from dnc import reproduction
from dnc.reproduction import PAGES, PARTS, REGISTRY, VERDICTS, Row

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"


@pytest.fixture
def fake_book(monkeypatch):
    """Two fake chapters in part A: `one` with two rows on two labels, `two` with one row."""
    monkeypatch.setitem(PARTS, "A", ("fake_one", "fake_two"))
    monkeypatch.setitem(
        REGISTRY,
        "fake_one",
        (
            "One",
            lambda: [
                Row("claim a", "3", "3", "holds"),
                Row("claim b", "x | y", "z", "partly", "a reason", link="fake-section"),
            ],
        ),
    )
    monkeypatch.setitem(REGISTRY, "fake_two", ("Two", lambda: [Row("claim c", "1", "0", "not")]))
    reproduction._chapter_rows.cache_clear()
    yield
    reproduction._chapter_rows.cache_clear()


def cells(line):
    """The cells of a Markdown table line, split at the pipes that are not escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_a_row_takes_only_the_three_verdicts():
    for verdict in VERDICTS:
        assert Row("c", "p", "o", verdict).verdict == verdict
    for bad in ("hold", "Holds", "yes", "", None):
        with pytest.raises(ValueError, match="verdict must be one of"):
            Row("c", "p", "o", bad)


def test_a_row_links_to_a_label():
    with pytest.raises(ValueError, match="MyST label"):
        Row("c", "p", "o", "holds", link="two words")
    with pytest.raises(ValueError, match="MyST label"):
        Row("c", "p", "o", "holds", link="<relu-ufm>")


def test_verdict_counts_and_fills_in_the_chapter_label(fake_book):
    assert [r.link for r in reproduction.chapter_rows("fake_one")] == ["fake-one", "fake-section"]
    assert reproduction.counts(["fake_one", "fake_two"]) == {"holds": 1, "partly": 1, "not": 1}
    assert reproduction.counts([]) == dict.fromkeys(VERDICTS, 0)


def test_part_table_format(fake_book):
    lines = reproduction.part_table("A").splitlines()
    assert cells(lines[0]) == list(reproduction.HEADER)
    assert re.fullmatch(r"\|(---\|){6}", lines[1])
    body = [cells(line) for line in lines[2:]]
    assert len(body) == 3 and all(len(row) == 6 for row in body)
    # the chapter cell links where the label changes, and only there
    assert [row[0] for row in body] == [
        "{ref}`One <fake-one>`",
        "{ref}`One <fake-section>`",
        "{ref}`Two <fake-two>`",
    ]
    assert [row[4] for row in body] == ["**holds**", "**partly**", "**not**"]
    assert body[1][2] == r"x \| y" and body[0][5] == "—"


def test_summary_table_counts_by_chapter_and_part(fake_book, monkeypatch):
    monkeypatch.setitem(PARTS, "B", ())
    lines = reproduction.summary_table().splitlines()
    assert cells(lines[0]) == ["paper", "chapter", "claims", *VERDICTS]
    body = [cells(line) for line in lines[2:]]
    assert body[0] == ["A", "{ref}`One <fake-one>`", "2", "1", "1", "0"]
    assert body[1] == ["A", "{ref}`Two <fake-two>`", "1", "0", "0", "1"]
    assert body[2][0] == "**A**" and body[2][2:] == ["3", "**1**", "**1**", "**1**"]
    assert body[2][1] == "{ref}`all of paper A <reproduces-a>`"


def toc_parts():
    """{caption: [chapter stems]} of _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return {p["caption"]: [Path(c["file"]).name for c in p["chapters"]] for p in toc["parts"]}


def test_the_registry_covers_every_chapter_of_the_paper_parts_in_order():
    parts = {c: v for c, v in toc_parts().items() if c.startswith("Paper ")}
    assert [c.split(":")[0] for c in parts] == ["Paper A", "Paper B"]
    for (part, chapters), listed in zip(PARTS.items(), parts.values(), strict=True):
        # each part ends with its page of verdicts, which has no rows of its own
        assert listed == [*chapters, PAGES[part]], part
        assert set(chapters) <= set(REGISTRY), set(chapters) - set(REGISTRY)
    assert set(REGISTRY) == {c for chapters in PARTS.values() for c in chapters}


def test_every_label_the_rows_link_to_exists():
    text = "\n".join(p.read_text() for p in BOOK.glob("*.md"))
    labels = set(re.findall(r"^\(([\w-]+)\)=\s*$", text, flags=re.M))
    linked = set(re.findall(r'link="([\w-]+)"', Path(reproduction.__file__).read_text()))
    linked |= {reproduction.label(c) for c in [*REGISTRY, *PAGES.values(), "reproduction"]}
    assert linked <= labels, linked - labels


def test_the_verdict_pages_are_not_run_under_other_cpu_kernels():
    """tools/kernels.py re-runs the chapters that call check_seeds with a cache of their own: a
    page of verdicts there would recompute every deterministic run it reads."""
    for page in [*PAGES.values(), "reproduction"]:
        text = (BOOK / f"{page}.md").read_text()
        assert "kernelspec:" in text and "check_seeds(" not in text, page
