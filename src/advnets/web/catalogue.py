"""What `advnets serve` shows, read from a folder of runs and generator files: never written.

An entry is a run folder (it has config.json) or a generator file (`*.advnets`) directly inside
the served folder, or the served path itself when it is one. Entries are named by their file
names, and a request names an entry only by one of those names: no path from a request is ever
joined to the folder.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advnets import config as cfgmod
from advnets import generator_file
from advnets.errors import CheckpointNotFound
from advnets.run import Run

MAX_CURVE_POINTS = 2_000  # per series: a longer log is thinned evenly (its last row kept)
GRID_NAME = re.compile(r"epoch-\d{4,}\.png")  # the names a run's sample grids have
# log fields that are not curves
NOT_CURVES = ("step", "epoch", "partial", "time", "elapsed_s")


@dataclass(frozen=True)
class Entry:
    name: str
    path: Path
    kind: str  # "run" or "file"


def entries(root: Path) -> dict[str, Entry]:
    """The served entries by name, in name order."""
    if root.is_file():  # a generator file, as load_generator reads any file given it
        return {root.name: Entry(root.name, root, "file")}
    if Run(root).is_run():
        return {root.name: Entry(root.name, root, "run")}
    found = {}
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.is_dir() and Run(path).is_run():
            found[path.name] = Entry(path.name, path, "run")
        elif path.is_file() and path.suffix == generator_file.SUFFIX:
            found[path.name] = Entry(path.name, path, "file")
    return found


def closest_preset(config: cfgmod.Config) -> tuple[str | None, list[str]]:
    """The preset a config differs least from (among those of its data source, when any is),
    and the fields where it differs; the seed, the length and how the run is logged and saved
    are not counted."""
    ignored = {"train.seed", "train.epochs", "train.max_steps", "train.log_every",
               "train.checkpoint_every", "train.keep_checkpoints", "train.sample_every",
               "train.tensorboard", "data.dir", "data.path", "data.download"}  # fmt: skip
    presets = _presets()
    same_data = {n: p for n, p in presets.items() if p.data.source == config.data.source}
    best: tuple[str | None, list[str]] = (None, [])
    for name, preset in (same_data or presets).items():
        changed = [f for f in cfgmod.changed_fields(config, preset) if f not in ignored]
        if best[0] is None or len(changed) < len(best[1]):
            best = (name, changed)
    return best


@functools.cache
def _presets() -> dict[str, cfgmod.Config]:
    """The presets, read once (every listing of the runs compares each run with all of them)."""
    return {name: cfgmod.load_preset(name) for name in cfgmod.preset_names()}


def _evaluations(run: Run) -> dict[str, Any]:
    try:
        book = json.loads(run.evaluation_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return book if isinstance(book, dict) else {}


def summary(entry: Entry) -> dict[str, Any]:
    """What the list of runs shows of an entry: preset, data, steps, evaluation records."""
    if entry.kind == "file":
        _, card = generator_file.read(entry.path)
        config = cfgmod.from_dict(card["config"], source=str(entry.path))
        step = card["training"]["step"]
        evaluations = (
            {card["source"]["checkpoint"]: card["evaluation"]} if card["evaluation"] else {}
        )
        checkpoints = [card["source"]["checkpoint"]]
    else:
        run = Run(entry.path)
        config = run.config()
        checkpoints = [c.name for c in run.checkpoints()]
        step = int(checkpoints[-1].split("-")[1]) if checkpoints else 0
        evaluations = _evaluations(run)
    preset, changed = closest_preset(config)
    return {
        "name": entry.name,
        "kind": entry.kind,
        "preset": preset,
        "changed": changed,
        "data": config.data.source,
        "generator": config.generator.kind,
        "conditional": config.condition.kind != "none",
        "step": step,
        "checkpoints": checkpoints,
        "evaluations": evaluations,
        "averaged": config.average.kind != "none",
    }


def curves(entry: Entry) -> dict[str, Any]:
    """The run's logged scalars: {"step": [...], "series": {name: [...]}}, thinned to at most
    MAX_CURVE_POINTS rows; a generator file has none."""
    if entry.kind == "file":
        return {"step": [], "series": {}}
    rows = Run(entry.path).metrics(complete=True)
    if len(rows) > MAX_CURVE_POINTS:
        stride = -(-len(rows) // MAX_CURVE_POINTS)
        rows = rows[::stride] + ([rows[-1]] if (len(rows) - 1) % stride else [])
    names = sorted({k for r in rows for k, v in r.items() if k not in NOT_CURVES and _number(v)})
    return {
        "step": [r["step"] for r in rows],
        "series": {n: [r.get(n) if _number(r.get(n)) else None for r in rows] for n in names},
    }


def _number(v: Any) -> bool:
    return (
        isinstance(v, (int, float))
        and not isinstance(v, bool)
        and v == v
        and abs(v) != float("inf")
    )


def grids(entry: Entry) -> list[str]:
    """The names of a run's sample grids through training, oldest first."""
    if entry.kind == "file":
        return []
    return [p.name for p in Run(entry.path).sample_grids() if GRID_NAME.fullmatch(p.name)]


def grid_path(entry: Entry, name: str) -> Path:
    """The file of one of `grids(entry)`; CheckpointNotFound for any other name."""
    if name not in grids(entry):
        raise CheckpointNotFound(f"{entry.name} has no sample grid {name!r}")
    return Run(entry.path).samples_dir / name


def checkpoint_source(entry: Entry, checkpoint: str | None) -> Path:
    """What a generator is loaded from: the entry's file, its latest checkpoint, or the named
    one of its checkpoints."""
    if entry.kind == "file":
        return entry.path
    run = Run(entry.path)
    if not checkpoint:
        return run.latest_checkpoint()
    by_name = {c.name: c for c in run.checkpoints()}
    if checkpoint not in by_name:
        raise CheckpointNotFound(
            f"{entry.name} has no complete checkpoint {checkpoint!r}; it has "
            f"{', '.join(by_name) or 'none'}"
        )
    return by_name[checkpoint]
