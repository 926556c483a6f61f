"""Figure 2 of the paper: samples, with the nearest training example of the sample beside it in
the rightmost column (framed), showing that the model does not memorise the training set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from advnets.figures.grid import png_bytes, tile
from advnets.io import atomic_write_bytes


def nearest_neighbours(
    queries: torch.Tensor, points: torch.Tensor, batch: int = 1000
) -> torch.Tensor:
    """Index in `points` [N, D] of the Euclidean nearest neighbour of each query [M, D], [M]."""
    p = points.double()
    p_sq = (p * p).sum(1)
    out = []
    for q in queries.double().split(batch):
        # ||q - p||^2 = ||q||^2 - 2 q.p + ||p||^2; ||q||^2 is the same along a row, so it is left
        # out
        out.append((p_sq[None, :] - 2 * q @ p.T).argmin(1))
    return torch.cat(out)


def neighbour_grid(
    samples: torch.Tensor, train: torch.Tensor, image_shape: tuple[int, int], rows: int, cols: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [rows * cols, *image_shape]: each row holds cols - 1 samples, then the nearest
    training
    image of the row's last sample. Also returns the training indices used, [rows]."""
    per_row = samples.view(rows, cols - 1, -1)
    idx = nearest_neighbours(per_row[:, -1], train)
    grid = torch.cat([per_row, train[idx][:, None, :]], dim=1)
    return grid.reshape(rows * cols, *image_shape), idx


def save_neighbour_figure(
    samples: torch.Tensor,
    train: torch.Tensor,
    image_shape: tuple[int, int],
    path: str | Path,
    rows: int = 6,
    cols: int = 6,
    scale: int = 3,
) -> torch.Tensor:
    """Write Figure 2 as a PNG (the neighbour column framed in yellow); returns the indices."""
    rgb, idx = neighbour_figure(samples, train, image_shape, rows, cols, scale)
    atomic_write_bytes(path, png_bytes(rgb))
    return idx


def neighbour_figure(
    samples: torch.Tensor,
    train: torch.Tensor,
    image_shape: tuple[int, ...],
    rows: int = 6,
    cols: int = 6,
    scale: int = 3,
) -> tuple[np.ndarray, torch.Tensor]:
    """Figure 2 as an RGB array [height, width, 3], the neighbour column framed in yellow, and
    the training indices of the neighbours [rows]."""
    images, idx = neighbour_grid(samples[: rows * (cols - 1)], train, image_shape, rows, cols)
    tiled = tile(images, nrow=cols, pad=2, scale=scale)
    rgb = np.repeat(tiled[:, :, None], 3, axis=2) if tiled.ndim == 2 else tiled.copy()
    h, w = image_shape[-2:]
    cell_w = (w + 2) * scale
    left = (cols - 1) * cell_w  # the pad left of the last column, a frame 2 * scale wide
    for r in range(rows):
        top, bottom = r * (h + 2) * scale, (r * (h + 2) + h + 4) * scale
        rgb[top:bottom, left : left + 2 * scale] = (255, 200, 0)
        rgb[top:bottom, left + cell_w : left + cell_w + 2 * scale] = (255, 200, 0)
        rgb[top : top + 2 * scale, left : left + cell_w + 2 * scale] = (255, 200, 0)
        rgb[bottom - 2 * scale : bottom, left : left + cell_w + 2 * scale] = (255, 200, 0)
    return rgb, idx
