"""Named data sources, split as in the paper, as float32 tensors in memory.

- ``mnist``, ``fashion-mnist``: train = training images 0-49,999, valid = 50,000-59,999,
  test = the 10,000 test images; pixels scaled to [0, 1] (divided by 255), flattened to 784.
- ``digits``: scikit-learn's 1,797 bundled 8 x 8 digits (no download), pixels divided by 16;
  train = images 0-1,199, valid = 1,200-1,499, test = 1,500-1,796.
- toy distributions (see `advnets.data.toy`): train = `toy_size` points, valid and test
  10,000 points each, each split drawn with its own fixed seed, so every run sees the same data.
- ``cifar10``: CIFAR-10's binary files (advnets.data.cifar): train 40,000, valid 10,000, test
10,000.
- ``twemoji``: 3,786 colour emoji (advnets.data.twemoji): train 2,649, valid 190, test 947,
  every fourth file in sorted order a test image.
- ``images`` (a folder, advnets.data.images) and ``array`` (a .npy/.npz file, advnets.data.arrays):
  the user's own data, all of it the train split.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from advnets.data import download, twemoji
from advnets.data.idx import read_idx
from advnets.data.toy import TOYS
from advnets.errors import DataError

SPLITS = ("train", "valid", "test")
IDX_SOURCES = ("mnist", "fashion-mnist")
USER_SOURCES = ("images", "array")
SOURCES = (*IDX_SOURCES, "digits", "cifar10", "twemoji", *TOYS, *USER_SOURCES)
TOY_SPLIT_SEEDS = {"train": 1_000_001, "valid": 1_000_002, "test": 1_000_003}
# who made each source's data and on what terms: carried into an exported generator's model card
LICENCES = {
    "mnist": "MNIST, Yann LeCun, Corinna Cortes and Christopher J. C. Burges; no licence is "
    "published with the original files",
    "fashion-mnist": "Fashion-MNIST, Zalando Research, MIT licence",
    "digits": "scikit-learn's copy of the UCI Optical Recognition of Handwritten Digits data, "
    "CC BY 4.0",
    "cifar10": "CIFAR-10, Alex Krizhevsky, Vinod Nair and Geoffrey Hinton; no licence is "
    "published with the files",
    "twemoji": twemoji.LICENCE,
    **dict.fromkeys(TOYS, "points drawn by advnets (advnets.data.toy): no third-party data"),
    "images": "the user's own images: their licence is not known to advnets",
    "array": "the user's own array: its licence is not known to advnets",
}


@dataclass
class Dataset:
    name: str
    split: str
    x: torch.Tensor  # [N, D] float32
    y: torch.Tensor | None  # [N] int64 class labels, where the source has them
    # (height, width) for one-channel images, (channels, height, width) for colour ones (x holds
    # them channels first); None for points
    image_shape: tuple[int, ...] | None
    # what was done to the data that its user should be told (transparent images composited, ...)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[1]


def _check_split(source: str, split: str) -> None:
    if source not in SOURCES:
        raise DataError(f"unknown data source {source!r}; valid sources: {', '.join(SOURCES)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} of {source}; valid splits: {', '.join(SPLITS)}")


def _load_idx(source: str, split: str, data_dir, download_missing: bool, progress: bool) -> Dataset:
    part = "test" if split == "test" else "train"
    images_path = download.locate(
        source, f"{part}-images", data_dir, download=download_missing, progress=progress
    )
    labels_path = download.locate(
        source, f"{part}-labels", data_dir, download=download_missing, progress=progress
    )
    images = read_idx(images_path, expect_dims=3)
    labels = read_idx(labels_path, expect_dims=1)
    expected = 10_000 if part == "test" else 60_000
    for path, arr in ((images_path, images), (labels_path, labels)):
        if arr.shape[0] != expected or (arr.ndim == 3 and arr.shape[1:] != (28, 28)):
            want = f"({expected}, 28, 28)" if arr.ndim == 3 else f"({expected},)"
            raise DataError(
                f"{path}: expected the {source} {part} set of shape {want}, found {arr.shape}"
            )
    rows = {"train": slice(0, 50_000), "valid": slice(50_000, 60_000), "test": slice(0, 10_000)}[
        split
    ]
    x = torch.from_numpy(images[rows].reshape(-1, 784).astype(np.float32) / np.float32(255.0))
    y = torch.from_numpy(labels[rows].astype(np.int64))
    return Dataset(source, split, x, y, (28, 28))


def digits_table() -> np.ndarray:
    """scikit-learn's 1,797 bundled digits, a row each: 64 pixels (0-16), then the label.

    Read from the CSV that scikit-learn ships, found without importing it: importing
    sklearn.datasets takes about 2 s, longer than a small run trains. load_digits where the file
    is not in its place.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.origin is not None:
        csv = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            return np.loadtxt(csv, delimiter=",")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.column_stack([bunch.data, bunch.target])


