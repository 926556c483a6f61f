"""Twemoji: 3,786 colour emoji, advnets' benchmark for colour images.

The Twemoji 16.0.1 graphics as the npm package ``emoji-datasource-twitter`` 16.0.0 ships them
(folder ``img/twitter/64/`` of its tarball): 64 x 64 RGBA PNGs on transparent backgrounds, named
by their Unicode code points. The graphics are Copyright Twitter, Inc. and other contributors,
licensed CC-BY 4.0: attribute them wherever samples of a model trained on them are shown.

The folder is ``twemoji/`` under the data root ($ADVNETS_DATA or --data-dir), or data.path. Its
contents are checked against the published set: the SHA-256 of the lines ``sha256sum *.png``
prints (file names sorted) must be `FOLDER_SHA256`.

The split is fixed by the files' sorted order: the i-th file is a test image when i % 4 == 0
(947 images), else a validation image when i % 20 == 2 (190), else a training image (2,649).
Neighbours in that order are often variants of one emoji (skin tones), so each split holds all
kinds of emoji. Images are composited on data.background (white unless set) and resized to
data.image_size as any folder of images is (advnets.data.images).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from advnets.errors import DataError, DataNotFoundError

FOLDER = "twemoji"
COUNT = 3786
FOLDER_SHA256 = "02ee9a4e5fac8c82b5c6e55023e71f092fb52f856ba73eebf6f2d42195da2001"
LICENCE = "Twemoji graphics © Twitter, Inc. and other contributors, CC-BY 4.0"


def split_of(i: int) -> str:
    """The split of the i-th file in sorted order."""
    if i % 4 == 0:
        return "test"
    return "valid" if i % 20 == 2 else "train"


def folder_digest(files: list[Path]) -> str:
    """SHA-256 of `sha256sum *.png`'s output for these files (in this order)."""
    lines = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def locate(root: Path) -> list[Path]:
    """The 3,786 PNG files of the set in `root`, sorted, checked against the published set."""
    if not root.is_dir():
        raise DataNotFoundError(
            f"the Twemoji set is not at {root}: put the 64 x 64 PNGs of emoji-datasource-twitter "
            "16.0.0 (img/twitter/64/ of `npm pack emoji-datasource-twitter@16.0.0`) in a folder "
            "named twemoji under the data root, or give its folder as data.path"
        )
    files = sorted(root.glob("*.png"))
    if len(files) != COUNT:
        raise DataError(
            f"{root} holds {len(files)} PNG files; the Twemoji set of emoji-datasource-twitter "
            f"16.0.0 has {COUNT}"
        )
    digest = folder_digest(files)
    if digest != FOLDER_SHA256:
        raise DataError(
            f"{root} is not the Twemoji set of emoji-datasource-twitter 16.0.0: its files' "
            f"checksum is {digest}, expected {FOLDER_SHA256}; to train on these images as they "
            "are, use data.source = 'images' with data.path"
        )
    return files


def read_split(
    root: Path, split: str, size: int, background: str, notes: list[str]
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(rows [n, 3 * size * size] in [0, 1], image shape) of one split."""
    from advnets.data.images import as_rows, background_rgb, read_rgb

    files = [p for i, p in enumerate(locate(root)) if split_of(i) == split]
    arr, _ = read_rgb(files, size, True, background_rgb(background))
    notes.append(f"Twemoji's transparent pixels composited on {background} (data.background)")
    return as_rows(arr), (3, size, size)
