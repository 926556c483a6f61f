"""A NumPy array of the user's as a data set: `.npy`, or `.npz` with the data under `x` (or as its
only array) and optional integer class labels under `y`. Never unpickled (allow_pickle=False).

Shapes: [N, H, W] grayscale images; [N, H, W, C] or [N, C, H, W] with C in {1, 3} images;
[N, D] points.

Values, by dtype, for images (the networks see pixels in [0, 1]):
- uint8: divided by 255; uint16 (16-bit images): divided by 65,535;
- any other integer dtype: read as 8-bit pixel values, so they must lie in 0..255 (then divided
  by 255), else the file is refused with the range found;
- floats: used as they are, so they must be finite and lie in [0, 1], else refused;
- anything else (bool, complex, strings, objects): refused.
Points are coordinates: any integer or float dtype, used as they are (as float32), and finite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from advnets.errors import DataError

NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06")
NEVER_PICKLED = (
    "holds Python objects (pickled data), which advnets never loads: save a numeric array, "
    "e.g. np.save(path, x.astype(np.uint8))"
)


def open_array(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(the data array, the labels 'y' or None) of a .npy/.npz file, unchecked."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror})") from None
    if not head.startswith((NPY_MAGIC, *ZIP_MAGIC)):
        raise DataError(
            f"{path}: not a NumPy file: a .npy file begins with \\x93NUMPY and a .npz file is a "
            f"zip archive; this one begins with {head!r}"
        )
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise DataError(f"{path}: {NEVER_PICKLED}") from None
        raise DataError(f"{path}: not a readable .npy/.npz file (damaged: {err})") from None
    except (OSError, EOFError, KeyError) as err:
        raise DataError(f"{path}: not a readable .npy/.npz file ({err})") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        names = loaded.files
        if "x" in names:
            key = "x"
        elif len(names) == 1:
            key = names[0]
        else:
            raise DataError(f"{path}: holds arrays {names}; name the data 'x' (and labels 'y')")
        try:
            return loaded[key], (loaded["y"] if "y" in names else None)
        except ValueError:
            raise DataError(f"{path}: array {key!r} {NEVER_PICKLED}") from None
        except (OSError, EOFError, KeyError) as err:
            raise DataError(f"{path}: array {key!r} is not readable ({err})") from None


def pixels(path: Path, x: np.ndarray) -> np.ndarray:
    """Image values [N, D] in [0, 1], float32, by the rules of the module's docstring."""

    def found() -> str:
        return f"dtype {x.dtype}, values {x.min()} to {x.max()}"

    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if x.dtype == np.uint16:
        return (x.astype(np.float64) / 65535.0).astype(np.float32)
    if x.dtype.kind in "iu":
        if x.min() < 0 or x.max() > 255:
            raise DataError(
                f"{path}: integer images are read as 8-bit pixel values 0..255 (uint16: "
                f"0..65535), and these are not ({found()}): store uint8 pixels, or floats in [0, 1]"
            )
        return x.astype(np.float32) / np.float32(255.0)
    y = x.astype(np.float32)
    if not np.isfinite(y).all():
        raise DataError(f"{path}: the images hold NaN or infinite values ({found()})")
    if y.min() < 0.0 or y.max() > 1.0:
        raise DataError(
            f"{path}: float image values must lie in [0, 1] ({found()}): store uint8 pixels or "
            "divide by 255"
        )
    return y


def read_array(path: str | Path):
    """(x [N, D] float32, labels [N] or None, image shape or None)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.path = {str(path)!r} is not a file: give a .npy or .npz array")
    arr, y = open_array(path)
    if arr.dtype.kind not in "uif" or arr.ndim < 2 or arr.size == 0:
        raise DataError(
            f"{path}: expected a non-empty numeric array [N, ...], found dtype {arr.dtype} "
            f"and shape {arr.shape}"
        )
    shape: tuple[int, ...] | None
    if arr.ndim == 2:
        shape = None
    elif arr.ndim == 3:
        shape = arr.shape[1:]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)  # channels last -> first
        shape = arr.shape[2:] if arr.shape[1] == 1 else arr.shape[1:]
    elif arr.ndim == 4 and arr.shape[1] in (1, 3):
        shape = arr.shape[2:] if arr.shape[1] == 1 else arr.shape[1:]
    else:
        raise DataError(
            f"{path}: shape {arr.shape} is not [N, D], [N, H, W], [N, H, W, C] or [N, C, H, W] "
            "with C = 1 or 3"
        )
    x = np.ascontiguousarray(arr).reshape(len(arr), -1)
    if shape is not None:
        x = pixels(path, x)
    else:
        with np.errstate(over="ignore"):  # beyond float32's range: inf, refused below
            x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise DataError(
                f"{path}: the points hold NaN or infinite values (in float32, dtype {arr.dtype})"
            )
    labels = None
    if y is not None:
        if y.dtype.kind not in "iu" or y.shape != (len(arr),) or (len(y) and y.min() < 0):
            raise DataError(
                f"{path}: labels 'y' must be {len(arr)} non-negative integers, found dtype "
                f"{y.dtype} "
                f"and shape {y.shape}"
            )
        labels = torch.from_numpy(y.astype(np.int64))
    return (
        torch.from_numpy(x),
        labels,
        (tuple(int(s) for s in shape) if shape else None),
    )
