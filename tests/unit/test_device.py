import pytest
import torch

from dnc import device


def test_argument_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "cpu")
    assert device.choose_device("meta") == torch.device("meta")


def test_environment_chooses_the_device(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "meta")
    assert device.choose_device() == torch.device("meta")
    assert device.choose_device() == torch.device("meta")  # train delegates to dnc.device


def test_default_is_cuda_when_present(monkeypatch):
    monkeypatch.delenv("DNC_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.choose_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.choose_device() == torch.device("cpu")


def test_bad_device_names_are_named(monkeypatch):
    monkeypatch.setenv("DNC_DEVICE", "gpu0")
    with pytest.raises(ValueError, match=r"gpu0.*is not a torch device name"):
        device.choose_device()
    monkeypatch.setenv("DNC_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA"):
        device.choose_device()
