"""Building blocks: the maxout unit and the paper's uniform initialisation."""

from __future__ import annotations

import torch
from torch import nn


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al., 2013): each output is the max over `pieces` affine maps.

    As in pylearn2's `Maxout` layer, the affine outputs are laid out unit by unit, the `pieces`
    of a unit contiguous: h = (x W + b).view(..., units, pieces).max(-1).
    """

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x)  # [B, units * pieces]
        # max(dim).values, not amax: its backward scatters to the argmax instead of masking ties
        return h.view(*h.shape[:-1], self.units, self.pieces).max(dim=-1).values  # [B, units]

    def extra_repr(self) -> str:
        return f"in_features={self.linear.in_features}, units={self.units}, pieces={self.pieces}"


def init_uniform_(module: nn.Module, irange: float) -> None:
    """The reference code's initialisation: every weight uniform in [-irange, irange], biases zero
    (class embeddings, which the reference code does not have, as weights)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.uniform_(m.weight, -irange, irange)
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
            nn.init.zeros_(m.bias)
