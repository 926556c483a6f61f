"""Faults a run must survive: SIGKILL at any moment, a NaN, SIGTERM, a full disk, retention, and
hostile or broken checkpoint files. benchmarks/reliability.py runs the longer campaign."""

import errno
import hashlib
import json
import math
import os
import pickle
import shutil
import signal
import struct
import sys
from pathlib import Path

import pytest
import torch

from advnets import checkpoint
from advnets.errors import NonFiniteError
from advnets.train import Trainer, epoch_permutation
from helpers import TINY_FLAGS, advnets, interrupt_training, tiny_config

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import reliability


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_twenty_sigkills_lose_nothing(tmp_path):
    report = reliability.campaign(tmp_path, kills=21, seed=1)
    assert report["kills"] == 21 and all(report["by_moment"].values())
    assert report["problems"] == []
    assert report["during_checkpoint_write"] >= 3  # the kills did land inside checkpoint writes
    assert report["final_differences"] == [], (
        "the resumed run ended differently from the uninterrupted one"
    )


# -- non-finite values -------------------------------------------------------------------------


def trainer_with_checkpoints(tmp_path, **train):
    config = tiny_config(train={"checkpoint_every": 3, "keep_checkpoints": 2, "epochs": 3, **train})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    for _ in range(6):
        trainer.train_step()
        if trainer.step % 3 == 0:
            trainer.save_checkpoint()
    return trainer


def poison_next_minibatch(trainer: Trainer) -> None:
    """A NaN in one image of the next step's minibatch (a corrupt pixel in the data)."""
    b, seed = trainer.config.train.batch_size, trainer.config.train.seed
    epoch, index = divmod(trainer.step, trainer.steps_per_epoch)
    row = epoch_permutation(seed, epoch, len(trainer.data))[index * b]
    # on the CPU the trainer trains on this very tensor, so the NaN reaches the next minibatch
    trainer.data.x[row, 3] = float("nan")


def test_nan_at_step_k_stops_naming_the_step_and_tensor_and_keeps_the_checkpoint(tmp_path):
    trainer = trainer_with_checkpoints(tmp_path)
    good = checkpoint.resolve(tmp_path / "run")
    assert good.name == "step-00000006"
    before = digests(good)
    params = [p.detach().clone() for p in trainer.players.D.parameters()]
    poison_next_minibatch(trainer)
    with pytest.raises(NonFiniteError) as err:
        trainer.run()
    message = str(err.value)
    assert "step 7 " in message and "d_loss" in message and "D's gradient" in message
    assert "step-00000006 is untouched" in message and "train.nonfinite = skip" in message
    assert trainer.step == 6  # not counted: nothing was updated
    assert all(torch.equal(a, b) for a, b in zip(params, trainer.players.D.parameters()))
    assert checkpoint.resolve(tmp_path / "run") == good and digests(good) == before


def test_nan_with_skip_skips_and_counts_the_update(tmp_path):
    trainer = trainer_with_checkpoints(tmp_path, nonfinite="skip", log_every=1)
    poison_next_minibatch(trainer)  # the same image comes back once in each later epoch as well
    trainer.run()
    total = trainer.total_steps()
    assert trainer.step == total
    assert trainer.skipped_updates == 3  # epochs 1, 2 and 3 each hold one minibatch with that image
    assert all(torch.isfinite(p).all() for p in trainer.players.D.parameters())
    rows = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert rows[-1]["skipped"] == 3
    assert not any(
        isinstance(v, float) and math.isnan(v) for r in rows for v in r.values()
    )  # no NaN logged
    meta = json.loads((checkpoint.resolve(tmp_path / "run") / "state.json").read_text())
    assert meta["skipped_updates"] == 3


# -- SIGTERM -----------------------------------------------------------------------------------


