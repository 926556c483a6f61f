"""Devices and precisions: autocast changes the arithmetic, not the CPU default; clear refusals."""

import re

import pytest
import torch

from advnets import config as cfgmod
from advnets.errors import RunError
from advnets.train import Trainer
from helpers import advnets, tiny_config


def trained_parameters(tmp_path, name, **train):
    trainer = Trainer(tiny_config(train={"max_steps": 6, **train}), tmp_path / name, progress=False)
    trainer.run()
    return torch.cat(
        [
            p.detach().reshape(-1)
            for p in [*trainer.players.G.parameters(), *trainer.players.D.parameters()]
        ]
    ), trainer


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_precisions_train_on_cpu(tmp_path, precision):
    fp32, _ = trained_parameters(tmp_path, "fp32")
    again, _ = trained_parameters(tmp_path, "fp32-again")
    low, trainer = trained_parameters(tmp_path, precision, precision=precision)
    assert torch.equal(fp32, again)  # the default path is untouched, bit for bit
    assert torch.isfinite(low).all()
    assert not torch.equal(low, fp32)  # the forward passes did run at the lower precision
    assert (low - fp32).abs().max() < 0.05  # and the same training happened
    assert (trainer.scaler is not None) == (precision == "fp16")


def test_fp16_is_refused_with_penalties():
    with pytest.raises(cfgmod.ConfigError, match=re.escape("train.precision = 'bf16'")):
        tiny_config(train={"precision": "fp16", "objective": "hinge"}, penalty={"r1": 1.0})


@pytest.mark.parametrize(
    "device,message",
    [
        ("cuda", "no CUDA device"),
        ("mps", "no MPS device"),
        ("tpu", "not a device"),
        ("meta", "cpu, cuda or mps"),
    ],
)
def test_unavailable_devices_are_named(tmp_path, device, message):
    if (device == "cuda" and torch.cuda.is_available()) or (
        device == "mps" and torch.backends.mps.is_available()
    ):
        pytest.skip(f"this machine has {device}")
    with pytest.raises(RunError, match=message):
        Trainer(tiny_config(train={"device": device}), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_device_flag_is_short_for_train_device():
    proc = advnets(
        "train",
        "--preset",
        "digits-quick",
        "--device",
        "cuda:1",
        "--train.precision",
        "bf16",
        "--dry-run",
    )
    assert 'device = "cuda:1"' in proc.stdout and 'precision = "bf16"' in proc.stdout
