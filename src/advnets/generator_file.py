"""The generator file: a trained G on its own, for sampling and for handing to someone else.

One safetensors file (`advnets export RUN --out g.advnets`): G's weights (the run's average of
G by default) as its tensors, and a model card as JSON in the file's metadata, under the key
"advnets": the architecture and the whole config, the data set and its licence, the training
step, the run's evaluation records of that checkpoint, the advnets version, and a SHA-256 over
the card and every tensor. Reading checks that digest before a network is built, so a file whose
weights or card were altered is refused. Nothing in it is executable: no pickle, no code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from advnets.errors import CheckpointError
from advnets.io import atomic_write_bytes

FORMAT = "advnets-generator-1"
SUFFIX = ".advnets"
CARD_KEY = "advnets"
MAX_CARD_BYTES = 16 << 20  # a card is a few kilobytes; evaluation records keep it far below this


def digest(card: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the card (without its own "sha256") and of every tensor's name, dtype, shape and
    bytes, in name order."""
    h = hashlib.sha256()
    body = {k: v for k, v in card.items() if k != "sha256"}
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write(path: str | Path, tensors: dict[str, torch.Tensor], card: dict[str, Any]) -> str:
    """Write a generator file atomically (whole or not at all); returns its digest."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    card = {**card, "format": FORMAT}
    card["sha256"] = digest(card, tensors)
    text = json.dumps(card, sort_keys=True)
    if len(text) > MAX_CARD_BYTES:
        raise CheckpointError(f"the model card is {len(text)} bytes, over {MAX_CARD_BYTES}")
    atomic_write_bytes(path, safetensors_bytes(tensors, metadata={CARD_KEY: text}))
    return card["sha256"]


def read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, card) of a generator file, its format and digest checked."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({err}): expected a generator file "
            f"written by `advnets export` (or a run or checkpoint folder)"
        ) from None
    text = metadata.get(CARD_KEY)
    if text is None:
        raise CheckpointError(
            f"{path} is a safetensors file without an advnets model card: expected a generator "
            "file written by `advnets export` (or a run or checkpoint folder)"
        )
    if len(text) > MAX_CARD_BYTES:
        raise CheckpointError(f"{path}: its model card is {len(text)} bytes, over {MAX_CARD_BYTES}")
    try:
        card = json.loads(text)
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: its model card is not JSON ({err})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        found = card.get("format") if isinstance(card, dict) else type(card).__name__
        raise CheckpointError(
            f"{path}: expected a model card of format {FORMAT!r}, found {found!r}"
        )
    if card.get("sha256") != digest(card, tensors):
        raise CheckpointError(
            f"{path} does not match the SHA-256 in its model card: its weights or its card were "
            "altered or damaged; export it again from its run"
        )
    return tensors, card
