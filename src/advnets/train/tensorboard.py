"""TensorBoard beside metrics.jsonl (train.tensorboard): the same logged scalars, and each sample
grid as an image. Optional: it needs the tensorboard package."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def summary_writer_class():
    """torch's SummaryWriter, or ImportError saying how to get it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError(
            "train.tensorboard = true needs the tensorboard package: "
            "pip install 'advnets[tensorboard]', or set train.tensorboard = false"
        ) from None
    return SummaryWriter


class TensorBoardLog:
    def __init__(self, run_dir: Path, step: int):
        SummaryWriter = summary_writer_class()
        # purge_step: events a stopped run wrote after its checkpoint are dropped on resume,
        # as the rows of metrics.jsonl are
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=step or None)

    def scalars(self, row: dict) -> None:
        for key, value in row.items():
            if (
                key not in ("step", "partial")
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                self.writer.add_scalar(f"train/{key}", value, row["step"])
        self.writer.flush()

    def image(self, tag: str, png: Path, step: int) -> None:
        from PIL import Image

        with Image.open(png) as im:
            self.writer.add_image(tag, np.asarray(im.convert("RGB")), step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
