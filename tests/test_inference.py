"""Learned approximate inference: E(x) -> z fitted to a frozen G, and how it is measured."""

import json

import numpy as np
import pytest
import torch

from advnets.config import Config
from advnets.inference import (
    encode,
    fit_encoder,
    latent_r2,
    load_encoder,
    nearest_neighbour_accuracy,
)
from advnets.nn.encoder import Encoder
from advnets.sample import TrainedGenerator, load_generator
from advnets.train.loop import Trainer
from helpers import advnets, tiny_config


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_nearest_neighbour_accuracy_matches_brute_force(metric):
    gen = torch.Generator().manual_seed(0)
    train, test = torch.randn(300, 5, generator=gen), torch.randn(120, 5, generator=gen)
    train_y, test_y = (
        torch.randint(0, 3, (300,), generator=gen),
        torch.randint(0, 3, (120,), generator=gen),
    )
    hits = 0
    for x, y in zip(test.double(), test_y):
        if metric == "euclidean":
            d = [float(((x - t) ** 2).sum()) for t in train.double()]
        else:
            d = [1 - float(x @ t / (x.norm() * t.norm())) for t in train.double()]
        hits += int(train_y[int(np.argmin(d))] == y)
    assert nearest_neighbour_accuracy(train, train_y, test, test_y, metric, block=7) == hits / 120
    # the labels of the test rows themselves, looked up among themselves: always right
    assert nearest_neighbour_accuracy(test, test_y, test, test_y, metric) == 1.0


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.A = torch.nn.Parameter(torch.randn(12, 3, generator=torch.Generator().manual_seed(0)))

    def forward(self, z, c=None):
        return z @ self.A.T


def test_encoder_inverts_an_injective_generator():
    config = Config()
    config.generator.noise_dim, config.generator.prior = 3, "gaussian"
    trained = TrainedGenerator(_Linear(), config, None, 0, None)
    E, log = fit_encoder(trained, steps=1500, batch=64, lr=3e-3, hidden=(32,), log_every=100)
    assert log[-1]["loss"] < 0.05 * log[0]["loss"]
    assert latent_r2(E, trained) > 0.98
    assert trained.G.A.grad is None  # G stays as it was


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("enc") / "run"
    advnets("train", "--preset", "digits-quick", "--train.epochs", 3, "--out", run, "--no-progress")
    return run


def test_encoder_command_fits_measures_and_saves(digits_run, tmp_path):
    advnets("encoder", digits_run, "--steps", 3000, "--hidden", 256, "--lr", 0.003, "--no-progress")
    record = json.loads((digits_run / "encoder" / "encoder.json").read_text())
    losses = [row["loss"] for row in record["loss"]]
    assert len(losses) == 20 and sum(losses[-5:]) / 5 < losses[0]  # the encoder's loss falls
    # the R^2 recorded is the saved E's, and E recovers far more of z than an E that learned
    # nothing: an untrained E of the same shape, or E(x) = 0, the prior's mean (R^2 about 0).
    # (This G is far from injective: the fitted E reaches about 0.19.)
    trained, (E, _) = load_generator(digits_run), load_encoder(digits_run)
    r2 = record["r2_generated"]
    assert r2 == pytest.approx(latent_r2(E, trained), rel=1e-6)
    g = trained.config.generator
    torch.manual_seed(1)
    untrained = Encoder(E.in_dim, g.noise_dim, record["hidden"], g.activation, g.prior).eval()
    nothing_learned = max(latent_r2(untrained, trained), 0.0)
    assert r2 > nothing_learned + 0.1, (r2, nothing_learned)
    assert (
        0 < record["nn1_accuracy_euclidean"] <= 1 and record["nn1_accuracy_pixels_euclidean"] > 0.9
    )
    advnets("encode", digits_run, "--split", "test", "-n", 50, "--npy", tmp_path / "codes.npy")
    codes = np.load(tmp_path / "codes.npy")
    E, _ = load_encoder(digits_run)
    from advnets.data import load

    assert codes.shape == (50, 32)
    np.testing.assert_array_equal(codes, encode(E, load("digits", "test").x[:50]).numpy())
    advnets(
        "figure",
        "reconstruction",
        digits_run,
        "--rows",
        2,
        "--cols",
        5,
        "--out",
        tmp_path / "rec.png",
    )
    assert (tmp_path / "rec.png").stat().st_size > 0


