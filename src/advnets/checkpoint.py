"""Checkpoints as plain data: tensors in safetensors, everything else in JSON, never pickle.

Layout of RUN/checkpoints/step-NNNNNNNN/:
  weights.safetensors  generator.* and discriminator.* parameters and buffers, and
                       generator_average.* when the run averages G's weights (config.average),
                       discriminator_average.* when it averages D's too (average.discriminator)
  state.safetensors    optimiser tensors (d_opt.*, g_opt.*), RNG states (rng.*), log accumulators
  state.json           step, epoch, position in the epoch, config, optimiser hyper-parameters
  manifest.json        each file's size and SHA-256, so a truncated or altered file is named on load
A checkpoint is written into a temporary folder, every file fsynced, then renamed into place;
the `latest` pointer file is replaced last, so a crash at any moment leaves the previous
checkpoint intact and pointed to. A write that fails (a full disk) removes its temporary folder
and leaves every earlier checkpoint as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from advnets.errors import CheckpointError, CheckpointNotFound
from advnets.io import atomic_write_text, fsync_dir, sha256_file, write_durably

FORMAT = "advnets-checkpoint-1"
AVERAGE_PREFIX = "generator_average"
D_AVERAGE_PREFIX = "discriminator_average"
FILES = ("weights.safetensors", "state.safetensors", "state.json")
MANIFEST = "manifest.json"
MAX_JSON_BYTES = 64 << 20  # state.json and the manifest are small; a larger one is not ours


def optimizer_to_flat(
    prefix: str, opt: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict]:
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


def optimizer_from_flat(
    prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            idx, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta["plain_state"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save(
    folder: Path,
    weights: dict[str, torch.Tensor],
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    keep: int,
) -> Path:
    """Write checkpoint `folder` (a child of RUN/checkpoints) atomically, then point `latest` at it,
    then delete all but the newest `keep` checkpoints (never the one just written)."""
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{folder.name}.tmp"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        contents = {
            "weights.safetensors": safetensors_bytes(
                {k: v.detach().cpu().contiguous() for k, v in weights.items()},
                metadata={"format": FORMAT},
            ),
            "state.safetensors": safetensors_bytes(tensors, metadata={"format": FORMAT}),
            "state.json": json.dumps({"format": FORMAT, **meta}, indent=1).encode(),
        }
        manifest = {
            "format": FORMAT,
            "files": {
                name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in contents.items()
            },
        }
        contents[MANIFEST] = json.dumps(manifest, indent=1).encode()
        for name, data in contents.items():
            write_durably(tmp / name, data)
        fsync_dir(tmp)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        previous = _latest_name(parent)
        kept = (
            f"the previous checkpoint {parent / previous} is untouched"
            if previous
            else "no earlier checkpoint"
        )
        raise CheckpointError(
            f"could not write checkpoint {folder}: {err}; {kept}. Free space (or fix the "
            f"error) and continue the run with 'advnets train --resume {parent.parent}'"
        ) from err
    old = parent / f".{folder.name}.old"
    if (
        folder.exists()
    ):  # the same step saved again: set the old copy aside until the new one is in place
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    fsync_dir(parent)
    shutil.rmtree(old, ignore_errors=True)
    verify(folder)  # what was written reads back whole before anything older is let go
    atomic_write_text(parent / "latest", folder.name + "\n")
    _prune(parent, folder, keep)
    return folder


def _latest_name(parent: Path) -> str | None:
    try:
        return (parent / "latest").read_text().strip() or None
    except OSError:
        return None


def _prune(parent: Path, newest: Path, keep: int) -> None:
    """Keep the newest `keep` checkpoints. `newest` was just verified, so a loadable one always
    stays."""
    done = sorted(p for p in parent.glob("step-*") if p.is_dir() and p != newest)
    for old in done[: max(len(done) - (keep - 1), 0)]:
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
        raise CheckpointNotFound(f"{pointer} points to {ckpt}, which is not a complete checkpoint")
    if not path.exists():
        raise CheckpointNotFound(
            f"{path} does not exist: expected a run folder or a checkpoint folder"
        )
    raise CheckpointNotFound(
        f"{path} holds no checkpoint: expected a run folder with checkpoints/latest, or a "
        "checkpoint "
        "folder with state.json and weights.safetensors"
    )


def complete_checkpoints(run: str | Path) -> list[Path]:
    """The complete checkpoint folders of a run, oldest first."""
    return sorted(p for p in (Path(run) / "checkpoints").glob("step-*") if _complete(p))


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def _read_json(path: Path) -> dict:
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise CheckpointError(
            f"{path} is {size} bytes, larger than any advnets checkpoint writes "
            f"({MAX_JSON_BYTES} at most): not an advnets checkpoint file"
        )
    try:
        value = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"{path} is not valid JSON ({err}): the checkpoint is damaged"
        ) from None
    if not isinstance(value, dict):
        raise CheckpointError(
            f"{path} holds a JSON {type(value).__name__}, expected an object: not an advnets "
            "checkpoint file"
        )
    return value


# A checkpoint without its manifest cannot be checked, so it is refused, unless this is set
# (`advnets COMMAND --allow-unverified`): then it is read unchecked, with a warning naming it.
allow_unverified = False


class UnverifiedCheckpoint(UserWarning):
    """A checkpoint read without the check of its manifest (allow_unverified)."""


def verify(folder: Path) -> None:
    """Check each file's size and SHA-256 against the manifest (size first, so a huge file is not
    read). A checkpoint without a manifest is refused unless `allow_unverified` is set."""
    if not (folder / MANIFEST).is_file():
        if not allow_unverified:
            raise CheckpointError(
                f"{folder / MANIFEST} is missing, so the checkpoint's files cannot be checked "
                "against what was written (a damaged or altered file would load as if whole); "
                "advnets writes one with every checkpoint. To read this one unchecked, add "
                "--allow-unverified (in Python: advnets.checkpoint.allow_unverified = True)"
            )
        warnings.warn(
            f"{folder} has no {MANIFEST}: its files are read unchecked", UnverifiedCheckpoint,
            stacklevel=2,
        )  # fmt: skip
        return
    manifest = _read_json(folder / MANIFEST)
    files = manifest.get("files")
    if manifest.get("format") != FORMAT or not isinstance(files, dict) or set(files) != set(FILES):
        raise CheckpointError(
            f"{folder / MANIFEST} is not an {FORMAT} manifest listing {', '.join(FILES)}"
        )
    for name in FILES:
        path, expected = folder / name, files[name]
        size = path.stat().st_size
        if size != expected.get("bytes"):
            written = expected.get("bytes")
            cut = ""
            if isinstance(written, int):  # a file cut short, or another file in its place
                cut = " (shorter than written: cut short, or replaced)" if size < written else ""
                cut = cut or " (longer than written: replaced)"
            raise CheckpointError(
                f"{path} has {size} bytes, its manifest says {expected.get('bytes')}{cut}: "
                "the checkpoint is damaged; resume from an earlier one in "
                f"{folder.parent} or start again"
            )
        if sha256_file(path) != expected.get("sha256"):
            raise CheckpointError(
                f"{path} does not match the SHA-256 in its manifest: the file was altered "
                f"or damaged (bytes flipped); resume from an earlier checkpoint in {folder.parent}"
            )


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors. safetensors checks the header (its length, offsets and
    shapes against the file) before any tensor is made, so a lying header fails here, quickly."""
    try:
        return load_file(str(path))
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({err}): the checkpoint is damaged "
            "or not an advnets checkpoint"
        ) from None


