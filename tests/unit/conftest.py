import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test writes its cached runs to its own temporary folder."""
    monkeypatch.setenv("DNC_CACHE_DIR", str(tmp_path / "cache"))
