"""A folder of the user's images (PNG, JPEG, ...), read recursively, as a data set.

Every image is converted to RGB, resized so that its shorter side is `size` (Lanczos), and
centre-cropped to size x size; with `resize = False` each must already be size x size. With
`color = "auto"` the set is grayscale when every image's three channels are equal, else RGB.
When every image lies in a direct subfolder of the root and there are at least two such
subfolders, the subfolders' names (sorted) are the class labels.

Files are read in sorted path order, so the data set does not depend on the file system's
listing order. An unreadable image stops the load with an error naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from advnets.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


def _read(path: Path, size: int, resize: bool) -> np.ndarray:
    """One image as uint8 [size, size, 3]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(
            f"{path}: not a readable image ({err}); remove it or convert it to PNG or JPEG"
        ) from None
    w, h = rgb.size
    if not resize:
        if (w, h) != (size, size):
            raise DataError(
                f"{path}: {w} x {h} pixels, but data.resize = false needs every image to be "
                f"data.image_size = {size} square; resize the images or set data.resize = true"
            )
        return np.asarray(rgb)
    scale = size / min(w, h)
    rw, rh = max(size, round(w * scale)), max(size, round(h * scale))
    rgb = rgb.resize((rw, rh), Image.Resampling.LANCZOS)
    left, top = (rw - size) // 2, (rh - size) // 2
    return np.asarray(rgb.crop((left, top, left + size, top + size)))


def read_folder(root: str | Path, size: int, color: str = "auto", resize: bool = True):
    """(x [N, C*size*size] float32 in [0, 1], labels [N] or None, image shape, class names)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.path = {str(root)!r} is not a folder of images")
    files = image_files(root)
    if not files:
        raise DataError(f"{root}: no images found (looked recursively for {', '.join(EXTENSIONS)})")
    arr = np.stack([_read(p, size, resize) for p in files])  # [N, size, size, 3] uint8
    gray = color == "grayscale" or (
        color == "auto"
        and (arr[..., 0] == arr[..., 1]).all()
        and (arr[..., 1] == arr[..., 2]).all()
    )
    if gray:
        if color == "grayscale":  # ITU-R 601-2 luma, as Pillow's "L"
            arr = (arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[
                ..., None
            ]
        else:
            arr = arr[..., :1]
    x = torch.from_numpy(
        np.ascontiguousarray(arr.transpose(0, 3, 1, 2)).astype(np.float32) / np.float32(255.0)
    )
    x = x.clamp_(0.0, 1.0).reshape(len(files), -1)
    shape = (size, size) if gray else (3, size, size)
    parents = [p.relative_to(root).parts for p in files]
    labels, classes = None, None
    if all(len(parts) == 2 for parts in parents):
        classes = sorted({parts[0] for parts in parents})
        if len(classes) >= 2:
            index = {name: i for i, name in enumerate(classes)}
            labels = torch.tensor([index[parts[0]] for parts in parents], dtype=torch.int64)
        else:
            classes = None
    return x, labels, shape, classes
