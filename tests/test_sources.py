import math
from pathlib import Path

import numpy as np
import pytest
import torch

from advnets.data import load
from advnets.data.idx import read_idx
from advnets.data.toy import TOYS


def test_mnist_paper_split(mnist_root):
    train = load("mnist", "train", mnist_root, download_missing=False)
    valid = load("mnist", "valid", mnist_root, download_missing=False)
    test = load("mnist", "test", mnist_root, download_missing=False)
    assert (len(train), len(valid), len(test)) == (50_000, 10_000, 10_000)
    assert (
        train.x.dtype == torch.float32 and train.x.shape[1] == 784 and train.image_shape == (28, 28)
    )
    assert float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    folder = mnist_root / "mnist" if (mnist_root / "mnist").is_dir() else mnist_root
    raw = read_idx(next(folder.glob("train-images-idx3-ubyte*")))
    # valid is images 50,000-59,999 of the training file, in order, scaled by 1/255
    assert torch.equal(valid.x[0], torch.from_numpy(raw[50_000].reshape(-1)).float() / 255)
    assert torch.equal(train.x[-1], torch.from_numpy(raw[49_999].reshape(-1)).float() / 255)


def test_digits_needs_no_download():
    train, valid, test = (load("digits", s) for s in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (1200, 300, 297)
    assert train.image_shape == (8, 8) and train.dim == 64
    assert float(train.x.max()) == 1.0 and float(train.x.min()) == 0.0
    assert set(train.y.tolist()) == set(range(10))


def test_digits_are_scikit_learns_own():
    """The CSV read without importing sklearn.datasets holds what load_digits returns."""
    from sklearn.datasets import load_digits

    from advnets.data.sources import digits_table

    bunch, table = load_digits(), digits_table()
    assert np.array_equal(table[:, :64], bunch.data) and np.array_equal(table[:, 64], bunch.target)
    train, test = load("digits", "train"), load("digits", "test")
    assert torch.equal(train.x, torch.from_numpy((bunch.data[:1200] / 16.0).astype(np.float32)))
    assert torch.equal(test.y, torch.from_numpy(bunch.target[1500:]))


@pytest.mark.parametrize("name", sorted(TOYS))
def test_toy_moments_match_documented_mixture(name):
    mix = TOYS[name]
    x = load(name, "train", toy_size=50_000).x.double()
    means = mix.means_tensor()
    assert torch.allclose(x.mean(0), means.mean(0), atol=0.05)
    # per-point distance to the nearest mean has the documented standard deviation
    nearest = torch.cdist(x, means).min(1).indices
    resid = x - means[nearest]
    assert math.isclose(float(resid.std()), mix.std, rel_tol=0.03)
    if len(mix.means) > 1:  # every component is populated about equally
        counts = torch.bincount(nearest, minlength=len(mix.means)).double()
        assert float(counts.min() / counts.max()) > 0.9


def test_toy_splits_differ_and_are_fixed():
    a = load("ring-2d", "train", toy_size=100).x
    assert torch.equal(a, load("ring-2d", "train", toy_size=100).x)
    assert not torch.equal(a[:100], load("ring-2d", "test").x[:100])


def test_toy_log_density_integrates_to_one():
    mix = TOYS["gaussian-1d"]
    grid = torch.linspace(0, 8, 20001, dtype=torch.float64)[:, None]
    mass = torch.trapezoid(mix.log_density(grid).exp(), grid[:, 0])
    assert abs(float(mass) - 1.0) < 1e-6
    ring = TOYS["ring-2d"]
    # at a component mean the density is that component's peak divided by the 8 components
    peak = 1 / (2 * math.pi * ring.std**2) / 8
    assert math.isclose(
        float(ring.log_density(torch.tensor([[1.0, 0.0]])).exp()), peak, rel_tol=1e-6
    )


def test_unknown_source_and_split():
    with pytest.raises(ValueError, match="valid sources: mnist, fashion-mnist"):
        load("cifar", "train")
    with pytest.raises(ValueError, match="valid splits: train, valid, test"):
        load("digits", "training")


def test_fashion_mnist_from_debian_folder(tmp_path):
    from advnets.data.download import DEBIAN_FASHION

    if not (DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(
            f"Fashion-MNIST is not in {DEBIAN_FASHION} (Debian package dataset-fashion-mnist)"
        )
    test = load("fashion-mnist", "test", tmp_path / "empty", download_missing=False)
    valid = load("fashion-mnist", "valid", tmp_path / "empty", download_missing=False)
    assert test.x.shape == (10_000, 784) and len(valid) == 10_000
    assert torch.equal(
        torch.bincount(test.y), torch.full((10,), 1000)
    )  # Fashion-MNIST's balanced test set
    assert not (tmp_path / "empty").exists()


@pytest.fixture(scope="module")
def twemoji_root():
    import os
    from pathlib import Path

    root = os.environ.get("ADVNETS_DATA")
    if not root or not (Path(root) / "twemoji").is_dir():
        pytest.skip("no twemoji folder under ADVNETS_DATA")
    return Path(root)


def test_twemoji_splits_are_fixed_disjoint_and_cover_the_set(twemoji_root):
    from advnets.data import twemoji

    files = twemoji.locate(twemoji_root / "twemoji")
    splits = {s: load("twemoji", s, twemoji_root, image_size=8) for s in ("train", "valid", "test")}
    assert {s: len(d) for s, d in splits.items()} == {"train": 2649, "valid": 190, "test": 947}
    assert all(d.image_shape == (3, 8, 8) and d.x.shape[1] == 192 for d in splits.values())
    # the rule, read off the sorted names: every fourth file a test image, starting at the first
    names = [p.name for p in files]
    assert names == sorted(names) and len(set(names)) == 3786
    test_names = [n for i, n in enumerate(names) if i % 4 == 0]
    assert len(test_names) == 947 and test_names[0] == "0023-fe0f-20e3.png"
    everything = torch.cat([d.x for d in splits.values()])
    assert torch.unique(everything, dim=0).shape[0] > 3700  # few exact duplicates at 8 x 8


def test_twemoji_transparent_pixels_show_the_background(twemoji_root):
    white = load("twemoji", "valid", twemoji_root, image_size=16)
    black = load("twemoji", "valid", twemoji_root, image_size=16, background="black")
    assert white.notes and "white" in white.notes[0]
    # most emoji leave their corners transparent (flags do not): white there on white, black on
    # black, the same images either way
    on_white = (white.x.reshape(-1, 3, 16, 16)[:, :, 0, 0] == 1).all(1)
    on_black = (black.x.reshape(-1, 3, 16, 16)[:, :, 0, 0] == 0).all(1)
    assert (on_white & on_black).float().mean() > 0.6
    assert white.x.mean() > black.x.mean() + 0.2


def test_a_different_twemoji_folder_is_refused(twemoji_root, tmp_path):
    import shutil

    from advnets.errors import DataError, DataNotFoundError

    with pytest.raises(DataNotFoundError, match="emoji-datasource-twitter"):
        load("twemoji", "test", tmp_path)
    copy = Path(shutil.copytree(twemoji_root / "twemoji", tmp_path / "twemoji"))
    (copy / "1f600.png").chmod(0o644)
    (copy / "1f600.png").write_bytes((copy / "1f601.png").read_bytes())  # one face swapped
    with pytest.raises(DataError, match="checksum"):
        load("twemoji", "test", tmp_path)
    (copy / "1f600.png").unlink()
    with pytest.raises(DataError, match="3785 PNG files"):
        load("twemoji", "test", tmp_path)
