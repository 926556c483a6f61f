"""Sample grids: images tiled into one PNG."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from advnets.io import atomic_write_bytes


def tile(
    images: torch.Tensor | np.ndarray,
    nrow: int | None = None,
    pad: int = 1,
    scale: int | None = None,
) -> np.ndarray:
    """Tile images [N, H, W] or colour images [N, 3, H, W], values in [0, 1], into one uint8 array
    ([rows, cols] or [rows, cols, 3]), `nrow` images a row.

    `scale` repeats every pixel; by default small images are enlarged to about 28 pixels."""
    arr = np.asarray(
        images.detach().cpu() if isinstance(images, torch.Tensor) else images, dtype=np.float32
    )
    if arr.ndim == 3:
        arr = arr[..., None]  # [N, H, W, 1]
    else:
        arr = arr.transpose(0, 2, 3, 1)  # channels last
    n, h, w, c = arr.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    canvas = np.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        canvas[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + col * (w + pad) : pad + col * (w + pad) + w,
        ] = arr[i]
    out = (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    scale = scale or max(1, 28 // max(h, w))
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out[..., 0] if c == 1 else out


def save_grid(
    images: torch.Tensor | np.ndarray,
    path: str | Path,
    nrow: int | None = None,
    scale: int | None = None,
) -> None:
    """Write a PNG grid of images [N, H, W] or [N, 3, H, W] (values in [0, 1]), atomically."""
    atomic_write_bytes(path, png_bytes(tile(images, nrow, scale=scale)))


def png_bytes(arr: np.ndarray) -> bytes:
    """A uint8 array [rows, cols] (grey) or [rows, cols, 3] (RGB) as PNG file contents."""
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB").save(buf, format="PNG")
    return buf.getvalue()