def read_state(folder: Path) -> dict[str, Any]:
    """state.json of a checkpoint (step, config, data shape, ...), its size and fields checked;
    the files' hashes are not (`load` checks them)."""
    meta = _read_json(folder / "state.json")
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{folder}/state.json: expected format {FORMAT!r}, found {meta.get('format')!r}"
        )
    step = meta.get("step")
    if (
        not isinstance(step, int)
        or isinstance(step, bool)
        or step < 0
        or not isinstance(meta.get("config"), dict)
    ):
        raise CheckpointError(
            f"{folder}/state.json: expected a step (an integer >= 0) and a config object"
        )
    return meta


def load(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """(weights, training state tensors, state.json) of a checkpoint, every file checked first."""
    verify(folder)
    meta = read_state(folder)
    return (
        _read_tensors(folder / "weights.safetensors"),
        _read_tensors(folder / "state.safetensors"),
        meta,
    )


def split_weights(weights: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1 :]: v for k, v in weights.items() if k.startswith(prefix + ".")}


def check_fit(
    module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, source: Path | str
) -> None:
    """Raise, listing what differs, unless `state` has exactly `module`'s keys and shapes (a
    checkpoint of another architecture is refused before anything is loaded)."""
    expected = module.state_dict()
    problems = [f"missing {k} {tuple(v.shape)}" for k, v in expected.items() if k not in state]
    problems += [f"unexpected {k} {tuple(v.shape)}" for k, v in state.items() if k not in expected]
    problems += [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if problems:
        shown = "; ".join(problems[:12]) + (
            f"; and {len(problems) - 12} more" if len(problems) > 12 else ""
        )
        raise CheckpointError(
            f"{source}: the {what} weights do not fit the configured {what} "
            f"({len(problems)} mismatches: {shown}); the checkpoint is of another architecture"
        )


def load_into(
    module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, source: Path | str
) -> None:
    """`module.load_state_dict(state)` once check_fit has passed: all of it or nothing."""
    check_fit(module, state, what, source)
    module.load_state_dict(state)
