"""Nothing wrong passes silently: data that would be misread, settings that are not numbers,
checkpoints that cannot be checked, requests without bounds, each refused with what is wrong."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from advnets import config as cfgmod
from advnets.data import load
from advnets.data.arrays import read_array
from advnets.errors import ConfigError, DataError
from advnets.run import Run
from advnets.sample import MAX_GRID_IMAGES, load_generator
from advnets.train import train
from helpers import advnets, tiny_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return train(
        tiny_config(train={"max_steps": 3}), tmp_path_factory.mktemp("r") / "run", progress=False
    )


# -- arrays: every dtype scaled by a stated rule or refused with what was found ------------------


def test_integer_images_of_any_dtype_are_pixel_values(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (10, 8, 8))
    for dtype in (np.uint8, np.int16, np.int32, np.int64, np.uint32):
        np.save(tmp_path / "i.npy", pixels.astype(dtype))
        x, _, shape = read_array(tmp_path / "i.npy")
        assert shape == (8, 8) and x.dtype == torch.float32
        torch.testing.assert_close(x, torch.from_numpy(pixels.reshape(10, -1) / 255).float())
    np.save(tmp_path / "u16.npy", (pixels * 257).astype(np.uint16))  # 16-bit: 65535 is white
    torch.testing.assert_close(read_array(tmp_path / "u16.npy")[0], x)


@pytest.mark.parametrize(
    "values, found",
    [
        (np.arange(640).reshape(10, 8, 8).astype(np.int64), "values 0 to 639"),
        (-np.ones((10, 8, 8), np.int32), "values -1 to -1"),
        (np.full((10, 8, 8), 2.0), "values 2.0 to 2.0"),
        (np.full((10, 8, 8), np.nan, np.float32), "NaN or infinite"),
    ],
)
def test_images_out_of_their_range_are_refused_with_the_range(tmp_path, values, found):
    np.save(tmp_path / "bad.npy", values)
    with pytest.raises(DataError, match=r"bad\.npy") as err:
        read_array(tmp_path / "bad.npy")
    assert found in str(err.value)


def test_points_beyond_float32_are_refused(tmp_path):
    np.save(tmp_path / "p.npy", np.array([[1e300, 0.0]] * 4))
    with pytest.raises(DataError, match="NaN or infinite values"):
        read_array(tmp_path / "p.npy")
    np.save(tmp_path / "ok.npy", np.array([[300, -2]] * 4, dtype=np.int64))  # coordinates as is
    assert read_array(tmp_path / "ok.npy")[0].tolist() == [[300.0, -2.0]] * 4


def test_a_file_that_is_not_numpy_says_so_and_never_suggests_unpickling(tmp_path):
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match="not a NumPy file") as err:
        read_array(tmp_path / "text.npz")
    assert "zip archive" in str(err.value) and "pickle" not in str(err.value).lower()
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="which advnets never loads") as err:
        read_array(tmp_path / "objects.npy")
    assert "allow_pickle" not in str(err.value)


# -- transparent images ------------------------------------------------------------------------


def _rgba_folder(folder, n=4):
    """Yellow stored under fully transparent pixels, an opaque blue square in the middle."""
    folder.mkdir()
    for i in range(n):
        rgba = np.zeros((8, 8, 4), np.uint8)
        rgba[..., :3] = (255, 255, 0)
        rgba[2:6, 2:6] = (0, 0, 255, 255)
        Image.fromarray(rgba, "RGBA").save(folder / f"{i}.png")
    return folder


def test_transparent_pixels_show_the_background_and_the_log_says_so(tmp_path):
    folder = _rgba_folder(tmp_path / "rgba")
    for background, corner in (("white", 1.0), ("black", 0.0), ("#ff0000", None)):
        data = load("images", path=str(folder), image_size=8, background=background)
        x = data.x.view(-1, 3, 8, 8)
        if corner is not None:
            assert torch.all(x[:, :, 0, 0] == corner)
        else:
            assert x[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]
        assert x[0, :, 4, 4].tolist() == [0.0, 0.0, 1.0]  # the opaque pixels are unchanged
        assert data.notes == [
            f"4 of 4 images in {folder} have transparency: composited on {background} "
            "(data.background)"
        ]
    with pytest.raises(ConfigError, match=r"data\.background = 'grey'"):
        cfgmod.apply(cfgmod.Config(), {"data": {"background": "grey"}}, source="test")
    run = tmp_path / "run"
    proc = advnets(
        "train", "--data", folder, "--data.image_size", 8, "--train.max_steps", 1,
        "--out", run, "--no-progress", check=False,
    )  # fmt: skip
    assert proc.stderr.count("composited on white (data.background)") == 1, proc.stderr


# -- config: finite numbers, and the checks of a file for a config built in Python --------------


@pytest.mark.parametrize("text", ["inf", "nan", "-inf", "1e999"])
def test_float_fields_must_be_finite(text, tmp_path):
    with pytest.raises(ConfigError, match=f"optim.lr = '{text}' is not valid: expected a finite"):
        cfgmod.apply(cfgmod.Config(), {"optim": {"lr": text}}, source="cli", from_text=True)
    proc = advnets("train", "--preset", "digits-quick", "--optim.lr", text, "--out", tmp_path / "r",
                   check=False)  # fmt: skip
    assert proc.returncode == 2 and "finite" in proc.stderr and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "section, name, value, message",
    [
        ("train", "batch_size", 0, "train.batch_size = 0 is out of range"),
        ("train", "objective", "foo", "train.objective = 'foo' is not valid"),
        ("train", "max_steps", -3, "train.max_steps = -3 is out of range"),
        ("optim", "lr", float("nan"), "optim.lr = nan is not valid"),
    ],
)
def test_train_checks_a_config_edited_in_python(tmp_path, section, name, value, message):
    config = tiny_config()
    setattr(getattr(config, section), name, value)
    with pytest.raises(ConfigError, match=message):
        train(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


# -- checkpoints: no manifest, no check, no load -------------------------------------------------


def test_a_checkpoint_without_its_manifest_is_refused_unless_asked(tiny_run, tmp_path):
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / "run")
    folder = Run(run).latest_checkpoint()
    (folder / "manifest.json").unlink()
    weights = folder / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # a flipped byte the manifest would have caught
    weights.write_bytes(bytes(data))
    proc = advnets("sample", run, "--npy", tmp_path / "x.npy", check=False)
    assert proc.returncode == 1 and "manifest.json is missing" in proc.stderr
    assert "--allow-unverified" in proc.stderr and not (tmp_path / "x.npy").exists()
    proc = advnets("sample", run, "--npy", tmp_path / "x.npy", "--allow-unverified")
    assert f"advnets: warning: {folder} has no manifest.json" in proc.stderr
    assert (tmp_path / "x.npy").is_file()


def test_a_replaced_file_is_not_called_truncated(tiny_run, tmp_path):
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / "run")
    state = Run(run).latest_checkpoint() / "state.json"
    state.write_text(state.read_text() + " " * 100)
    proc = advnets("sample", run, "--npy", tmp_path / "x.npy", check=False)
    assert proc.returncode == 1 and "(longer than written: replaced)" in proc.stderr


# -- sampling: bounded whatever -n ---------------------------------------------------------------


def test_npy_samples_stream_in_blocks_and_match_the_api(tiny_run, tmp_path):
    advnets("sample", tiny_run, "-n", 25_000, "--seed", 3, "--npy", tmp_path / "big.npy")
    big = np.load(tmp_path / "big.npy")
    trained = load_generator(tiny_run)
    assert big.shape == (25_000, 8, 8) and big.dtype == np.float32
    np.testing.assert_array_equal(big.reshape(25_000, -1), trained.sample(25_000, seed=3).numpy())
    advnets("sample", tiny_run, "-n", 64, "--seed", 3, "--npy", tmp_path / "small.npy")
    small = tmp_path / "small.npy"
    expected = tmp_path / "expected.npy"  # and the very bytes np.save writes
    np.save(expected, trained.sample(64, seed=3).numpy().reshape(64, 8, 8))
    assert small.read_bytes() == expected.read_bytes()


def test_a_png_grid_has_a_size_limit(tiny_run, tmp_path):
    proc = advnets("sample", tiny_run, "-n", MAX_GRID_IMAGES + 1, "--out", tmp_path / "g.png",
                   check=False)  # fmt: skip
    assert proc.returncode == 2 and f"at most {MAX_GRID_IMAGES}" in proc.stderr
    assert "--npy" in proc.stderr and not (tmp_path / "g.png").exists()


# -- the command line ---------------------------------------------------------------------------


def test_resume_refuses_out_and_a_missing_data_path_is_named(tiny_run, tmp_path):
    proc = advnets("train", "--resume", tiny_run, "--out", tmp_path / "elsewhere", check=False)
    assert proc.returncode == 2 and "drop --out" in proc.stderr
    assert not (tmp_path / "elsewhere").exists()
    proc = advnets("train", "--data", tmp_path / "missing", check=False)
    assert proc.returncode == 1 and "no such file or folder" in proc.stderr


def test_a_used_folder_that_is_not_a_run_is_not_offered_resume(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    proc = advnets("train", "--preset", "digits-quick", "--out", tmp_path / "notes", check=False)
    assert proc.returncode == 2 and "not a run folder" in proc.stderr
    assert "--resume" not in proc.stderr


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen(
        [sys.executable, "-m", "advnets", "train", "--preset", "mnist-paper", "--dry-run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before advnets writes (| head, | less then q)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 141) and "Broken pipe" not in err, err


def test_progress_to_a_file_is_a_line_per_log_interval_and_a_short_run_draws(tmp_path):
    run = tmp_path / "run"
    proc = advnets(
        "train", "--preset", "digits-quick", "--out", run, "--train.max_steps", 12,
        "--train.log_every", 5,
    )  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["5/12", "10/12"], proc.stderr
    assert "\r" not in proc.stderr  # no progress bar redrawn into a file
    # a run that stops before its first epoch ends still shows its samples and its curves
    assert (run / "samples" / "step-00000012.png").is_file()
    rows = Run(run).metrics()
    assert [r["step"] for r in rows] == [5, 10, 12] and rows[-1]["partial"]
    assert json.loads((run / "config.json").read_text())["train"]["max_steps"] == 12
    assert (run / "curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("delay", [0.05, 0.8, 2.5])
def test_ctrl_c_at_any_moment_of_start_up_ends_without_a_traceback(tmp_path, delay):
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "advnets", "train", "--preset", "digits-quick", "--out",
         str(tmp_path / "run"), "--train.max_steps", "3", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    # done before the signal came (0), or stopped by it: 130, or ended by the signal itself
    # (-2), which a shell reports as 130 too
    assert proc.returncode in (0, 130, -signal.SIGINT), err
    assert "Traceback" not in err, err


def test_a_damaged_config_json_is_named(tiny_run, tmp_path):
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / "run")
    (run / "config.json").write_text('{"train": ')
    for command in (["info", run], ["train", "--resume", run, "--dry-run"]):
        proc = advnets(*command, check=False)
        assert proc.returncode == 2 and "config.json is not a readable JSON config" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_failed_atomic_write_leaves_no_folder_behind(tmp_path):
    from advnets.io import atomic_writer

    target = tmp_path / "new" / "deeper" / "out.npy"
    with pytest.raises(RuntimeError, match="interrupted"), atomic_writer(target) as f:
        f.write(b"half")
        raise RuntimeError("interrupted mid-write")
    assert list(tmp_path.iterdir()) == []
