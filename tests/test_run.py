"""Run: the one object that knows a run folder."""

import json
import os
import subprocess
import sys
import time

import pytest

from advnets.errors import RunError
from advnets.run import Run, open_checkpoint
from advnets.train import train
from helpers import advnets, tiny_config


def test_a_new_run_folder_is_made_whole_and_a_used_one_refused(tmp_path):
    run = Run(tmp_path / "runs" / "r")
    config = tiny_config()
    lock = run.create(config)
    assert sorted(p.name for p in run.root.iterdir()) == [
        ".lock", "config.json", "metrics.jsonl", "samples",
    ]  # fmt: skip
    assert (run.root / ".lock").read_text() == f"{os.getpid()}\n"
    lock.release()
    assert run.config() == config
    assert not list(run.root.parent.glob(".*"))  # no staging folder left behind
    with pytest.raises(RunError, match="already exists and is not empty"):
        run.create(config)
    empty = Run(tmp_path / "empty")
    empty.root.mkdir()
    empty.create(config)  # an empty folder the user made is fine
    assert empty.is_run()


def test_not_a_run_folder_is_named(tmp_path):
    with pytest.raises(RunError, match=f"{tmp_path} is not a run folder"):
        Run(tmp_path).config()
    assert not Run(tmp_path).is_run()


def test_metrics_rows_partial_rows_and_a_cut_last_line(tmp_path):
    run = Run(tmp_path)
    rows = [{"step": 5}, {"step": 10}, {"step": 12, "partial": True}]
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 1')
    assert run.metrics() == rows  # the last line, cut short mid-write, is left out
    assert run.metrics(complete=True) == rows[:2]
    run.rewind_metrics(5)
    assert run.metrics() == [{"step": 5}]
    assert Run(tmp_path / "none").metrics() == []


def test_checkpoints_and_latest_from_a_run_or_a_checkpoint_folder(tmp_path):
    root = train(
        tiny_config(train={"max_steps": 6, "checkpoint_every": 3, "keep_checkpoints": 5}),
        tmp_path / "run",
        progress=False,
    )
    run = Run(root)
    assert [p.name for p in run.checkpoints()] == ["step-00000003", "step-00000006"]
    latest = run.latest_checkpoint()
    assert latest == run.checkpoint_path(6)
    assert (run.checkpoints_dir / "latest").read_text().strip() == latest.name
    for path in (root, latest):
        found, folder = open_checkpoint(path)
        assert found.root == root and folder == latest
    first, folder = open_checkpoint(run.checkpoint_path(3))
    assert first.root == root and folder == run.checkpoint_path(3)
    # no epoch ended: the one grid is of the step the run stopped at
    assert [p.name for p in run.sample_grids()] == ["step-00000006.png"]


def test_a_run_is_trained_by_one_process_at_a_time(tmp_path):
    """A second process asked to train a run that one is training is refused, naming the holder;
    a SIGKILLed holder leaves no stale lock."""
    run = tmp_path / "run"
    advnets(
        "train", "--preset", "digits-quick", "--out", run, "--train.max_steps", 2, "--no-progress"
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "advnets",
            "train",
            "--resume",
            str(run),
            "--no-progress",
            "--train.max_steps",
            "100000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = run / ".lock"
    deadline = time.time() + 120
    while not (lock.is_file() and lock.read_text().strip() == str(holder.pid)):
        assert holder.poll() is None and time.time() < deadline, holder.communicate()[1]
        time.sleep(0.05)
    second = advnets("train", "--resume", run, "--no-progress", check=False)
    assert second.returncode == 2, second.stderr
    assert f"in use: process {holder.pid} is training it" in second.stderr
    assert "Traceback" not in second.stderr
    holder.kill()
    holder.wait(timeout=60)
    advnets("train", "--resume", run, "--train.max_steps", 4, "--no-progress")  # no stale lock
    assert Run(run).latest_checkpoint() == Run(run).checkpoint_path(4)


def test_the_lock_is_held_by_a_trainer_in_this_process_too(tmp_path):
    from advnets.train import Trainer

    root = train(tiny_config(train={"max_steps": 2}), tmp_path / "run", progress=False)
    first = Trainer(tiny_config(train={"max_steps": 2}), root, resume=True, progress=False)
    with pytest.raises(RunError, match=f"process {os.getpid()} is training it"):
        Trainer(tiny_config(train={"max_steps": 2}), root, resume=True, progress=False)
    first.run()  # trains to its end and lets go
    Trainer(tiny_config(train={"max_steps": 2}), root, resume=True, progress=False).run()


def test_a_run_that_does_not_start_lets_go_of_its_folder(tmp_path):
    from advnets.errors import CheckpointError
    from advnets.train import Trainer

    root = train(tiny_config(train={"max_steps": 2}), tmp_path / "run", progress=False)
    state = Run(root).latest_checkpoint() / "state.json"
    state.write_text(state.read_text() + " ")  # damaged: its manifest no longer matches
    with pytest.raises(CheckpointError) as failed:
        Trainer(tiny_config(train={"max_steps": 2}), root, resume=True, progress=False)
    assert failed.value is not None  # the failed Trainer's frames are still referenced here
    Run(root).lock().release()  # and yet the run is free
