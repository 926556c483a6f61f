"""A folder of the user's images (PNG, JPEG, ...), read recursively, as a data set.

Every image is converted to RGB, resized so that its shorter side is `size` (Lanczos), and
centre-cropped to size x size. An image with transparency (RGBA, LA, or a palette or grey image
with a transparent colour) is first composited on the background colour (`data.background`,
white unless set), so what a transparent pixel shows is the background, not whatever colour the
file stores under it; with `resize = False` each must already be size x size. With
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


BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}


def background_rgb(name: str) -> tuple[int, int, int]:
    """white, black, or #rrggbb as an RGB triple; DataError for anything else."""
    if name in BACKGROUNDS:
        return BACKGROUNDS[name]
    h = name[1:] if name.startswith("#") else ""
    if len(h) == 6 and all(ch in "0123456789abcdefABCDEF" for ch in h):
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    raise DataError(f"data.background = {name!r}: expected white, black or a colour #rrggbb")


def has_transparency(img) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _read(
    path: Path, size: int, resize: bool, background=(255, 255, 255)
) -> tuple[np.ndarray, bool]:
    """One image as uint8 [size, size, 3], and whether it had transparency (composited on
    `background`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            transparent = has_transparency(img)
            if transparent:
                rgba = img.convert("RGBA")
                base = Image.new("RGBA", rgba.size, (*background, 255))
                rgb = Image.alpha_composite(base, rgba).convert("RGB")
            else:
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
        return np.asarray(rgb), transparent
    scale = size / min(w, h)
    rw, rh = max(size, round(w * scale)), max(size, round(h * scale))
    rgb = rgb.resize((rw, rh), Image.Resampling.LANCZOS)
    left, top = (rw - size) // 2, (rh - size) // 2
    return np.asarray(rgb.crop((left, top, left + size, top + size))), transparent


def read_rgb(
    files: list[Path], size: int, resize: bool, background: tuple[int, int, int]
) -> tuple[np.ndarray, int]:
    """The images as uint8 [N, size, size, 3], and how many had transparency."""
    read = [_read(p, size, resize, background) for p in files]
    return np.stack([image for image, _ in read]), sum(t for _, t in read)


def as_rows(arr: np.ndarray) -> torch.Tensor:
    """uint8 images [N, H, W, C] as rows [N, C*H*W] of float32 in [0, 1], channels first."""
    x = torch.from_numpy(
        np.ascontiguousarray(arr.transpose(0, 3, 1, 2)).astype(np.float32) / np.float32(255.0)
    )
    return x.clamp_(0.0, 1.0).reshape(len(arr), -1)


def read_folder(
    root: str | Path,
    size: int,
    color: str = "auto",
    resize: bool = True,
    background: str = "white",
    notes: list[str] | None = None,
):
    """(x [N, C*size*size] float32 in [0, 1], labels [N] or None, image shape, class names).
    What was done to the images that a user should be told (compositing) is appended to
    `notes`."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.path = {str(root)!r} is not a folder of images")
    files = image_files(root)
    if not files:
        raise DataError(f"{root}: no images found (looked recursively for {', '.join(EXTENSIONS)})")
    arr, transparent = read_rgb(files, size, resize, background_rgb(background))
    if transparent and notes is not None:
        notes.append(
            f"{transparent} of {len(files)} images in {root} have transparency: composited on "
            f"{background} (data.background)"
        )
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
    x = as_rows(arr)
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
