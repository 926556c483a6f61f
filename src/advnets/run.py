"""A run folder, the one place that knows its layout.

    RUN/config.json        the resolved config (advnets.config), as trained
    RUN/metrics.jsonl      one JSON row of interval means per train.log_every steps
    RUN/samples/           epoch-NNNN.png: the fixed noise batch through G, per train.sample_every;
                           step-NNNNNNNN.png where a run stopped between two of those
    RUN/checkpoints/       step-NNNNNNNN/ folders (advnets.checkpoint) and `latest`, naming one
    RUN/evaluation.json    what `advnets evaluate` measured, by checkpoint
    RUN/figures/           what `advnets figure` drew
    RUN/encoder/ classify/ inpaint/ theory/   what the section 7 and theory commands wrote

A new run folder is made whole: built in a hidden staging folder beside it, then renamed into
place, so a crash leaves no run folder or a complete one. While a process trains a run it holds
an OS lock on RUN/.lock (released by the system when the process ends, however it ends), so a
second process asked to train the same run is refused, with the holder's process id.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import warnings
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
        if self.root.exists() and not self.root.is_dir():
            raise RunError(f"{self.root} is a file, not a folder: choose another --out")
        if self.root.exists() and any(self.root.iterdir()):
            hint = (
                f"continue it with 'advnets train --resume {self.root}' or choose another --out"
                if self.is_run()
                else "it is not a run folder (no config.json): choose another --out"
            )
            raise RunError(f"run folder {self.root} already exists and is not empty: {hint}")

    def create(self, config: Config) -> RunLock:
        """Make the run folder whole: config.json, an empty log and samples/, staged in a hidden
        folder beside it and renamed into place (onto an empty folder, if the user made one).
        Returns its lock, taken before it appears: no other process can train it meanwhile."""
        self.refuse_if_used()
        self.root.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(self.root)
        staging = self.root.parent / f".{self.root.name}.creating-{os.getpid()}"
        if staging.exists():
            shutil.rmtree(staging)
        lock = None
        try:
            (staging / "samples").mkdir(parents=True)
            lock = RunLock(staging / LOCK_FILE, self.root)
            atomic_write_text(staging / "config.json", json.dumps(config.to_dict(), indent=1))
            atomic_write_text(staging / "metrics.jsonl", "")
            staging.rename(self.root)
        except BaseException:  # a full disk, or another process made it first: nothing is left
            if lock is not None:
                lock.release()
            shutil.rmtree(staging, ignore_errors=True)
            self.refuse_if_used()
            raise
        return lock

    def lock(self) -> RunLock:
        """Hold the run: RunError naming the process that holds it already."""
        return RunLock(self.root / LOCK_FILE, self.root)


LOCK_FILE = ".lock"


class RunLock:
    """An exclusive OS lock (flock) on a run's lock file, with the holder's pid written in it.
    The system drops it when the process ends, so a killed run leaves no stale lock."""

    def __init__(self, path: Path, root: Path):
        self.fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as before
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                # a file system without locks (NFS mounted nolock, some FUSE and SMB mounts)
                warnings.warn(
                    f"{path}: this file system cannot lock files ({err.strerror}), so nothing "
                    "stops a second process from training this run",
                    stacklevel=2,
                )
                return
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            self.release()
            raise RunError(
                f"run folder {root} is in use: process {holder} is training it. One process "
                "trains a run at a time: wait for it to end, or stop it (its checkpoint is kept)"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the file releases the lock
            self.fd = None

    def __del__(self):
        self.release()


def _remove_stale_staging(root: Path) -> None:
    """Staging folders of `root` left by processes that died while creating it."""
    for staging in root.parent.glob(f".{glob.escape(root.name)}.creating-*"):
        pid = staging.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
