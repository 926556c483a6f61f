"""`advnets export`: a run's generator as one file that needs neither the run nor the trainer.

- format "advnets" (the default): a generator file (advnets.generator_file): safetensors
  weights and a JSON model card, read back by `advnets.load_generator`, `advnets sample` and
  `advnets serve`.
- format "onnx": G as an ONNX graph (opset `OPSET`, the batch dimension dynamic) from the noise
  z [B, noise_dim] (and, for a conditional G, the classes c [B], int64) to the samples
  [B, C, H, W] for images, [B, D] for points, with the same model card in its metadata_props
  under "advnets". The noise is drawn outside the graph: `TrainedGenerator.noise` gives the
  noise of a seed. Needs the onnx extra.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from advnets import __version__, generator_file
from advnets.data.sources import LICENCES
from advnets.errors import ArgumentError, RunError
from advnets.io import atomic_write_bytes, sha256_file
from advnets.run import run_of
from advnets.sample import BLOCK, TrainedGenerator, load_generator

FORMATS = ("advnets", "onnx")
OPSET = 18


def _shareable_config(trained: TrainedGenerator) -> dict[str, Any]:
    """The run's config with the data's folder and file reduced to their names: a card is for
    handing on, and the trainer's local paths are no one else's business."""
    data = trained.config.data
    data = dataclasses.replace(
        data,
        dir=None,
        path=Path(data.path).name if data.path else None,
    )
    return {**trained.config.to_dict(), "data": dataclasses.asdict(data)}


def _evaluation_records(trained: TrainedGenerator) -> dict[str, Any]:
    """The run's evaluation records of the exported checkpoint ({} when none were made)."""
    book_path = trained.run.evaluation_path
    if not book_path.is_file():
        return {}
    try:
        book = json.loads(book_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(
            f"{book_path} is not readable JSON ({err}): move it aside to export without its records"
        ) from None
    entry = book.get(trained.checkpoint.name) if isinstance(book, dict) else None
    return entry if isinstance(entry, dict) else {}


def model_card(trained: TrainedGenerator) -> dict[str, Any]:
    """What a generator file says of itself (all but its format and digest)."""
    if trained.card is not None:  # re-exported from a generator file: its card as it was
        return {k: v for k, v in trained.card.items() if k not in ("format", "sha256")}
    config = trained.config
    freqs, shape = trained.class_frequencies, trained.image_shape
    return {
        "advnets_version": __version__,
        "architecture": {
            **dataclasses.asdict(config.generator),
            "data_dim": math.prod(shape) if shape else trained.G.out.out_features,
            "image_shape": list(shape) if shape else None,
            "class_frequencies": freqs.tolist() if freqs is not None else None,
        },
        "config": _shareable_config(trained),
        "data": {"source": config.data.source, "licence": LICENCES[config.data.source]},
        "training": {
            "step": trained.step,
            "weights": "average" if trained.averaged else "last iterate",
        },
        "evaluation": _evaluation_records(trained),
        "source": {
            "run": run_of(trained.checkpoint).root.name,
            "checkpoint": trained.checkpoint.name,
            "weights_sha256": sha256_file(trained.checkpoint / "weights.safetensors"),
        },
    }


def export(
    source: str | Path,
    out: str | Path,
    *,
    format: str = "advnets",
    average: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Write the generator of `source` (a run folder, a checkpoint folder or a generator file) to
    `out`, whole or not at all. Returns the model card as written."""
    if format not in FORMATS:
        raise ArgumentError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and not force:
        raise ArgumentError(f"{out} exists: choose another --out, or replace it with --force")
    if out.is_dir():
        raise ArgumentError(f"{out} is a folder: --out names the file to write")
    trained = load_generator(source, average=average)
    card = model_card(trained)
    if format == "advnets":
        state = trained.G.state_dict()
        card["sha256"] = generator_file.write(out, state, card)
        card["format"] = generator_file.FORMAT
        return card
    _write_onnx(trained, out, card)
    return card


class _Graph(nn.Module):
    """G from its inputs to samples shaped as the data: what the ONNX file computes."""

    def __init__(self, trained: TrainedGenerator):
        super().__init__()
        self.G, self.shape = trained.G, trained.image_shape

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.G(z, c)
        return x.reshape(-1, *self.shape) if self.shape else x


def onnx_inputs(trained: TrainedGenerator, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """The ONNX graph's inputs for the first n samples of a seed: {"z": ..., "c": ...}."""
    if not 1 <= n <= BLOCK:
        raise ArgumentError(
            f"n = {n}: the inputs of a seed's first 1 to {BLOCK} samples (one block of noise); "
            "call it per block for more"
        )
    z, c = trained.noise(n, seed)
    return {"z": z} if c is None else {"z": z, "c": c}


def _write_onnx(trained: TrainedGenerator, out: Path, card: dict[str, Any]) -> None:
    try:
        import onnx  # noqa: F401  (the exporter needs it; a clear error here, not deep inside)
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ArgumentError(
            f"--format onnx needs the onnx extra ({err.name} is missing): pip install "
            "'advnets[onnx]'"
        ) from None
    inputs = onnx_inputs(trained)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    graph = _Graph(trained).eval()
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # its notes of skipped torchvision operators are noise
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # the exporter's own deprecation notes
            program = torch.onnx.export(
                graph,
                tuple(inputs.values()),
                input_names=list(inputs),
                output_names=["x"],
                dynamic_shapes={name: {0: batch} for name in inputs},
                opset_version=OPSET,
                dynamo=True,
                verbose=False,
            )
    finally:
        exporter_log.setLevel(level)
    program.model.metadata_props["advnets"] = json.dumps(card, sort_keys=True)
    with tempfile.TemporaryDirectory() as staging:
        path = Path(staging) / "generator.onnx"
        program.save(str(path))
        atomic_write_bytes(out, path.read_bytes())  # the file appears whole or not at all
