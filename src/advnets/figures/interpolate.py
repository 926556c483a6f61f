"""Figure 3 of the paper: each row decodes points on the straight line between two random points
of z space, showing that G maps nearby noise to nearby, plausible images."""

from __future__ import annotations

import torch

from advnets.nn import sample_noise


def interpolation_noise(
    prior: str, noise_dim: int, rows: int, steps: int, seed: int = 0
) -> torch.Tensor:
    """z [rows * steps, noise_dim]: row r runs from a_r to b_r in `steps` equal steps, ends
    included."""
    gen = torch.Generator().manual_seed(seed)
    ends = sample_noise(prior, 2 * rows, noise_dim, generator=gen).view(rows, 2, noise_dim)
    t = torch.linspace(0, 1, steps)[None, :, None]  # [1, steps, 1]
    z = ends[:, :1] * (1 - t) + ends[:, 1:] * t  # [rows, steps, noise_dim]
    return z.reshape(rows * steps, noise_dim)
