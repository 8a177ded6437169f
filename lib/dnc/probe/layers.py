"""Which layers the probe measures, and what follows each of them in the network.

A layer is named as ``model.named_modules()`` names it and must be an ``nn.Linear``: its weight
W (d_out × d_in) acts on an input h (the features whose collapse is measured) and gives
z = Wh + b, and because z is linear in W the layer Hessian of any loss is exactly
Av_i C_i ⊗ h_i h_iᵀ, with C_i the Hessian of sample i's loss with respect to z_i.

The *tail* of a layer is the sequence of leaf modules that run after it in a forward pass. When
applying them to z reproduces the network's output on every batch, the tail is a *chain*; when
every module of a chain is affine (``Linear``, ``Identity``, ``Flatten``, ``Dropout`` in eval
mode), f = A z + c with one Jacobian A for every sample, and the book's closed forms apply.
Anything else (a functional ReLU in ``forward``, a skip connection around the layer) is measured by
the general route, whose results are exact too but need more work.
"""

from __future__ import annotations

import torch
from torch import nn

AFFINE = (nn.Linear, nn.Identity, nn.Flatten, nn.Dropout)


def resolve(model: nn.Module, layers) -> list[tuple[str, nn.Linear]]:
    """[(name, module)] for the named layers, in the order given.

    Raises:
        ValueError: no layer named, a name twice, or a name the model does not have.
        TypeError: a named module that is not an ``nn.Linear``.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("name at least one layer to measure")
    if len(set(names)) != len(names):
        raise ValueError(f"each layer may be named once, got {names}")
    modules = dict(model.named_modules())
    linear = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
    out = []
    for name in names:
        if name not in modules or name == "":
            raise ValueError(f"the model has no layer {name!r}; its nn.Linear layers are {linear}")
        module = modules[name]
        if not isinstance(module, nn.Linear):
            raise TypeError(
                f"layer {name!r} is a {type(module).__name__}; the probe measures nn.Linear "
                f"layers (this model's: {linear})"
            )
        out.append((name, module))
    return out


class CallOrder:
    """Records the leaf modules of a model in the order one forward pass calls them."""

    def __init__(self, model: nn.Module):
        """Hooks on every leaf module of ``model``, until :meth:`close`."""
        self.calls: list[str] = []
        self.modules = dict(model.named_modules())
        self.handles = [
            m.register_forward_hook(lambda *_, n=n: self.calls.append(n))
            for n, m in self.modules.items()
            if n and not any(True for _ in m.children())
        ]

    def close(self) -> None:
        """Remove the hooks."""
        for h in self.handles:
            h.remove()

    def tail(self, name: str) -> list[str] | None:
        """The leaf modules called after ``name``, each once, or None if any is called twice.

        Raises:
            ValueError: ``name`` was called more than once in the pass (a shared layer has no
                single input per sample).
        """
        if self.calls.count(name) != 1:
            raise ValueError(
                f"layer {name!r} ran {self.calls.count(name)} times in one forward pass; the "
                "probe needs a layer that runs once per sample"
            )
        after = self.calls[self.calls.index(name) + 1 :]
        return after if len(set(after)) == len(after) else None


def apply_tail(modules: dict, tail: list[str], z: torch.Tensor) -> torch.Tensor:
    """The tail's modules applied in turn to z."""
    for name in tail:
        z = modules[name](z)
    return z


def reproduces(modules: dict, tail: list[str], z: torch.Tensor, out: torch.Tensor) -> bool:
    """Whether the tail applied to z gives the network's output ``out`` (to 1e-10 relative)."""
    try:
        got = apply_tail(modules, tail, z)
    except (RuntimeError, ValueError, TypeError):
        return False
    if got.shape != out.shape:
        return False
    scale = float(out.abs().max()) if out.numel() else 0.0
    return bool((got - out).abs().max() <= 1e-10 * max(scale, 1e-300))


def is_affine(modules: dict, tail: list[str]) -> bool:
    """Whether every module of the tail is affine (:data:`AFFINE`)."""
    return all(isinstance(modules[n], AFFINE) for n in tail)


def tail_jacobian(modules: dict, tail: list[str], d: int, like: torch.Tensor) -> torch.Tensor:
    """A (K × d) of an affine tail, f = A z + c: A = (T(I) − T(0))ᵀ, T the tail on rows."""
    eye = torch.eye(d, dtype=like.dtype, device=like.device)
    zero = torch.zeros(1, d, dtype=like.dtype, device=like.device)
    with torch.no_grad():
        return (apply_tail(modules, tail, eye) - apply_tail(modules, tail, zero)).T
