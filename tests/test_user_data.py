"""Training data of the user's: a folder of images, a NumPy array, CIFAR-10's binary files."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from advnets.data import load
from advnets.data.cifar import RECORD
from helpers import advnets


def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_folder_resizes_crops_and_orders_by_path(tmp_path):
    # a 20 x 10 image (w x h) whose left half is black, right half white: resized to shorter side
    # 4 it is 8 x 4, and the centre crop keeps columns 2-5, half black, half white
    wide = np.zeros((10, 20, 3), np.uint8)
    wide[:, 10:] = 255
    _png(tmp_path / "b" / "wide.png", wide)
    _png(tmp_path / "a.jpg", np.full((6, 6, 3), 255, np.uint8))
    data = load("images", path=str(tmp_path), image_size=4)
    assert data.image_shape == (4, 4)  # every channel equal: grayscale
    assert data.x.shape == (2, 16) and data.y is None  # one image at the root: no class folders
    assert torch.allclose(data.x[0], torch.ones(16), atol=0.02)  # a.jpg sorts before b/wide.png
    crop = data.x[1].view(4, 4)
    assert (crop[:, :2] < 0.1).all() and (crop[:, 2:] > 0.9).all()


def test_folder_colour_and_class_subfolders(tmp_path):
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    _png(tmp_path / "cat" / "1.png", red)
    _png(tmp_path / "dog" / "2.png", np.full((8, 8, 3), 128, np.uint8))
    data = load("images", path=str(tmp_path), image_size=8)
    assert data.image_shape == (3, 8, 8)
    assert data.y.tolist() == [0, 1]
    first = data.x[0].view(3, 8, 8)  # channels first
    assert (first[0] == 1).all() and (first[1:] == 0).all()
    gray = load("images", path=str(tmp_path), image_size=8, color="grayscale")
    assert gray.image_shape == (8, 8) and torch.allclose(
        gray.x[0], torch.full((64,), 0.299), atol=0.01
    )


def test_folder_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="no images found"):
        load("images", path=str(tmp_path))
    _png(tmp_path / "ok.png", np.zeros((8, 8), np.uint8), "L")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match=re.escape("broken.png: not a readable image")):
        load("images", path=str(tmp_path), image_size=8)
    (tmp_path / "broken.png").unlink()
    _png(tmp_path / "wrong.png", np.zeros((9, 8), np.uint8), "L")
    with pytest.raises(ValueError, match=r"wrong.png: 8 x 9 pixels, but data.resize = false"):
        load("images", path=str(tmp_path), image_size=8, resize=False)
    with pytest.raises(ValueError, match="your own data, all of it the train split"):
        load("images", "test", path=str(tmp_path))


def test_arrays_layouts_scaling_and_labels(tmp_path):
    nhwc = np.zeros((5, 6, 6, 3), np.uint8)
    nhwc[..., 2] = 255
    np.save(tmp_path / "rgb.npy", nhwc)
    data = load("array", path=str(tmp_path / "rgb.npy"))
    assert data.image_shape == (3, 6, 6)
    assert (data.x.view(5, 3, 6, 6)[:, 2] == 1).all() and (
        data.x.view(5, 3, 6, 6)[:, :2] == 0
    ).all()
    np.savez(
        tmp_path / "gray.npz", x=np.full((4, 1, 6, 6), 0.25, np.float32), y=np.array([0, 1, 1, 0])
    )
    data = load("array", path=str(tmp_path / "gray.npz"))
    assert data.image_shape == (6, 6) and data.y.tolist() == [0, 1, 1, 0] and (data.x == 0.25).all()
    np.save(tmp_path / "points.npy", np.arange(12, dtype=np.float64).reshape(6, 2) - 5)
    data = load("array", path=str(tmp_path / "points.npy"))
    assert data.image_shape is None and data.x.shape == (6, 2) and data.x.min() == -5


def test_array_errors(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="which advnets never loads"):
        load("array", path=str(tmp_path / "objects.npy"))
    np.save(tmp_path / "bright.npy", np.full((2, 4, 4), 2.0, np.float32))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        load("array", path=str(tmp_path / "bright.npy"))
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 3)), b=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="name the data 'x'"):
        load("array", path=str(tmp_path / "two.npz"))
    np.savez(tmp_path / "labels.npz", x=np.zeros((3, 4, 4), np.uint8), y=np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="labels 'y' must be 3 non-negative integers"):
        load("array", path=str(tmp_path / "labels.npz"))


def _cifar_file(path, labels, seed):
    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, (len(labels), RECORD), dtype=np.uint8)
    records[:, 0] = labels
    records.tofile(path)
    return records


def test_cifar_binary_format(tmp_path):
    files = {
        f"data_batch_{i}.bin": _cifar_file(tmp_path / f"data_batch_{i}.bin", [i, 9], i)
        for i in range(1, 6)
    }
    test_records = _cifar_file(tmp_path / "test_batch.bin", [3, 4, 5], 0)
    train = load("cifar10", path=str(tmp_path))
    assert train.x.shape == (8, 3072) and train.image_shape == (3, 32, 32)
    assert train.y.tolist() == [1, 9, 2, 9, 3, 9, 4, 9]
    # record layout: label byte, then the red plane, green plane, blue plane, each row-major 32 x 32
    rec = files["data_batch_2.bin"][1]
    img = train.x[3].view(3, 32, 32)
    assert img[1, 0, 5] == rec[1 + 1024 + 5] / 255 and img[2, 31, 31] == rec[RECORD - 1] / 255
    assert load("cifar10", "valid", path=str(tmp_path)).y.tolist() == [5, 9]
    assert torch.equal(
        load("cifar10", "test", path=str(tmp_path)).x * 255,
        torch.tensor(test_records[:, 1:]).float(),
    )
    (tmp_path / "test_batch.bin").write_bytes(test_records.tobytes()[:-7])
    with pytest.raises(ValueError, match=r"test_batch\.bin: .* not a whole number of 3073-byte"):
        load("cifar10", "test", path=str(tmp_path))
    (tmp_path / "data_batch_5.bin").unlink()
    with pytest.raises(ValueError, match=re.escape("data_batch_5.bin is missing")):
        load("cifar10", "valid", path=str(tmp_path))


def test_train_data_folder_just_works(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(70):
        _png(
            tmp_path / "imgs" / f"{i:02d}.png",
            (rng.random((20 + i % 5, 24, 3)) * 255).astype(np.uint8),
        )
    out = tmp_path / "run"
    advnets(
        "train", "--data", tmp_path / "imgs", "--train.epochs", "2", "--out", out, "--no-progress"
    )
    from advnets.sample import load_generator

    trained = load_generator(out)
    assert trained.image_shape == (3, 32, 32) and trained.config.generator.kind == "dcgan"
    assert trained.sample(3, seed=0).shape == (3, 3 * 32 * 32)
    assert (out / "samples" / "epoch-0002.png").is_file()
    # evaluated against the folder itself, the run's own data: there is no test split
    from advnets.errors import DataError
    from advnets.evaluate import Protocol, evaluate
    from advnets.metrics.inception import InceptionUnavailable, locate_weights

    with pytest.raises(DataError, match="--split train"):
        evaluate(out, "inception-fid", Protocol(samples=4), progress=False, write=False)
    try:
        locate_weights()
    except InceptionUnavailable:
        return
    with pytest.warns(UserWarning, match="below 2048"):
        result = evaluate(
            out, "inception-fid", Protocol(samples=4, split="train", split_rows=4),
            progress=False, write=False,
        )  # fmt: skip
    assert result.subject["split"] == "train" and result.metrics["inception-fid"]["value"] > 0


def test_train_data_bad_input_fails_before_the_run_folder(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "x.png").write_bytes(b"not a png")
    out = tmp_path / "run"
    proc = advnets("train", "--data", tmp_path / "imgs", "--out", out, "--no-progress", check=False)
    assert proc.returncode != 0 and "x.png: not a readable image" in proc.stderr
    assert not out.exists()


def test_data_flag_defaults_follow_the_path(tmp_path):
    from advnets.data.sniff import IMAGE_STEPS, POINT_STEPS, defaults_for

    np.save(tmp_path / "mnistlike.npy", np.zeros((640, 28, 28), np.uint8))
    v = defaults_for(str(tmp_path / "mnistlike.npy"), with_model=True)
    assert v["data"] == {"source": "array", "path": str(tmp_path / "mnistlike.npy")}
    assert v["preset"] == "images-dcgan"
    # 28 halves twice (7 -> 14 -> 28), not three times
    assert v["generator"]["hidden"] == [128, 64] and v["discriminator"]["hidden"] == [64, 128]
    assert (
        v["train"]["epochs"] * (640 // 64) >= IMAGE_STEPS > (v["train"]["epochs"] - 1) * (640 // 64)
    )
    np.save(tmp_path / "points.npy", np.zeros((1000, 3), np.float32))
    points = defaults_for(str(tmp_path / "points.npy"), with_model=True)
    assert points["preset"] == "grid-2d" and points["penalty"] == {
        "r1": 0.0
    }  # the grid's R1 is tuned to its scale
    e = points["train"]["epochs"]
    assert e * (1000 // 100) >= POINT_STEPS > (e - 1) * (1000 // 100)
    _cifar_file(tmp_path / "data_batch_1.bin", [0], 0)
    assert defaults_for(str(tmp_path), with_model=False) == {
        "data": {"source": "cifar10", "path": str(tmp_path)}
    }
    with pytest.raises(ValueError, match=r"missing\.png: no such file or folder"):
        defaults_for(str(tmp_path / "missing.png"), with_model=True)
