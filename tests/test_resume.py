"""Resume identity: N steps straight equal N/2 steps, a resume in a new process, and N/2 more."""

import json
import signal

import pytest
import torch
from safetensors.torch import load_file

from advnets import checkpoint
from advnets.sample import load_generator
from helpers import TINY, advnets, interrupt_training

VARIANTS = {
    # the reference setting: simultaneous updates, SGD with the momentum ramp and lr decay,
    # uniform noise
    "simultaneous-sgd": ["--optim.momentum_ramp_epochs", "3", "--optim.lr_decay", "1.01"],
    # Algorithm 1 with k = 2, Adam, Gaussian noise, the minimax objective, a moving average of G
    "alternating-adam": [
        "--train.update",
        "alternating",
        "--train.k",
        "2",
        "--optim.name",
        "adam",
        "--optim.lr",
        "0.001",
        "--generator.prior",
        "gaussian",
        "--train.objective",
        "minimax",
        "--average.kind",
        "ema",
        "--average.decay",
        "0.8",
        "--average.start_epoch",
        "1",
    ],
    # a class-conditional model: the classes G is asked for come from the same RNG as the noise
    "conditional": [
        "--condition.kind",
        "projection",
        "--condition.auxiliary_weight",
        "0.5",
        "--train.update",
        "alternating",
        "--train.k",
        "2",
        "--optim.name",
        "adam",
        "--optim.lr",
        "0.001",
    ],
    # semi-supervised: a K-class D, batches of labelled images, G by feature matching
    "semi-supervised": ["--semi.labels_per_class", "5", "--train.objective", "feature-matching"],
    # BiGAN: E trained beside G, D judging (x, E(x)) against (G(z), z)
    "bigan": ["--encoder.kind", "bigan", "--encoder.hidden", "16", "--train.update", "alternating"],
    # convolutional G (batch norm: running statistics) and D (spectral norm: power-iteration
    # vectors), the hinge objective, R1, an average set by its half-life, and DiffAugment, whose
    # transforms come from the random generator the checkpoint saves
    "dcgan-hinge-r1-diffaugment": [
        "--augment.policy",
        "color,translation,cutout",
        "--generator.kind",
        "dcgan",
        "--generator.hidden",
        "16,8",
        "--generator.batch_norm",
        "true",
        "--discriminator.kind",
        "dcgan",
        "--discriminator.unit",
        "leaky_relu",
        "--discriminator.hidden",
        "8,16",
        "--discriminator.spectral_norm",
        "true",
        "--train.objective",
        "hinge",
        "--penalty.r1",
        "1.0",
        "--average.kind",
        "ema",
        "--average.half_life",
        "5",
        "--train.update",
        "alternating",
        "--optim.name",
        "adam",
        "--optim.lr",
        "0.001",
        "--optim.lr_g",
        "0.002",
    ],
    # WGAN-GP: a critic with the gradient penalty at random interpolates, k = 2
    "wasserstein-gp": [
        "--train.objective",
        "wasserstein",
        "--penalty.gradient",
        "10",
        "--train.update",
        "alternating",
        "--train.k",
        "2",
        "--optim.name",
        "adam",
        "--optim.lr",
        "0.001",
        "--discriminator.input_keep",
        "1",
        "--discriminator.hidden_keep",
        "1",
    ],
    # Salimans et al.'s semi-supervised setting: data-initialised weight-normalised ReLU D with
    # Gaussian noise, a batch-normalised softplus G, and averages of both G and D
    "semi-weight-norm": [
        "--semi.labels_per_class",
        "5",
        "--train.objective",
        "feature-matching",
        "--average.kind",
        "ema",
        "--average.half_life",
        "4",
        "--average.discriminator",
        "true",
        "--discriminator.unit",
        "relu",
        "--discriminator.weight_norm",
        "true",
        "--discriminator.init",
        "data",
        "--discriminator.input_noise",
        "0.3",
        "--discriminator.hidden_noise",
        "0.5",
        "--generator.batch_norm",
        "true",
        "--generator.activation",
        "softplus",
        "--train.update",
        "alternating",
    ],
    # fp16 autocast: the gradient scaler's scale and growth counter resume with the run
    "fp16-scaler": [
        "--train.precision",
        "fp16",
        "--train.update",
        "alternating",
        "--optim.name",
        "adam",
        "--optim.lr",
        "0.001",
    ],
}


def assert_same_run(a, b):
    ca, cb = checkpoint.resolve(a), checkpoint.resolve(b)
    assert ca.name == cb.name
    for name in ("weights.safetensors", "state.safetensors"):
        ta, tb = load_file(str(ca / name)), load_file(str(cb / name))
        assert ta.keys() == tb.keys()
        for key in ta:
            assert torch.equal(ta[key], tb[key]), f"{name}:{key} differs"
    ma, mb = (json.loads((c / "state.json").read_text()) for c in (ca, cb))
    assert ma == mb
    rows_a, rows_b = (
        [
            {k: v for k, v in json.loads(line).items() if k != "images_per_s"}
            for line in (r / "metrics.jsonl").read_text().splitlines()
        ]
        for r in (a, b)
    )
    assert rows_a == rows_b and len(rows_a) > 3
    for png in (a / "samples").iterdir():  # the per-epoch grids from the fixed noise batch
        assert png.read_bytes() == (b / "samples" / png.name).read_bytes()
    # what `advnets sample` draws from each (in this process: a CLI start costs seconds, and
    # test_cli covers the command)
    first, second = (load_generator(run).sample(16, seed=5) for run in (a, b))
    assert torch.equal(first, second)


@pytest.mark.parametrize("variant", VARIANTS)
def test_resume_mid_epoch_is_bit_identical(tmp_path, variant):
    args = TINY + VARIANTS[variant] + ["--train.epochs", "5"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    advnets("train", *args, "--train.max_steps", 30, "--out", straight)
    advnets("train", *args, "--train.max_steps", 15, "--out", split)
    meta = json.loads((checkpoint.resolve(split) / "state.json").read_text())
    assert (
        meta["step"] == 15 and meta["step"] % meta["steps_per_epoch"] != 0
    )  # the resume point is mid-epoch
    advnets("train", "--resume", split, "--train.max_steps", 30, "--no-progress")
    assert_same_run(straight, split)


def test_interrupted_run_checkpoints_and_resumes_identically(tmp_path):
    args = [*TINY, "--train.epochs", "40"]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    advnets("train", *args, "--out", straight)
    returncode, err = interrupt_training(args, broken, signal.SIGINT)
    if returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert returncode == 130, err
    assert "--resume" in err
    stopped_at = json.loads((checkpoint.resolve(broken) / "state.json").read_text())["step"]
    assert 0 < stopped_at < 40 * 12
    advnets("train", "--resume", broken, "--no-progress")
    assert_same_run(straight, broken)
