"""What `advnets train --data PATH` makes of a path: its data source, and, when no preset is
given, a model and a training length that suit it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from advnets.errors import DataError

# generator steps of a `--data` run without a preset: images need longer than points (the
# Twemoji benchmark, benchmarks/results/colour.md)
IMAGE_STEPS = 15_000
POINT_STEPS = 5_000
GRIDS = 50  # about this many sample grids over the run


def _dcgan_widths(side: int) -> tuple[list[int], list[int]] | None:
    """(G widths, D widths) for a square image side: three stages where the side allows, else
    as many as halve it exactly to a side of at least 3; None when it cannot be halved."""
    stages = next((n for n in (3, 2, 1) if side % 2**n == 0 and side // 2**n >= 3), 0)
    if not stages:
        return None
    widths = [64 * 2**i for i in range(stages)]
    return widths[::-1], widths


def _array_shape(path: Path) -> tuple[int, ...]:
    from advnets.data.arrays import open_array

    if path.suffix == ".npy":
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False).shape
        except (ValueError, EOFError, OSError):
            pass  # not memory-mappable: read it whole, which reports what is wrong
    return open_array(path)[0].shape


def defaults_for(path: str, *, with_model: bool) -> dict:
    """Config values for data at `path`; with `with_model`, also "preset" and the training
    length."""
    from advnets.data.cifar import FILES
    from advnets.data.images import image_files

    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(
            f"--data {path}: no such file or folder; give a folder of images, a .npy/.npz "
            "array, or CIFAR-10's folder of .bin files"
        )
    batch = 64
    if p.is_dir() and (p / FILES["train"][0]).is_file():
        values, n, side, is_image = (
            {"data": {"source": "cifar10", "path": str(p)}},
            40_000,
            32,
            True,
        )
    elif p.is_dir():
        n = len(image_files(p))
        if n == 0:
            raise DataError(
                f"--data {path}: no images found in the folder (looked recursively for PNG, JPEG, "
                "...)"
            )
        values, side, is_image = {"data": {"source": "images", "path": str(p)}}, 32, True
    elif p.is_file() and p.suffix in (".npy", ".npz"):
        shape = _array_shape(p)
        n, is_image = shape[0], len(shape) > 2
        side = shape[1] if len(shape) == 3 else (shape[2] if len(shape) == 4 else 0)
        values = {"data": {"source": "array", "path": str(p)}}
    else:
        raise DataError(
            f"--data {path}: expected a folder of images, CIFAR-10's folder of .bin files, or a "
            ".npy/.npz file"
        )
    if not with_model:
        return values
    steps = IMAGE_STEPS if is_image else POINT_STEPS
    if is_image:
        widths = _dcgan_widths(side)
        if widths is None:
            raise DataError(
                f"--data {path}: {side}-pixel images cannot be halved for a DCGAN; give --preset "
                "with an mlp generator and discriminator"
            )
        values["preset"] = "images-dcgan"
        values["generator"], values["discriminator"] = {"hidden": widths[0]}, {"hidden": widths[1]}
    else:
        values["preset"] = "grid-2d"  # a point set: the 2-D toys' MLPs, with a linear output
        # without the grid's R1: its gamma was tuned to the grid's scale, and the penalty's
        # strength goes with the data's (D standardises its input)
        values["penalty"] = {"r1": 0.0}
        batch = 100
    steps_per_epoch = max(1, n // batch)
    epochs = max(1, math.ceil(steps / steps_per_epoch))
    values["train"] = {
        "epochs": epochs,
        "sample_every": max(1, epochs // GRIDS),
        "batch_size": min(batch, n),
    }
    return values
