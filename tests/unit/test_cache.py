import numpy as np
import pytest
import torch

from dnc import cache
from dnc.codehash import code_hash


def test_roundtrip_without_pickle(tmp_path):
    path = tmp_path / "a" / "x.npz"
    cache.save_arrays(path, {"x": np.arange(3.0)}, {"note": "hi", "n": 3})
    arrays, meta = cache.load_arrays(path)
    assert np.array_equal(arrays["x"], np.arange(3.0)) and meta == {"note": "hi", "n": 3}


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "x.npz"

    def broken(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError):
        cache.save_arrays(path, {"x": np.zeros(2)})
    assert list(tmp_path.iterdir()) == []


def _step(x):
    return x + 1


def _other_step(x):
    return x + 2


def test_key_depends_on_config_and_code():
    a = cache.run_key("run", {"lr": 0.1}, (_step,))
    assert a == cache.run_key("run", {"lr": 0.1}, (_step,))
    assert a != cache.run_key("run", {"lr": 0.2}, (_step,))
    assert a != cache.run_key("run", {"lr": 0.1}, (_other_step,))


def test_cached_computes_once():
    calls = []

    def compute(checkpoint):
        calls.append(1)
        return {"y": np.ones(2)}, {"done": True}

    first = cache.cached("thing", {"a": 1}, compute)
    second = cache.cached("thing", {"a": 1}, compute)
    assert len(calls) == 1 and np.array_equal(first[0]["y"], second[0]["y"])


def test_code_version_is_the_hash_of_the_files():
    import hashlib
    from pathlib import Path

    package = Path(cache.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + path.read_bytes())
    assert cache.code_version() == digest.hexdigest()[:16]


def test_cached_result_lands_under_cache_dir_with_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DNC_CACHE_DIR", str(tmp_path))

    def compute(checkpoint):
        return {"y": np.zeros(1)}, {}

    cache.cached("thing", {"a": 2}, compute)
    key = cache.run_key("thing", {"a": 2}, (compute,))
    path = tmp_path / "thing" / f"{key}.npz"
    _, meta = cache.load_arrays(path)
    assert meta["_cache"] == {"config": {"a": 2}, "code_version": code_hash(compute)}
    assert not (tmp_path / "thing" / f"{key}.ckpt.npz").exists()


def test_key_depends_on_the_device(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "cpu")
    on_cpu = cache.run_key("run", {"lr": 0.1}, (_step,))
    monkeypatch.setattr(cache, "choose_device", lambda device=None: torch.device("cuda"))
    assert cache.run_key("run", {"lr": 0.1}, (_step,)) != on_cpu
