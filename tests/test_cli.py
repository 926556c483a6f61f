"""The command line end to end on the bundled digits."""

import numpy as np
import pytest

from advnets import config as cfgmod
from advnets.config import tomllib
from helpers import advnets


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    advnets(
        "train",
        "--preset",
        "digits-quick",
        "--train.epochs",
        3,
        "--train.sample_every",
        1,
        "--out",
        run,
        "--no-progress",
    )
    return run


def test_train_writes_a_complete_run(digits_run):
    assert {p.name for p in digits_run.iterdir()} >= {
        "config.json",
        "metrics.jsonl",
        "samples",
        "checkpoints",
        "curves.png",
    }
    assert len(list((digits_run / "samples").glob("epoch-*.png"))) == 3
    saved = cfgmod.load_json(digits_run / "config.json")
    assert saved.train.epochs == 3 and saved.data.source == "digits"


def test_info_summarises(digits_run):
    out = advnets("info", digits_run).stdout
    assert "digits" in out and "step 72" in out and "D(G(z))" in out


def test_sample_is_deterministic_for_a_seed(digits_run, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        advnets(
            "sample",
            digits_run,
            "-n",
            20,
            "--seed",
            seed,
            "--out",
            tmp_path / f"{name}.png",
            "--npy",
            tmp_path / f"{name}.npy",
        )
    a, b, c = (np.load(tmp_path / f"{n}.npy", allow_pickle=False) for n in "abc")
    assert a.shape == (20, 8, 8) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    ckpt = next((digits_run / "checkpoints").glob("step-*"))
    advnets("sample", ckpt, "-n", 4, "--npy", tmp_path / "d.npy")  # a checkpoint folder works too


def test_dry_run_prints_the_resolved_config(tmp_path):
    out = advnets(
        "train",
        "--preset",
        "ring-2d",
        "--optim.lr",
        "0.0005",
        "--generator.hidden",
        "64,64",
        "--dry-run",
    ).stdout
    resolved = cfgmod.from_dict(tomllib.loads(out))
    assert resolved.optim.lr == 0.0005 and resolved.generator.hidden == [64, 64]
    assert resolved.data.source == "ring-2d"
    assert not (tmp_path / "runs").exists()


def test_config_file_then_flags(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[train]\nseed = 7\nbatch_size = 64\n")
    out = advnets(
        "train", "--preset", "digits-quick", "--config", path, "--train.seed", 8, "--dry-run"
    ).stdout
    resolved = cfgmod.from_dict(tomllib.loads(out))
    assert (resolved.train.seed, resolved.train.batch_size, resolved.data.source) == (
        8,
        64,
        "digits",
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--train.learning_rate", "0.1"],
            "unknown key 'train.learning_rate'; valid keys of [train]: seed, batch_size",
        ),
        (["--train.objective", "wgan"], "expected one of 'non-saturating', 'minimax'"),
        (["--train.batch_size", "-1"], "out of range"),
        (["--preset", "cifar"], "valid presets:"),
    ],
)
def test_bad_input_is_explained_and_creates_nothing(tmp_path, args, message):
    proc = advnets("train", *args, "--out", tmp_path / "run", check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_missing_data_is_explained_and_creates_nothing(tmp_path):
    proc = advnets(
        "train",
        "--preset",
        "mnist-paper",
        "--data-dir",
        tmp_path / "empty",
        "--data.download",
        "false",
        "--out",
        tmp_path / "run",
        check=False,
    )
    assert proc.returncode == 1
    assert (
        "Looked in" in proc.stderr
        and "--data-dir" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    assert not (tmp_path / "run").exists() and not (tmp_path / "empty").exists()


def test_resume_of_a_non_run_is_explained(tmp_path):
    proc = advnets("train", "--resume", tmp_path, check=False)
    assert proc.returncode == 2 and "not a run folder" in proc.stderr
    proc = advnets("sample", tmp_path / "nothing", "--out", tmp_path / "x.png", check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