def test_sigterm_writes_a_final_checkpoint_and_exits_cleanly(tmp_path):
    run = tmp_path / "run"
    returncode, err = interrupt_training(
        [*reliability.RUN_ARGS, "--train.checkpoint_every", "100000", "--train.epochs", "200"],
        run,
        signal.SIGTERM,
    )
    assert returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM: stopped at step" in err and "Traceback" not in err
    meta = json.loads((checkpoint.resolve(run) / "state.json").read_text())
    assert 12 <= meta["step"] < 200 * 17  # the step it stopped at, not an epoch end
    advnets("train", "--resume", run, "--train.max_steps", meta["step"] + 5, "--no-progress")


# -- a full disk and retention -----------------------------------------------------------------


def failing_write(after_bytes: int, fail_on: str):
    """write_durably that, for the file named `fail_on`, writes part of it and then fails the way
    a full disk does (ENOSPC from the kernel's write)."""
    real = checkpoint.write_durably

    def write(path, data):
        if Path(path).name != fail_on:
            return real(path, data)
        with open(path, "wb") as f:
            f.write(data[:after_bytes])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    return write


def test_full_disk_during_a_checkpoint_fails_clearly_and_keeps_the_previous_one(
    tmp_path, monkeypatch
):
    trainer = trainer_with_checkpoints(tmp_path)
    checkpoints = tmp_path / "run" / "checkpoints"
    before = {p.name: digests(p) for p in checkpoints.glob("step-*")}
    pointer = (checkpoints / "latest").read_bytes()
    trainer.train_step()
    monkeypatch.setattr(checkpoint, "write_durably", failing_write(1000, "weights.safetensors"))
    with pytest.raises(checkpoint.CheckpointError) as err:
        trainer.save_checkpoint()
    assert "No space left on device" in str(err.value) and "step-00000006 is untouched" in str(
        err.value
    )
    assert {p.name: digests(p) for p in checkpoints.glob("step-*")} == before
    assert (checkpoints / "latest").read_bytes() == pointer
    assert sorted(os.listdir(checkpoints)) == [
        "latest",
        "step-00000003",
        "step-00000006",
    ]  # no debris
    monkeypatch.undo()
    trainer.save_checkpoint()  # space again: the same step saves
    assert checkpoint.resolve(tmp_path / "run").name == "step-00000007"


def test_retention_never_deletes_the_only_loadable_checkpoint(tmp_path, monkeypatch):
    trainer = trainer_with_checkpoints(tmp_path, keep_checkpoints=1)
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("step-*")) == ["step-00000006"]
    trainer.train_step()
    real = checkpoint.write_durably

    def flip_a_byte(path, data):  # the disk returns other bytes than were written
        if Path(path).name == "weights.safetensors":
            data = data[:-5] + bytes([data[-5] ^ 0x10]) + data[-4:]
        real(path, data)

    monkeypatch.setattr(checkpoint, "write_durably", flip_a_byte)
    with pytest.raises(checkpoint.CheckpointError, match="SHA-256"):
        trainer.save_checkpoint()
    assert (checkpoints / "latest").read_text().strip() == "step-00000006"
    checkpoint.load(
        checkpoint.resolve(tmp_path / "run")
    )  # the one loadable checkpoint is still there


# -- hostile and broken files ------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("hostile") / "run"
    advnets(
        "train",
        *TINY_FLAGS,
        "--train.max_steps",
        "5",
        "--no-progress",
        "--out",
        run,
    )
    return run


def copy_run(run: Path, tmp_path: Path) -> tuple[Path, Path]:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst, checkpoint.resolve(dst)


def refused(run: Path, *needles: str):
    """`advnets sample` and a resume both fail quickly, with a message holding every needle."""
    for args in (
        ["sample", run, "-n", 4, "--npy", run.parent / "out.npy"],
        ["train", "--resume", run],
    ):
        # in a process of its own, with a deadline: a hostile file must not hang either command
        proc = advnets(*args, timeout=60, check=False, isolated=True)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        for needle in needles:
            assert needle in proc.stderr, proc.stderr
    assert not (run.parent / "out.npy").exists()


