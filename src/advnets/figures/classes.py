"""One row per class of a conditional model: the same noise in every column, so a column shows
what G keeps of z (stroke, slant, width) when only the class c changes."""

from __future__ import annotations

import torch

from advnets.nn import sample_noise


def class_rows(
    G: torch.nn.Module, num_classes: int, prior: str, noise_dim: int, cols: int, seed: int = 0
) -> torch.Tensor:
    """Images [num_classes * cols, D]: row c holds G(z_j, c) for the same z_1 .. z_cols."""
    gen = torch.Generator().manual_seed(seed)
    z = sample_noise(prior, cols, noise_dim, generator=gen).repeat(
        num_classes, 1
    )  # [classes * cols, noise_dim]
    c = torch.arange(num_classes).repeat_interleave(cols)  # [classes * cols]
    with torch.no_grad():
        return G(z, c)
