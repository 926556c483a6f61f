"""Checkpoints as plain data: tensors in safetensors, everything else in JSON, never pickle.

Layout of RUN/checkpoints/step-NNNNNNNN/:
  weights.safetensors  generator.* and discriminator.* parameters and buffers, and
                       generator_average.* when the run averages G's weights (config.average)
  state.safetensors    optimiser tensors (d_opt.*, g_opt.*), RNG states (rng.*), log accumulators
  state.json           step, epoch, position in the epoch, config, optimiser hyper-parameters
A checkpoint is written into a temporary folder, every file fsynced, then renamed into place;
the `latest` pointer file is replaced last, so a crash at any moment leaves the previous
checkpoint intact and pointed to.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from advnets.io import atomic_write_text, fsync_dir

FORMAT = "advnets-checkpoint-1"
AVERAGE_PREFIX = "generator_average"


def optimizer_to_flat(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser's state into tensors (for safetensors) and JSON-able rest."""
    sd = opt.state_dict()
    tensors, plain = {}, {}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "plain_state": plain}


def optimizer_from_flat(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                        meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            idx, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta["plain_state"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save(folder: Path, weights: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor],
         meta: dict[str, Any], keep: int) -> Path:
    """Write checkpoint `folder` (a child of RUN/checkpoints) atomically, then point `latest` at it."""
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{folder.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(tmp / "weights.safetensors"),
              metadata={"format": FORMAT})
    save_file(tensors, str(tmp / "state.safetensors"), metadata={"format": FORMAT})
    (tmp / "state.json").write_text(json.dumps({"format": FORMAT, **meta}, indent=1))
    for f in tmp.iterdir():
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
    fsync_dir(tmp)
    old = parent / f".{folder.name}.old"
    if folder.exists():  # the same step saved again: set the old copy aside until the new one is in place
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    fsync_dir(parent)
    shutil.rmtree(old, ignore_errors=True)
    atomic_write_text(parent / "latest", folder.name + "\n")
    _prune(parent, keep)
    return folder


def _prune(parent: Path, keep: int) -> None:
    done = sorted(p for p in parent.glob("step-*") if p.is_dir())
    latest = (parent / "latest").read_text().strip()
    for old in done[:-keep] if keep > 0 else []:
        if old.name != latest:
            shutil.rmtree(old)


def resolve(path: str | Path) -> Path:
    """A checkpoint folder from a run folder (its latest checkpoint) or a checkpoint folder."""
    path = Path(path)
    if _complete(path):
        return path
    pointer = path / "checkpoints" / "latest"
    if pointer.is_file():
        ckpt = path / "checkpoints" / pointer.read_text().strip()
        if _complete(ckpt):
            return ckpt
        # A crash while a checkpoint of the same step was replaced: take the newest complete one.
        done = complete_checkpoints(path)
        if done:
            return done[-1]
        raise FileNotFoundError(f"{pointer} points to {ckpt}, which is not a complete checkpoint")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: expected a run folder or a checkpoint folder")
    raise FileNotFoundError(
        f"{path} holds no checkpoint: expected a run folder with checkpoints/latest, or a checkpoint "
        "folder with state.json and weights.safetensors")


def complete_checkpoints(run: str | Path) -> list[Path]:
    """The complete checkpoint folders of a run, oldest first."""
    return sorted(p for p in (Path(run) / "checkpoints").glob("step-*") if _complete(p))


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("state.json", "weights.safetensors", "state.safetensors"))


def load(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    meta = json.loads((folder / "state.json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder}/state.json: expected format {FORMAT!r}, found {meta.get('format')!r}")
    weights = load_file(str(folder / "weights.safetensors"))
    tensors = load_file(str(folder / "state.safetensors"))
    return weights, tensors, meta


def split_weights(weights: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1:]: v for k, v in weights.items() if k.startswith(prefix + ".")}
