"""A residual convolutional feature map in the ResNet-20 pattern under L bias-free linear layers.

    f(x) = W_L ⋯ W_1 h(x; θ̄),   h: R^{C×H×W} → R^{d_0},

h is a 3×3 stem convolution (stride ``stem_stride``: 2 halves the resolution first, as ImageNet
ResNets do, which makes a CPU run four times cheaper), three stages of residual blocks (widths
w_1, w_2, w_3, stride 2 at the start of stages 2 and 3, a 1×1 projection on the shortcut where the
shape changes) and a global average pool, so d_0 = w_3 (ResNet-20: widths 16, 32, 64, three blocks
a stage). There is no batch normalisation: the stem and the pre-activation blocks are normalised
per image (a group norm with one group), so h(x) depends on x alone, the feature matrix
H_1 = [h(x_1), …, h(x_N)] is a property of the trained network and not of a batch, and the linear
layers W_1 … W_L are a deep linear UFM on H_1 exactly (paper A, later version). The scale of each
block's last group norm starts at zero, so every residual branch starts at zero and every block
starts as its shortcut.
"""

from __future__ import annotations

import torch
from torch import nn

from dnc._checks import positive_int


def _widths(widths) -> tuple[int, ...]:
    widths = tuple(widths) if isinstance(widths, (list, tuple)) else (widths,)
    if len(widths) != 3:
        raise ValueError(f"widths must hold three stage widths (w1, w2, w3), got {widths!r}")
    return tuple(positive_int(w, f"widths[{i}]") for i, w in enumerate(widths))


