import os

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
    assert meta["_cache"] == {
        "name": "thing",
        "key": key,
        "config": {"a": 2},
        "code_version": code_hash(compute),
    }
    assert not (tmp_path / "thing" / f"{key}.ckpt.npz").exists()


def test_key_depends_on_the_device(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "cpu")
    on_cpu = cache.run_key("run", {"lr": 0.1}, (_step,))
    monkeypatch.setattr(cache, "choose_device", lambda device=None: torch.device("cuda"))
    assert cache.run_key("run", {"lr": 0.1}, (_step,)) != on_cpu


# Fault tests of the run cache (the review's list): each file problem is reported with its path,
# set aside rather than deleted, and the run computed again; nothing is ever lost to the cache.


def _run(tmp_path, monkeypatch, value=1.0):
    monkeypatch.setenv("DNC_CACHE_DIR", str(tmp_path))
    calls = []

    def compute(checkpoint):
        calls.append(1)
        return {"y": np.full(3, value)}, {"v": value}

    return compute, calls


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b"",  # zero bytes
        lambda b: bytes(range(256)) * 4,  # random bytes
        lambda b: b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 1]) + b[len(b) // 2 + 1 :],  # a flip
    ],
    ids=["truncated", "empty", "random", "flipped"],
)
def test_a_corrupt_result_is_reported_set_aside_and_recomputed(tmp_path, monkeypatch, damage):
    compute, calls = _run(tmp_path, monkeypatch)
    cache.cached("thing", {"a": 1}, compute)
    (stored,) = (tmp_path / "thing").glob("*.npz")
    stored.write_bytes(damage(stored.read_bytes()))
    with pytest.warns(cache.CacheWarning, match=str(stored.name)) as record:
        arrays, _ = cache.cached("thing", {"a": 1}, compute)
    assert "allow_pickle" not in str(record[0].message)
    assert len(calls) == 2 and np.array_equal(arrays["y"], np.ones(3))
    assert len(list((tmp_path / "thing").glob("*.unreadable-*"))) == 1  # kept, not deleted
    cache.cached("thing", {"a": 1}, compute)  # and the new file reads back
    assert len(calls) == 2


def test_a_flipped_byte_inside_an_array_fails_the_checksum(tmp_path):
    path = tmp_path / "x.npz"
    cache.save_arrays(path, {"x": np.arange(1000.0)})
    # uncompressed .npz: find the array's bytes and change one of them
    raw = bytearray(path.read_bytes())
    at = raw.find(np.arange(1000.0).tobytes()[800:808])
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(cache.CacheFileError, match="checksum|does not load"):
        cache.load_arrays(path)


def test_a_foreign_result_at_a_key_is_not_returned(tmp_path, monkeypatch):
    compute, calls = _run(tmp_path, monkeypatch)
    cache.cached("thing", {"a": 1}, compute)
    cache.cached("thing", {"a": 2}, compute)
    mine, other = sorted((tmp_path / "thing").glob("*.npz"), key=lambda p: p.stat().st_mtime)
    other.replace(mine)  # another run's valid file now sits at the first run's key
    with pytest.warns(cache.CacheWarning, match="holds the result of key"):
        cache.cached("thing", {"a": 1}, compute)
    assert len(calls) == 3 and len(list((tmp_path / "thing").glob("*.foreign-*"))) == 1


def test_a_foreign_checkpoint_is_not_resumed(tmp_path):
    theirs = cache.Checkpoint(tmp_path / "a.ckpt.npz", key="theirs")
    theirs.save({"epoch": np.array(5)}, {"epoch": 5})
    mine = cache.Checkpoint(tmp_path / "a.ckpt.npz", key="mine")
    with pytest.warns(cache.CacheWarning, match="checkpoint of run theirs, not of mine"):
        assert mine.load() is None
    assert theirs.load() is None  # it was set aside, not resumed by anyone
    assert len(list(tmp_path.glob("a.ckpt.npz.foreign-*"))) == 1
    again = cache.Checkpoint(tmp_path / "b.ckpt.npz", key="mine")
    again.save({"epoch": np.array(7)}, {"epoch": 7})
    arrays, meta = again.load()
    assert int(arrays["epoch"]) == 7 and meta == {"epoch": 7}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_cache_still_returns_the_result(tmp_path, monkeypatch):
    compute, calls = _run(tmp_path, monkeypatch)
    (tmp_path / "thing").mkdir()
    (tmp_path / "thing").chmod(0o555)
    try:
        with pytest.warns(cache.CacheWarning, match=r"could not be stored in .*thing"):
            arrays, meta = cache.cached("thing", {"a": 1}, compute)
    finally:
        (tmp_path / "thing").chmod(0o755)
    assert np.array_equal(arrays["y"], np.ones(3)) and meta == {"v": 1.0}


