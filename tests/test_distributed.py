"""Training through torchrun and DistributedDataParallel, 2 CPU processes on the gloo backend."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from advnets import checkpoint
from helpers import TINY, advnets, tiny_config

WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(*args, nproc=2, check=True):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(nproc),
        *map(str, args),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


VARIANTS = {
    "simultaneous-sgd": {},
    "alternating-adam-k2-ema": {
        "train": {"update": "alternating", "k": 2},
        "optim": {"name": "adam", "lr": 0.001},
        "average": {"kind": "ema", "decay": 0.9},
    },
    "r1-penalty": {
        "train": {"update": "alternating", "objective": "hinge"},
        "penalty": {"r1": 1.0},
        "optim": {"name": "adam", "lr": 0.001},
    },
    "semi-supervised": {
        "semi": {"labels_per_class": 5},
        "train": {"objective": "feature-matching"},
    },
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_processes_hold_identical_parameters_after_every_step(tmp_path, variant):
    values = tiny_config(**VARIANTS[variant]).to_dict()
    torchrun(WORKER, tmp_path, 12, json.dumps(values))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["world"] == 2 and report["local_batch"] == 25
    assert report["differing_steps"] == [], (
        f"the processes' parameters differ after steps {report['differing_steps']}"
    )
    assert report["batches_match"], (
        "the two processes' shares do not make up the one-process minibatch"
    )
    assert report["finite"]
    assert checkpoint.resolve(tmp_path / "run").name == "step-00000012"


def weights(run):
    return load_file(str(checkpoint.resolve(run) / "weights.safetensors"))


def test_torchrun_cli_writes_once_and_resumes_with_two_or_one_processes(tmp_path):
    straight, split, shrunk = tmp_path / "straight", tmp_path / "split", tmp_path / "shrunk"
    args = [
        "-m",
        "advnets",
        "train",
        *TINY,
        "--train.update",
        "alternating",
        "--optim.name",
        "adam",
        "--optim.lr",
        "0.001",
        "--train.epochs",
        "3",
    ]
    torchrun(*args, "--train.max_steps", 30, "--out", straight)
    torchrun(*args, "--train.max_steps", 15, "--out", split)
    # only process 0 writes: one log row per 4 steps, not two
    rows = [json.loads(line) for line in (split / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 8, 12, 15]
    meta = json.loads((checkpoint.resolve(split) / "state.json").read_text())
    assert meta["world_size"] == 2 and meta["step"] == 15
    assert "rng.torch.rank1" in load_file(str(checkpoint.resolve(split) / "state.safetensors"))
    shutil.copytree(split, shrunk)
    # the same number of processes: bit for bit the uninterrupted run
    torchrun("-m", "advnets", "train", "--resume", split, "--train.max_steps", 30, "--no-progress")
    a, b = weights(straight), weights(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # one process continues a two-process run (its own noise stream from then on)
    advnets("train", "--resume", shrunk, "--train.max_steps", "30", "--no-progress")
    assert checkpoint.resolve(shrunk).name == "step-00000030"
    c = weights(shrunk)
    assert all(torch.isfinite(v).all() for v in c.values())
    assert any(
        not torch.equal(a[k], c[k]) for k in a
    )  # G's noise after step 15 differs from rank 1's


def test_batch_size_must_split_evenly(tmp_path):
    proc = torchrun(
        "-m",
        "advnets",
        "train",
        *TINY,
        "--train.batch_size",
        "99",
        "--train.max_steps",
        2,
        "--out",
        tmp_path / "run",
        check=False,
    )
    assert proc.returncode != 0
    assert "train.batch_size = 99" in proc.stderr and "multiple of 2" in proc.stderr
    assert not (tmp_path / "run").exists()
