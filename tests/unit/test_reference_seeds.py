"""Stochastic references: per-seed values per kernel set, a band of k standard deviations, and
the book build's report mode that lists what moved instead of failing."""

import json

import numpy as np
import pytest

from dnc import book


@pytest.fixture
def refs(tmp_path, monkeypatch):
    monkeypatch.setenv("DNC_REFERENCE_DIR", str(tmp_path))
    monkeypatch.setenv("DNC_PROFILE", "quick")
    return tmp_path


def record_under(monkeypatch, kernels, chapter, **values):
    monkeypatch.setattr(book, "kernel_set", lambda: kernels)
    monkeypatch.setenv("DNC_REFERENCE", "record")
    book.check_seeds(chapter, **values)


def test_record_keeps_each_kernel_sets_seeds(refs, monkeypatch):
    record_under(monkeypatch, "AVX512", "chap", gap=[1.0, 1.2, 1.1])
    record_under(monkeypatch, "DEFAULT", "chap", gap=[0.9, 1.0, 1.3])
    record_under(monkeypatch, "AVX512", "chap", gap=[1.0, 1.1, 1.2])  # replaces its own only
    stored = json.loads((refs / "quick" / "chap.json").read_text())
    assert stored == {
        "gap": {"per_kernel_set": {"AVX512": [1.0, 1.1, 1.2], "DEFAULT": [0.9, 1.0, 1.3]}}
    }


def test_a_mean_inside_the_band_passes_and_outside_fails(refs, monkeypatch):
    samples = np.array([[1.0, 10.0], [1.2, 11.0], [1.1, 9.0], [0.9, 10.5], [1.0, 9.5], [1.3, 10.0]])
    record_under(monkeypatch, "AVX512", "chap", table=samples[:3])
    record_under(monkeypatch, "DEFAULT", "chap", table=samples[3:])
    mean, sd, lower, upper = book.seed_band(samples, 4.0)
    assert np.allclose(mean, samples.mean(0)) and np.allclose(sd, samples.std(0, ddof=1))
    monkeypatch.setenv("DNC_REFERENCE", "check")
    inside = np.array([[1.05, 10.2], [1.15, 9.9]])
    book.check_seeds("chap", table=inside)
    outside = inside + np.array([0.0, 6 * sd[1]])  # column 1 moved by 6 s.d.
    with pytest.raises(AssertionError, match=r"table\[1\]: mean over 2 seeds .* outside"):
        book.check_seeds("chap", table=outside)
    with pytest.raises(AssertionError, match="shape"):
        book.check_seeds("chap", table=np.ones((3, 3)))
    with pytest.raises(AssertionError, match="per seed; pin it with check_seeds"):
        book.check("chap", table=inside)
    with pytest.raises(AssertionError, match="no reference"):
        book.check_seeds("chap", other=[1.0, 2.0])


def test_a_one_per_cent_shift_of_a_tight_result_fails(refs, monkeypatch):
    """The band follows the spread: where seeds agree to 1e-3, a 1e-2 change is caught."""
    rng = np.random.default_rng(0)
    record_under(monkeypatch, "AVX512", "chap", x=1 + 1e-3 * rng.standard_normal(3))
    record_under(monkeypatch, "AVX2", "chap", x=1 + 1e-3 * rng.standard_normal(3))
    monkeypatch.setenv("DNC_REFERENCE", "check")
    book.check_seeds("chap", x=[1.0, 1.0005, 0.9995])
    with pytest.raises(AssertionError, match="outside"):
        book.check_seeds("chap", x=[1.01, 1.01, 1.01])


