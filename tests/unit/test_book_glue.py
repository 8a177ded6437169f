"""dnc.book.glue*: they run outside a Jupyter kernel and hand myst-nb plain Python values."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import myst_nb  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dnc import book  # noqa: E402


@pytest.fixture
def glued(monkeypatch):
    calls = []
    monkeypatch.setattr(
        myst_nb, "glue", lambda name, value, display=True: calls.append((name, value, display))
    )
    return calls


def test_glue_runs_outside_a_kernel():
    book.glue(x=np.float64(1.5), k=np.int64(3), label="text")
    book.glue_markdown(word="**collapsed**")
    fig = plt.figure()
    book.glue_figure("fig", fig)
    assert not plt.fignum_exists(fig.number)


def test_glue_converts_numpy_scalars(glued):
    book.glue(x=np.float64(1.5), k=np.int64(3), flag=np.bool_(True), plain=0.25)
    values = {name: value for name, value, _ in glued}
    assert values == {"x": 1.5, "k": 3, "flag": True, "plain": 0.25}
    assert type(values["x"]) is float and type(values["k"]) is int and type(values["flag"]) is bool
    assert all(display is False for *_, display in glued)


def test_glue_markdown_wraps_text(glued):
    from IPython.display import Markdown

    book.glue_markdown(verdict="holds", count=np.int64(2))
    (n1, v1, d1), (n2, v2, d2) = glued
    assert (n1, n2) == ("verdict", "count") and d1 is False and d2 is False
    assert isinstance(v1, Markdown) and v1.data == "holds" and v2.data == "2"


def test_glue_figure_hands_over_and_closes(glued):
    fig = plt.figure()
    book.glue_figure("spectrum", fig)
    assert glued == [("spectrum", fig, False)]
    assert not plt.fignum_exists(fig.number)


def test_check_rejects_what_it_cannot_pin(tmp_path, monkeypatch):
    monkeypatch.setenv("DNC_REFERENCE_DIR", str(tmp_path))
    monkeypatch.setenv("DNC_REFERENCE", "record")
    with pytest.raises(TypeError, match="cannot pin a value of type object"):
        book.check("chap", thing=object())
    with pytest.raises(ValueError, match="at least one value"):
        book.check("chap")


def test_check_off_and_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("DNC_REFERENCE", "off")
    assert book.check("chap", x=np.float64(2.0)) == {"x": 2.0}
    monkeypatch.setenv("DNC_REFERENCE", "check")
    monkeypatch.delenv("DNC_REFERENCE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert book.reference_dir() is None
    assert book.check("chap", x=1) == {"x": 1}  # no references to compare with: passes through


def test_check_plain_values_by_hand():
    import torch

    value = {"a": np.arange(3), "b": (np.float32(0.5), None), "t": torch.tensor([1.0, 2.0])}
    assert book._plain(value) == {"a": [0, 1, 2], "b": [0.5, None], "t": [1.0, 2.0]}


def test_check_compares_counts_and_booleans_exactly(tmp_path, monkeypatch):
    """Integers (counts) and booleans must be equal, whatever rtol: 10001 is not 10000."""
    monkeypatch.setenv("DNC_REFERENCE_DIR", str(tmp_path))
    monkeypatch.setenv("DNC_REFERENCE", "record")
    book.check("chap", count=10000, ok=True, spread=10000.0)
    monkeypatch.setenv("DNC_REFERENCE", "check")
    book.check("chap", count=np.int64(10000), ok=np.bool_(True), spread=10000.5)  # floats: rtol
    with pytest.raises(AssertionError, match="count: 10001 != reference 10000"):
        book.check("chap", count=10001)
    with pytest.raises(AssertionError, match="ok: 1 != reference True"):
        book.check("chap", ok=1)


def test_glue_table_glues_markdown_and_returns_nothing_to_print(glued):
    out = book.glue_table("t", [[1.0, 2.5]], ["a", "b"])
    assert out is None  # a cell ending in the call must not show the Markdown source as well
    ((name, value, display),) = glued
    assert name == "t" and not display and "| a | b |" in value.data


def test_plus_minus_has_one_style():
    assert book.plus_minus(360.2, 90.1) == "360 ± 90"
    assert book.plus_minus(2.3e5, 8e4) == "2.3e+5 ± 8.0e+4"  # both scientific, not '± 80000'
    assert book.plus_minus(1.0, 5e-9) == "1.0 ± 5.0e-9"
    assert book.mean_sd([1.0, 2.0, 3.0]) == book.plus_minus(2.0, 1.0) == "2.0 ± 1.0"
