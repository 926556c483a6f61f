"""advnets' Inception-v3 against the published TorchScript module, the file check, and the
metrics through `evaluate`. Skipped where the weights are not installed (the inception extra)."""

import os
import shutil

import pytest
import torch

from advnets.errors import MissingFeature
from advnets.evaluate import Protocol, evaluate
from advnets.metrics import inception


@pytest.fixture(scope="module")
def weights():
    try:
        return inception.locate_weights()
    except inception.InceptionUnavailable as err:
        pytest.skip(f"the Inception weights are not installed: {err}")


@pytest.fixture(scope="module")
def reference(weights):
    """The published module itself (TorchScript), on the network's input."""
    return torch.jit.load(str(weights), map_location="cpu").eval()


def _twemoji(n: int) -> torch.Tensor:
    root = os.environ.get("ADVNETS_DATA")
    if not root or not os.path.isdir(os.path.join(root, "twemoji")):
        pytest.skip("no twemoji folder under ADVNETS_DATA")
    from advnets.data import load

    return load("twemoji", "test", root, image_size=64).x[:n].reshape(n, 3, 64, 64)


@pytest.mark.parametrize("kind", ["random", "twemoji", "grey"])
def test_features_equal_the_published_module(weights, reference, kind):
    g = torch.Generator().manual_seed(1)
    if kind == "random":
        images = torch.rand(2, 3, 40, 24, generator=g)  # not square: each side resized on its own
    elif kind == "twemoji":
        images = _twemoji(2)
    else:
        images = torch.rand(2, 1, 28, 28, generator=g)
    rows = images.reshape(2, -1)
    shape = tuple(images.shape[1:]) if images.shape[1] == 3 else tuple(images.shape[2:])
    ours = inception.inception_features(rows, shape)
    with torch.no_grad():
        theirs = reference(inception.prepare(images))
    assert ours.shape == (2, 2048)
    assert ours.abs().max() > 0.1  # features, not zeros
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_preprocessing_is_eight_bit_bilinear_to_299_in_tensorflow_range():
    images = torch.tensor([0.0, 1.0, 0.5, 0.2 / 255]).reshape(1, 1, 2, 2)
    x = inception.prepare(images)
    assert x.shape == (1, 3, 299, 299)
    assert x.min() == -1 and x.max() == (255 - 128) / 128  # (p - 128) / 128 of 8-bit pixels
    assert x[0, 0, 0, 0] == -1 and x[0, 0, 0, -1] == (255 - 128) / 128  # corners keep their pixel
    expected = torch.nn.functional.interpolate(
        torch.tensor([0.0, 255, 128, 0]).reshape(1, 1, 2, 2), size=(299, 299), mode="bilinear"
    )
    torch.testing.assert_close(x[:, :1], (expected - 128) / 128)


def test_a_set_against_itself_scores_zero_and_against_other_images_not(weights, tmp_path):
    protocol = Protocol(samples=6, split="train", split_rows=6)  # the same six images twice
    with pytest.warns(UserWarning, match="below 2048"):
        same = evaluate(
            None, "inception-fid,inception-kid", protocol, reference=True, source="digits",
            progress=False, write=False,
        )  # fmt: skip
    assert abs(same.metrics["inception-fid"]["value"]) < 1e-3
    assert same.metrics["inception-fid"]["sha256"] == inception.WEIGHTS_SHA256
    other = Protocol(samples=6, split="train", split_start=6, split_rows=6)
    different = evaluate(
        None, "inception-fid", other, reference=True, source="digits", progress=False, write=False
    )
    assert different.metrics["inception-fid"]["value"] > 1


def test_a_changed_weights_file_is_refused_before_it_is_read(weights, tmp_path, monkeypatch):
    tampered = tmp_path / "default_1.pt"
    shutil.copyfile(weights, tampered)
    with open(tampered, "r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 1]))
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: pytest.fail("the file was opened"))
    with pytest.raises(inception.InceptionUnavailable, match="SHA-256") as err:
        inception.read_weights(tampered)
    assert inception.WEIGHTS_SHA256 in str(err.value)


def test_missing_weights_say_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "nowhere.pt"))
    with pytest.raises(MissingFeature, match="does not exist"):
        inception.locate_weights()
    monkeypatch.delenv(inception.WEIGHTS_ENV)
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingFeature, match=r"advnets\[inception\]"):
        inception.locate_weights()


def test_the_weights_can_be_named_by_the_environment(weights, tmp_path, monkeypatch):
    copy = tmp_path / "my-copy.pt"
    shutil.copyfile(weights, copy)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(copy))
    assert inception.locate_weights() == copy
    assert len(inception.read_weights(copy)) == len(inception.InceptionV3().state_dict())