def test_log_bands_for_quantities_over_decades(refs, monkeypatch):
    record_under(monkeypatch, "AVX512", "chap", nc1=[1e-3, 2e-3, 1.5e-3])
    monkeypatch.setattr(book, "kernel_set", lambda: "AVX512")
    monkeypatch.setenv("DNC_REFERENCE", "check")
    book.check_seeds("chap", log=True, nc1=[1.2e-3, 1.8e-3])
    with pytest.raises(AssertionError, match="log s.d."):
        book.check_seeds("chap", log=True, nc1=[1e-1, 1e-1])
    with pytest.raises(ValueError, match="positive"):
        book.seed_band([[-1.0], [1.0]], 4, log=True)
    with pytest.raises(ValueError, match="two recorded seeds"):
        book.seed_band([[1.0]], 4)


def test_check_seeds_rejects_what_is_not_per_seed(refs, monkeypatch):
    monkeypatch.setenv("DNC_REFERENCE", "record")
    with pytest.raises(ValueError, match="first axis of seeds"):
        book.check_seeds("chap", x=1.0)
    with pytest.raises(ValueError, match="k must be positive"):
        book.check_seeds("chap", k=0, x=[1.0, 2.0])
    with pytest.raises(ValueError, match="at least one value"):
        book.check_seeds("chap")


def test_report_mode_lists_what_moved_and_does_not_fail(refs, tmp_path, monkeypatch):
    report = tmp_path / "report"
    monkeypatch.setenv("DNC_REFERENCE_REPORT", str(report))
    monkeypatch.setenv("DNC_REFERENCE", "record")
    book.check("chap", exact=2.0)
    record_under(monkeypatch, "AVX512", "chap", noisy=[1.0, 1.1, 0.9])
    monkeypatch.setattr(book, "_REPORTED", set())
    monkeypatch.setenv("DNC_REFERENCE", "report")
    book.check("chap", exact=2.5, new=1.0)  # moved, and one without a reference: stored
    book.check_seeds("chap", noisy=[5.0, 5.0])
    listed = json.loads((report / "quick" / "chap.json").read_text())
    assert len(listed) == 2 and listed[0].startswith("exact: 2.5 != reference 2.0")
    assert listed[1].startswith("noisy: mean over 2 seeds 5 outside")
    assert json.loads((refs / "quick" / "chap.json").read_text())["new"] == 1.0
    monkeypatch.setattr(book, "_REPORTED", set())  # a new process starts the chapter's list afresh
    book.check("chap", exact=2.0)
    assert json.loads((report / "quick" / "chap.json").read_text()) == []


def test_kernel_set_names_the_dispatch():
    import torch

    if torch.cuda.is_available():
        assert book.kernel_set() == "CUDA"
    else:
        assert book.kernel_set() == torch.backends.cpu.get_cpu_capability().upper()


def test_the_book_build_lists_what_moved(tmp_path, monkeypatch, capsys):
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("build_book", root / "tools" / "build_book.py")
    build_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_book)
    monkeypatch.setattr(build_book, "REPORT", tmp_path)
    assert build_book.list_moved_values("paper") == 0
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "real_networks.json").write_text(json.dumps(["gap: 3 != reference 2"]))
    (tmp_path / "paper" / "papyan.json").write_text("[]")
    assert build_book.list_moved_values("paper") == 1
    out = capsys.readouterr().out
    assert "real_networks: 1 value(s) moved" in out and "gap: 3 != reference 2" in out
    assert "papyan" not in out and "the book is built" in out


def test_stochastic_numbers_are_written_as_mean_and_sd():
    assert book.mean_sd([0.93, 0.95, 0.91]) == "0.93 ± 0.020"
    assert book.mean_sd([[1e-5, 2e-5], [3e-5, 2e-5]]) == "2.0e-5 ± 8.2e-6"
    assert book.mean_sd([100, 100, 100]) == "100 ± 0"
    assert book.significant(12345.6) == "12346" and book.significant(3.14159) == "3.14"
    assert book.significant(1234567) == "1.23e+6" and book.significant(0.000123) == "1.23e-4"
    with pytest.raises(ValueError, match="at least two"):
        book.mean_sd([1.0])