class Block(nn.Module):
    """Pre-activation residual block: x ↦ s(r) + GN(conv(relu(GN(conv(r))))) with r = relu(x).

    s is the identity, or a 1×1 strided projection where the shape changes; GN is a group norm
    with one group (per image). The second GN's scale starts at zero, so the block starts as
    x ↦ s(relu(x)).
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        """A block from ``c_in`` to ``c_out`` channels whose first convolution has ``stride``."""
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm1 = nn.GroupNorm(1, c_out)
        self.norm2 = nn.GroupNorm(1, c_out)
        nn.init.kaiming_normal_(self.conv1.weight, nonlinearity="relu")
        nn.init.zeros_(self.norm2.weight)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Conv2d(c_in, c_out, 1, stride, bias=False)
        )

    def forward(self, x):
        """The output for a batch (N, c_in, H, W): shape (N, c_out, ⌈H/s⌉, ⌈W/s⌉), s the stride."""
        x = torch.relu(x)
        return self.shortcut(x) + self.norm2(self.conv2(torch.relu(self.norm1(self.conv1(x)))))


class ResidualFeatures(nn.Module):
    """h(x; θ̄): stem, three stages of ``blocks`` residual blocks, global average pool → R^{w_3}."""

    def __init__(self, in_shape, widths=(16, 32, 64), blocks: int = 3, stem_stride: int = 1):
        """The feature map for images of shape ``in_shape`` = (C, H, W).

        Args:
            in_shape: (channels, height, width) of one image.
            widths: the three stage widths (w_1, w_2, w_3).
            blocks: residual blocks per stage.
            stem_stride: stride of the stem convolution.

        Raises:
            ValueError: ``in_shape`` or ``widths`` not three positive integers, or ``blocks`` or
                ``stem_stride`` not a positive integer.
        """
        super().__init__()
        if len(tuple(in_shape)) != 3:
            raise ValueError(f"in_shape must be (channels, height, width), got {in_shape!r}")
        self.in_shape = tuple(positive_int(s, f"in_shape[{i}]") for i, s in enumerate(in_shape))
        self.widths = _widths(widths)
        blocks = positive_int(blocks, "blocks")
        w1, w2, w3 = self.widths
        self.stem = nn.Conv2d(
            self.in_shape[0], w1, 3, positive_int(stem_stride, "stem_stride"), 1, bias=False
        )
        self.stem_norm = nn.GroupNorm(1, w1)
        nn.init.kaiming_normal_(self.stem.weight, nonlinearity="relu")
        layers, c = [], w1
        for stage, w in enumerate(self.widths):
            for b in range(blocks):
                layers.append(Block(c, w, 2 if stage > 0 and b == 0 else 1))
                c = w
        self.blocks = nn.Sequential(*layers)

    @property
    def out_dim(self) -> int:
        """d_0 = w_3, the length of h(x)."""
        return self.widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """h(x; θ̄) of a batch of images (N, C, H, W), as an N × d_0 tensor (rows are images).

        Raises:
            ValueError: the images are not of shape (N, C, H, W) with (C, H, W) = ``in_shape``.
        """
        if x.ndim != 4 or tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"images must have shape (N, {', '.join(map(str, self.in_shape))}) for this "
                f"feature map, got {tuple(x.shape)}"
            )
        return self.blocks(self.stem_norm(self.stem(x))).mean(dim=(2, 3))


class LinearHead(nn.Module):
    """W_L ⋯ W_1 h with W_1 ∈ R^{d×d_0}, W_2 … W_{L−1} ∈ R^{d×d}, W_L ∈ R^{K×d}, no biases.

    ``layer_inputs`` and ``forward_from`` are the interface of :func:`dnc.agop.core.layer_agops`.
    """

    def __init__(self, in_dim: int, width: int, K: int, L: int):
        """L bias-free layers from ``in_dim`` = d_0 through ``width`` = d to K outputs.

        Entries start N(0, 1/fan_in), as the UFM's initialisation.

        Raises:
            ValueError: ``in_dim``, ``width``, ``K`` or ``L`` not a positive integer.
        """
        super().__init__()
        dims = [positive_int(in_dim, "in_dim")] + [positive_int(width, "d")] * (
            positive_int(L, "L") - 1
        )
        dims.append(positive_int(K, "K"))
        self.layers = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        for layer in self.layers:  # entries N(0, 1/fan_in), as the UFM's initialisation
            nn.init.normal_(layer.weight, std=layer.in_features**-0.5)

    def forward_from(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """W_L ⋯ W_{l+1} h: the head from the input of layer l + 1 (0-based l) to the output."""
        for layer in self.layers[l:]:
            h = layer(h)
        return h

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """W_L ⋯ W_1 h for rows h (N × d_0): the N × K outputs."""
        return self.forward_from(0, h)

    def layer_inputs(self, h: torch.Tensor) -> list[torch.Tensor]:
        """[h^(1) = h, h^(2), …, h^(L)]: the input of every linear layer (rows are samples)."""
        hs = [h]
        for layer in self.layers[:-1]:
            hs.append(layer(hs[-1]))
        return hs


class RealNet(nn.Module):
    """The feature map h(x; θ̄) followed by the linear head: f(x) = W_L ⋯ W_1 h(x; θ̄)."""

    def __init__(self, in_shape, K: int, widths=(16, 32, 64), blocks=3, d=None, L=4, stem_stride=1):
        """The feature map of :class:`ResidualFeatures` and a head of L layers for K classes.

        ``d`` is the head's width (default: d_0 = w_3); the other arguments are those of
        :class:`ResidualFeatures`.

        Raises:
            ValueError: the checks of :class:`ResidualFeatures` and :class:`LinearHead`.
        """
        super().__init__()
        self.features = ResidualFeatures(in_shape, widths, blocks, stem_stride)
        d = self.features.out_dim if d is None else d
        self.head = LinearHead(self.features.out_dim, d, K, L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = W_L ⋯ W_1 h(x; θ̄) for a batch of images (N, C, H, W): the N × K outputs."""
        return self.head(self.features(x))

    def weights(self) -> list[torch.Tensor]:
        """[W_1, …, W_L]."""
        return [layer.weight for layer in self.head.layers]
