"""A NumPy array of the user's as a data set: `.npy`, or `.npz` with the data under `x` (or as its
only array) and optional integer class labels under `y`. Never unpickled (allow_pickle=False).

Shapes: [N, H, W] grayscale images; [N, H, W, C] or [N, C, H, W] with C in {1, 3} images;
[N, D] points. Images of dtype uint8 are divided by 255; float images must lie in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from advnets.errors import DataError


def open_array(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(the data array, the labels 'y' or None) of a .npy/.npz file, unchecked."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise DataError(
            f"{path}: not loadable without unpickling ({err}); save plain numeric arrays, e.g. "
            "np.save(path, x.astype(np.uint8))"
        ) from None
    except (OSError, EOFError) as err:
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
        except ValueError as err:
            raise DataError(
                f"{path}: array {key!r} is not loadable without unpickling ({err})"
            ) from None


def read_array(path: str | Path):
    """(x [N, D] float32, labels [N] or None, image shape or None)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.path = {str(path)!r} is not a file: give a .npy or .npz array")
    arr, y = open_array(path)
    if arr.dtype.kind not in "uif" or arr.ndim < 2 or arr.shape[0] == 0:
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
        if arr.dtype == np.uint8:
            x = x.astype(np.float32) / np.float32(255.0)
        elif arr.dtype.kind == "f" and (x.min() < 0.0 or x.max() > 1.0 or not np.isfinite(x).all()):
            raise DataError(
                f"{path}: image values must lie in [0, 1] (found {x.min()} to {x.max()}); store "
                "uint8 pixels or divide by 255"
            )
    elif not np.isfinite(x).all():
        raise DataError(f"{path}: the array holds non-finite values")
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
        torch.from_numpy(x.astype(np.float32)),
        labels,
        (tuple(int(s) for s in shape) if shape else None),
    )
