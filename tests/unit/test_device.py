import pytest
import torch

from dnc import device


def test_argument_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "cuda:7")
    assert device.choose_device("cpu") == torch.device("cpu")


def test_environment_chooses_the_device(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.choose_device() == torch.device("cuda")
    monkeypatch.setenv("DNC_DEVICE", "cpu")
    assert device.choose_device() == torch.device("cpu")


def test_default_is_cuda_when_present(monkeypatch):
    monkeypatch.delenv("DNC_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.choose_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.choose_device() == torch.device("cpu")


@pytest.mark.parametrize(
    "name, message",
    [
        ("gpu0", r"gpu0.*is not a torch device name"),
        ("cuda", "no CUDA"),
        ("mps", "no MPS"),
        ("meta", ": the book computes on cpu, cuda or mps, not meta"),
    ],
)
def test_bad_device_names_are_named_by_their_source(monkeypatch, name, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("DNC_DEVICE", name)
    with pytest.raises(ValueError, match=f"DNC_DEVICE='{name}'"):
        device.choose_device()
    with pytest.raises(ValueError, match=message):
        device.choose_device()
    with pytest.raises(ValueError, match=f"device='{name}'"):
        device.choose_device(name)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_thread_counts_are_checked(threads):
    with pytest.raises(ValueError, match="threads must be a whole number"):
        with device.torch_threads(threads):
            pass