def test_truncated_checkpoint(finished_run, tmp_path):
    run, folder = copy_run(finished_run, tmp_path)
    weights = folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    refused(run, "weights.safetensors", "(shorter than written: cut short, or replaced)")


def test_byte_flipped_checkpoint(finished_run, tmp_path):
    run, folder = copy_run(finished_run, tmp_path)
    weights = folder / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    refused(run, "weights.safetensors", "SHA-256")


def rewrite_manifest(folder: Path) -> None:
    """What a hostile file would come with: a manifest that matches it."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_checkpoint_of_another_architecture_lists_the_mismatches_and_loads_nothing(
    finished_run, tmp_path
):
    run, folder = copy_run(finished_run, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["generator"]["hidden"] = [48, 32]  # the run now claims a wider G than its weights hold
    (run / "config.json").write_text(json.dumps(config))
    meta = json.loads((folder / "state.json").read_text())
    meta["config"] = config
    (folder / "state.json").write_text(json.dumps(meta))
    rewrite_manifest(folder)
    refused(run, "another architecture", "body.0.weight: checkpoint (32, 8), model (48, 8)")
    # and from Python: nothing is loaded into the module when any key does not fit
    G = torch.nn.Linear(8, 48)
    before = G.weight.detach().clone()
    with pytest.raises(checkpoint.CheckpointError, match="mismatches"):
        checkpoint.load_into(
            G, {"weight": torch.zeros(32, 8), "bias": torch.zeros(48)}, "generator", "test"
        )
    assert torch.equal(G.weight, before)


class Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_payload_is_refused_and_never_runs(finished_run, tmp_path):
    marker = tmp_path / "PAYLOAD-RAN"
    payload = pickle.dumps(Payload(marker))
    # as the checkpoint's weights (with a manifest that vouches for it)
    run, folder = copy_run(finished_run, tmp_path)
    (folder / "weights.safetensors").write_bytes(payload)
    rewrite_manifest(folder)
    refused(run, "weights.safetensors", "not a readable safetensors file")
    # as a torch.save file in its place (a zip holding data.pkl)
    torch.save({"generator": Payload(marker)}, folder / "weights.safetensors")
    rewrite_manifest(folder)
    refused(run, "not a readable safetensors file")
    # as training data: an .npy holding objects
    array = tmp_path / "data.npy"
    import numpy as np

    np.save(array, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    proc = advnets(
        "train",
        "--data",
        array,
        "--train.max_steps",
        1,
        "--no-progress",
        "--out",
        tmp_path / "r2",
        check=False,
    )
    assert proc.returncode != 0 and "pickle" in proc.stderr.lower(), proc.stderr
    assert not (tmp_path / "r2").exists()
    assert not marker.exists(), "the pickled payload ran"


@pytest.mark.parametrize(
    "lie",
    ["huge header length", "offsets past the end", "shape bigger than data", "header not json"],
)
def test_safetensors_file_with_a_lying_header(finished_run, tmp_path, lie):
    run, folder = copy_run(finished_run, tmp_path)
    path = folder / "weights.safetensors"
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    if lie == "huge header length":
        forged = struct.pack("<Q", 2**62) + data[8:]
    elif lie == "header not json":
        forged = struct.pack("<Q", n) + b"{" * n + body
    else:
        key = next(k for k in header if k != "__metadata__")
        if lie == "offsets past the end":
            start, end = header[key]["data_offsets"]
            header[key]["data_offsets"] = [start, end + 10**12]
        else:
            header[key]["shape"] = [10**6, 10**6]
        text = json.dumps(header).encode()
        forged = struct.pack("<Q", len(text)) + text + body
    path.write_bytes(forged)
    rewrite_manifest(folder)
    refused(run, "weights.safetensors", "not a readable safetensors file")