def test_a_failing_store_still_returns_the_result(tmp_path, monkeypatch):
    """The same with the write failing for any reason (root ignores read-only directories)."""
    compute, calls = _run(tmp_path, monkeypatch)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "save_arrays", full_disk)
    with pytest.warns(cache.CacheWarning, match=rf"could not be stored in {tmp_path}"):
        arrays, _ = cache.cached("thing", {"a": 1}, compute)
    assert np.array_equal(arrays["y"], np.ones(3))
    checkpoint = cache.Checkpoint(tmp_path / "c.ckpt.npz", key="k")
    with pytest.warns(cache.CacheWarning, match="cannot write checkpoints"):
        checkpoint.save({"x": np.zeros(1)})
    checkpoint.save({"x": np.zeros(1)})  # warned once; the run goes on


def test_stale_temporaries_are_cleaned_and_fresh_ones_kept(tmp_path, monkeypatch):
    compute, _ = _run(tmp_path, monkeypatch)
    key = cache.run_key("thing", {"a": 1}, (compute,))
    folder = tmp_path / "thing"
    folder.mkdir()
    old = folder / f"{key}.ckpt.npzabc.tmp"
    fresh = folder / f"{key}.npzdef.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (0, 0))
    cache.cached("thing", {"a": 1}, compute)
    assert not old.exists() and fresh.exists()


def test_cache_files_are_readable_by_the_group_and_the_mode_is_configurable(tmp_path, monkeypatch):
    cache.save_arrays(tmp_path / "a.npz", {"x": np.zeros(1)})
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o644
    monkeypatch.setenv("DNC_CACHE_MODE", "640")
    cache.save_arrays(tmp_path / "b.npz", {"x": np.zeros(1)})
    assert (tmp_path / "b.npz").stat().st_mode & 0o777 == 0o640
    monkeypatch.setenv("DNC_CACHE_MODE", "444")
    with pytest.raises(ValueError, match="DNC_CACHE_MODE='444'.*must be an octal file mode"):
        cache.save_arrays(tmp_path / "c.npz", {"x": np.zeros(1)})


def test_each_call_says_whether_it_computed_or_loaded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DNC_PROGRESS", "log")
    compute, _ = _run(tmp_path, monkeypatch)
    cache.cached("thing", {"a": 1}, compute)
    assert "thing: computed in" in capsys.readouterr().err
    cache.cached("thing", {"a": 1}, compute)
    assert "thing: loaded" in capsys.readouterr().err
    monkeypatch.setenv("DNC_PROGRESS", "off")
    cache.cached("thing", {"a": 1}, compute)
    assert capsys.readouterr().err == ""


_KILLED_RUN = """
import sys
from dnc import cache, ufm
config = ufm.UFMConfig(K=3, n=3, d=5, L=3, activation="relu")
checkpoint = cache.Checkpoint(sys.argv[1], key="run")
ufm.train(config, 30000, 0.2, snapshots=(0, 15000), checkpoint=checkpoint,
          checkpoint_seconds=0.05, progress=False)
"""


def test_kill_9_resumes_bit_identically(tmp_path):
    """A run killed with SIGKILL after some checkpoints resumes to the uninterrupted result."""
    import signal
    import subprocess
    import sys
    import time

    from dnc import ufm

    path = tmp_path / "run.ckpt.npz"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(path)])
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert path.exists(), "the child wrote no checkpoint before it was killed"
    config = ufm.UFMConfig(K=3, n=3, d=5, L=3, activation="relu")
    resumed = ufm.train(config, 30000, 0.2, snapshots=(0, 15000), progress=False,
                        checkpoint=cache.Checkpoint(path, key="run"))  # fmt: skip
    assert int(cache.load_arrays(path)[1]["epoch"]) > 0  # it did resume, not restart
    whole = ufm.train(config, 30000, 0.2, snapshots=(0, 15000), progress=False)
    assert np.array_equal(resumed.H, whole.H) and np.array_equal(resumed.loss, whole.loss)


def test_loading_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no cache file at"):
        cache.load_arrays(tmp_path / "absent.npz")


def test_a_file_without_a_checksum_is_refused(tmp_path):
    np.savez(tmp_path / "old.npz", x=np.zeros(2))
    with pytest.raises(cache.CacheFileError, match="has no checksum"):
        cache.load_arrays(tmp_path / "old.npz")


def test_the_key_holds_the_device_the_run_is_given(monkeypatch):
    """A run forced onto the CPU on a CUDA machine is not stored as a CUDA result."""

    def choose(device=None):
        return torch.device("cuda" if device is None else device)

    monkeypatch.setattr(cache, "choose_device", choose)
    assert cache.run_key("run", {"lr": 0.1}, (_step,), "cpu") != cache.run_key(
        "run", {"lr": 0.1}, (_step,)
    )
    assert cache.run_key("run", {"lr": 0.1}, (_step,), "cuda") == cache.run_key(
        "run", {"lr": 0.1}, (_step,)
    )