def _load_digits(split: str) -> Dataset:
    table = digits_table()
    rows = {"train": slice(0, 1200), "valid": slice(1200, 1500), "test": slice(1500, None)}[split]
    x = torch.from_numpy((table[rows, :64] / 16.0).astype(np.float32))
    y = torch.from_numpy(table[rows, 64].astype(np.int64))
    return Dataset("digits", split, x, y, (8, 8))


def _load_toy(source: str, split: str, toy_size: int) -> Dataset:
    n = toy_size if split == "train" else 10_000
    gen = torch.Generator().manual_seed(TOY_SPLIT_SEEDS[split])
    return Dataset(source, split, TOYS[source].sample(n, gen), None, None)


def _load_cifar(split: str, data_dir, path) -> Dataset:
    from advnets.data.cifar import read_split

    folder = path or os.path.join(download.data_root(data_dir), "cifar-10-batches-bin")
    x, y = read_split(folder, split)
    return Dataset("cifar10", split, x, y, (3, 32, 32))


def _load_twemoji(split: str, data_dir, path, image_size: int, background: str) -> Dataset:
    root = Path(path) if path else download.data_root(data_dir) / twemoji.FOLDER
    notes: list[str] = []
    x, shape = twemoji.read_split(root, split, image_size, background, notes)
    return Dataset("twemoji", split, x, None, shape, notes)


def _load_user(
    source: str, split: str, path, image_size: int, color: str, resize: bool, background: str
) -> Dataset:
    if split != "train":
        raise DataError(
            f"data.source = {source!r} is your own data, all of it the train split; there is no "
            f"{split!r} split: compare with the training images (advnets evaluate --split train)"
        )
    if not path:
        raise DataError(
            f"data.source = {source!r} needs data.path: the "
            f"{'folder of images' if source == 'images' else '.npy or .npz file'}"
        )
    if source == "images":
        from advnets.data.images import read_folder

        notes: list[str] = []
        x, y, shape, _ = read_folder(path, image_size, color, resize, background, notes)
        return Dataset(source, split, x, y, shape, notes)
    from advnets.data.arrays import read_array

    x, y, shape = read_array(path)
    return Dataset(source, split, x, y, shape)


def load(
    source: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    download_missing: bool = True,
    toy_size: int = 50_000,
    progress: bool = True,
    path: str | None = None,
    image_size: int = 32,
    color: str = "auto",
    resize: bool = True,
    background: str = "white",
) -> Dataset:
    """Load one split of a source (see the module docstring for the splits). `path` is the user's
    folder or array file (images, array), or CIFAR-10's or Twemoji's folder; `image_size`,
    `color`, `resize` and `background` (of transparent images) shape a folder of images."""
    _check_split(source, split)
    if source in IDX_SOURCES:
        return _load_idx(source, split, data_dir, download_missing, progress)
    if source == "digits":
        return _load_digits(split)
    if source == "cifar10":
        return _load_cifar(split, data_dir, path)
    if source == "twemoji":
        return _load_twemoji(split, data_dir, path, image_size, background)
    if source in USER_SOURCES:
        return _load_user(source, split, path, image_size, color, resize, background)
    return _load_toy(source, split, toy_size)


def from_config(
    cfg, split: str = "train", data_dir: str | os.PathLike | None = None, *, progress: bool = True
) -> Dataset:
    """One split of the data a run's `DataConfig` names (`data_dir` overrides its `dir`)."""
    return load(
        cfg.source,
        split,
        data_dir or cfg.dir,
        download_missing=cfg.download,
        toy_size=cfg.toy_size,
        progress=progress,
        path=cfg.path,
        image_size=cfg.image_size,
        color=cfg.color,
        resize=cfg.resize,
        background=cfg.background,
    )
