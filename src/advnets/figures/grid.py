"""Sample grids: images tiled into one PNG."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from advnets.io import atomic_write_bytes


def tile(images: torch.Tensor | np.ndarray, nrow: int | None = None, pad: int = 1, scale: int | None = None) -> np.ndarray:
    """Tile images [N, H, W] with values in [0, 1] into one uint8 array, `nrow` images a row.

    `scale` repeats every pixel; by default small images are enlarged to about 28 pixels."""
    arr = np.asarray(images.detach().cpu() if isinstance(images, torch.Tensor) else images, dtype=np.float32)
    n, h, w = arr.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    canvas = np.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = arr[i]
    out = (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    scale = scale or max(1, 28 // max(h, w))
    if scale > 1:
        out = np.kron(out, np.ones((scale, scale), dtype=np.uint8))
    return out


def save_grid(images: torch.Tensor | np.ndarray, path: str | Path, nrow: int | None = None,
              scale: int | None = None) -> None:
    """Write a PNG grid of images [N, H, W] (values in [0, 1]), atomically."""
    buf = io.BytesIO()
    Image.fromarray(tile(images, nrow, scale=scale), mode="L").save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
