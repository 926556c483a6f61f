"""CIFAR-10 in its binary format (the paper's third data set): files of 10,000 records, each one
label byte then 3,072 pixel bytes (1,024 red, then green, then blue, each 32 x 32 row-major).

Splits, as MNIST's: train = data_batch_1-4 (40,000), valid = data_batch_5, test = test_batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from advnets.errors import DataError

RECORD = 1 + 3 * 32 * 32
FILES = {
    "train": [f"data_batch_{i}.bin" for i in range(1, 5)],
    "valid": ["data_batch_5.bin"],
    "test": ["test_batch.bin"],
}


def read_split(folder: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x [N, 3072] float32 in [0, 1], labels [N]) of a split from the folder of .bin files."""
    folder = Path(folder)
    xs, ys = [], []
    for name in FILES[split]:
        path = folder / name
        if not path.is_file():
            raise DataError(
                f"{path} is missing: CIFAR-10's binary version (cifar-10-binary.tar.gz) unpacks to "
                f"a folder holding {', '.join(n for names in FILES.values() for n in names)}; "
                "point "
                "data.path at it"
            )
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % RECORD:
            raise DataError(
                f"{path}: {raw.size} bytes is not a whole number of {RECORD}-byte CIFAR-10 records"
            )
        records = raw.reshape(-1, RECORD)
        if records[:, 0].max() > 9:
            raise DataError(
                f"{path}: label byte {int(records[:, 0].max())} is not a CIFAR-10 class (0-9)"
            )
        ys.append(records[:, 0].astype(np.int64))
        xs.append(records[:, 1:])
    x = torch.from_numpy(np.concatenate(xs).astype(np.float32) / np.float32(255.0))
    return x, torch.from_numpy(np.concatenate(ys))