def test_encode_without_a_fitted_encoder_says_how_to_fit_one(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"epochs": 1}), run, progress=False).run()
    proc = advnets("encode", run, "--npy", tmp_path / "codes.npy", check=False)
    assert (
        proc.returncode == 1
        and "advnets encoder" in proc.stderr
        and not (tmp_path / "codes.npy").exists()
    )
    cond = tmp_path / "cond"
    Trainer(
        tiny_config(train={"epochs": 1}, condition={"kind": "concat"}), cond, progress=False
    ).run()
    proc = advnets("encoder", cond, "--steps", 5, "--no-progress", check=False)
    assert (
        proc.returncode == 1
        and "class-conditional" in proc.stderr
        and not (cond / "encoder").exists()
    )


def test_pair_discriminator_takes_its_second_input_after_x_dropout():
    from advnets.nn import Discriminator

    torch.manual_seed(0)
    D = Discriminator(in_dim=6, hidden=[8], pieces=2, input_keep=0.5, extra_dim=3).eval()
    x, z = torch.rand(4, 6), torch.randn(4, 3)
    torch.testing.assert_close(
        D(x, None, z), D.net[1:](torch.cat([x, z], 1)).squeeze(-1), rtol=0, atol=0
    )
    with pytest.raises(ValueError, match="judges pairs"):
        D(x)


def test_bigan_trains_e_beside_g_with_the_flipped_objective(tmp_path):
    config = tiny_config(encoder={"kind": "bigan", "hidden": [16]}, train={"epochs": 1})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    E = trainer.players.E
    before = [p.detach().clone() for p in E.parameters()]
    assert all(
        any(p is q for q in trainer.players.g_opt.param_groups[0]["params"]) for p in E.parameters()
    )
    # G wants D(G(z), z) called real, E wants D(x, E(x)) called generated: non-saturating, both
    # sides
    fake_logits, real_logits = torch.tensor([0.3, -1.0]), torch.tensor([2.0, 0.5])
    expected = (
        torch.nn.functional.softplus(-fake_logits).mean()
        + torch.nn.functional.softplus(real_logits).mean()
    )
    from advnets.game import Verdict

    fake = Verdict(out=fake_logits, logits=fake_logits)
    torch.testing.assert_close(trainer.game.g_loss(None, None, None, fake, real_logits), expected)
    trainer.run()
    assert all(not torch.equal(b, p) for b, p in zip(before, E.parameters()))  # E learned
    loaded, record = load_encoder(tmp_path / "run")
    assert "jointly" in record["trained"]
    for a, b in zip(loaded.state_dict().values(), E.state_dict().values()):
        assert torch.equal(a, b)
    advnets("encoder", tmp_path / "run", "--no-progress")
    assert "r2_generated" in json.loads((tmp_path / "run" / "encoder" / "encoder.json").read_text())
    assert not (
        tmp_path / "run" / "encoder" / "weights.safetensors"
    ).exists()  # E lives in the checkpoints


def test_a_bigan_runs_discriminator_loads_back(tmp_path):
    from advnets.sample import load_discriminator

    config = tiny_config(encoder={"kind": "bigan", "hidden": [16]}, train={"epochs": 1})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    trainer.run()
    D = load_discriminator(tmp_path / "run")
    x, z = torch.rand(3, 64), torch.randn(3, 8)
    torch.testing.assert_close(D(x, None, z), trainer.players.D.eval()(x, None, z))
    proc = advnets("classify", tmp_path / "run", "--no-baseline", check=False)
    assert proc.returncode == 1 and "BiGAN" in proc.stderr
