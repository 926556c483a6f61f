"""A run folder, the one place that knows its layout.

    RUN/config.json        the resolved config (advnets.config), as trained
    RUN/metrics.jsonl      one JSON row of interval means per train.log_every steps
    RUN/samples/           epoch-NNNN.png: the fixed noise batch through G, per train.sample_every
    RUN/checkpoints/       step-NNNNNNNN/ folders (advnets.checkpoint) and `latest`, naming one
    RUN/evaluation.json    what `advnets evaluate` measured, by checkpoint
    RUN/figures/           what `advnets figure` drew
    RUN/encoder/ classify/ inpaint/ theory/   what the section 7 and theory commands wrote

A new run folder is made whole: built in a hidden staging folder beside it, then renamed into
place, so a crash leaves no run folder or a complete one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from advnets import checkpoint
from advnets.config import Config, load_json
from advnets.errors import RunError
from advnets.io import atomic_write_text


class Run:
    """The run folder `root`; nothing is read or made until asked."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Run({str(self.root)!r})"

    # -- where things are ---------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def evaluation_path(self) -> Path:
        return self.root / "evaluation.json"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    def sample_grid_path(self, epoch: int) -> Path:
        return self.samples_dir / f"epoch-{epoch:04d}.png"

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step:08d}"

    def folder(self, name: str) -> Path:
        """RUN/name: the folder an extension writes its results into (encoder, classify, ...)."""
        return self.root / name

    # -- what is there ------------------------------------------------------------------------

    def is_run(self) -> bool:
        return self.config_path.is_file()

    def require(self, doing: str = "use it") -> Run:
        """This run, or RunError saying that `root` is not a run folder."""
        if not self.is_run():
            raise RunError(f"{self.root} is not a run folder (no config.json): cannot {doing}")
        return self

    def config(self) -> Config:
        """The run's config as saved in config.json."""
        return load_json(self.require("read its config").config_path)

    def save_config(self, config: Config) -> None:
        atomic_write_text(self.config_path, json.dumps(config.to_dict(), indent=1))

    def latest_checkpoint(self) -> Path:
        """The checkpoint folder `latest` names (CheckpointNotFound when there is none)."""
        return checkpoint.resolve(self.root)

    def checkpoints(self) -> list[Path]:
        """The complete checkpoint folders, oldest first."""
        return checkpoint.complete_checkpoints(self.root)

    def metrics(self, *, complete: bool = False) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl; a last line cut short by a crash mid-append is left out.
        `complete`: without the partial row a stopped run appends (its interval is not over)."""
        rows = _read_metrics(self.metrics_path)
        return [r for r in rows if not r.get("partial")] if complete else rows

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def rewind_metrics(self, step: int) -> None:
        """Keep the log rows up to `step`, without partial ones: a resumed run's log then
        continues exactly as if the run had not stopped."""
        rows = [r for r in self.metrics(complete=True) if r["step"] <= step]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def sample_grids(self) -> list[Path]:
        return sorted(self.samples_dir.glob("*.png")) if self.samples_dir.is_dir() else []

    # -- making one ---------------------------------------------------------------------------

    def refuse_if_used(self) -> None:
        """RunError unless `root` is absent or an empty folder (a new run starts there)."""
        if self.root.exists() and any(self.root.iterdir()):
            raise RunError(
                f"run folder {self.root} already exists and is not empty: continue it with "
                f"'advnets train --resume {self.root}' or choose another --out"
            )

    def create(self, config: Config) -> None:
        """Make the run folder whole: config.json, an empty log and samples/, staged in a hidden
        folder beside it and renamed into place (onto an empty folder, if the user made one)."""
        self.refuse_if_used()
        self.root.parent.mkdir(parents=True, exist_ok=True)
        staging = self.root.parent / f".{self.root.name}.creating"
        if staging.exists():
            shutil.rmtree(staging)
        (staging / "samples").mkdir(parents=True)
        atomic_write_text(staging / "config.json", json.dumps(config.to_dict(), indent=1))
        atomic_write_text(staging / "metrics.jsonl", "")
        staging.rename(self.root)


def open_checkpoint(path: str | Path) -> tuple[Run, Path]:
    """(the run, the checkpoint folder) for a run folder (its latest checkpoint) or a checkpoint
    folder inside one."""
    folder = checkpoint.resolve(path)
    return run_of(folder), folder


def run_of(checkpoint_folder: str | Path) -> Run:
    """The run a checkpoint folder (RUN/checkpoints/step-N) belongs to."""
    return Run(Path(checkpoint_folder).parent.parent)


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl file; a last line cut short by a crash mid-append is left out."""
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines[:-1]]
    if lines:
        try:
            rows.append(json.loads(lines[-1]))
        except json.JSONDecodeError:
            pass
    return rows
