"""Semi-supervised learning: the K-class discriminator, feature matching, and the classifiers."""

import json
import re

import pytest
import torch

from advnets.data import load
from advnets.data.labels import labelled_subset
from advnets.losses import feature_matching, semi_supervised_discriminator_loss
from advnets.nn import Discriminator
from advnets.semi import error_rate
from advnets.train.loop import Trainer
from helpers import advnets, tiny_config


def test_labelled_subset_is_class_balanced_and_seeded():
    labels = torch.arange(10).repeat(30)[
        torch.randperm(300, generator=torch.Generator().manual_seed(0))
    ]
    rows = labelled_subset(labels, 4, seed=1)
    assert len(rows) == 40 and len(set(rows.tolist())) == 40
    assert torch.equal(torch.bincount(labels[rows]), torch.full((10,), 4))
    assert torch.equal(rows, labelled_subset(labels, 4, seed=1))
    assert not torch.equal(rows, labelled_subset(labels, 4, seed=2))
    with pytest.raises(ValueError, match="fewer than labels_per_class"):
        labelled_subset(labels, 31, seed=0)


def test_semi_supervised_loss_by_hand():
    lab = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, 3.0]])
    y = torch.tensor([0, 1])
    real = torch.tensor([[1.0, 2.0, 0.0], [-3.0, -2.0, -1.0]])
    fake = torch.tensor([[0.0, 0.0, 0.0]])
    ce = (
        -(
            torch.log(torch.exp(lab[0, 0]) / torch.exp(lab[0]).sum())
            + torch.log(torch.exp(lab[1, 1]) / torch.exp(lab[1]).sum())
        )
        / 2
    )
    z_real, z_fake = torch.exp(real).sum(1), torch.exp(fake).sum(1)
    # D(x) = Z / (Z + 1): -1/2 [mean log D(x) + mean log(1 - D(G(z)))]
    unsup = -0.5 * (torch.log(z_real / (z_real + 1)).mean() + torch.log(1 / (z_fake + 1)).mean())
    torch.testing.assert_close(
        semi_supervised_discriminator_loss(lab, y, real, fake, 0.5), ce + 0.5 * unsup
    )


def test_feature_matching_by_hand():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    # means (2, 3) and (0, 2): ((2 - 0)^2 + (3 - 2)^2) / 2
    assert float(feature_matching(real, fake)) == pytest.approx(2.5)


def test_k_output_discriminator_and_its_features():
    torch.manual_seed(0)
    D = Discriminator(in_dim=6, hidden=[8, 5], pieces=2, outputs=4).eval()
    x = torch.rand(3, 6)
    assert D(x).shape == (3, 4) and D.features(x).shape == (3, 5)
    torch.testing.assert_close(D(x), D.net[-1](D.features(x)))


def test_the_supervised_part_learns_the_labelled_images(tmp_path):
    # with the unsupervised part switched off, D is a classifier trained on the labelled images only
    config = tiny_config(
        semi={"labels_per_class": 5, "unsupervised_weight": 0.0},
        train={"epochs": 12},
        discriminator={"hidden": [64, 64], "input_keep": 1.0, "hidden_keep": 1.0},
        optim={"name": "adam", "lr": 3e-3, "lr_decay": 1.0},
    )
    trainer = Trainer(config, tmp_path / "run", progress=False)
    train = load("digits", "train")
    assert torch.equal(trainer.game.labelled.index.cpu(), labelled_subset(train.y, 5, 0))
    trainer.run()
    D = trainer.players.D.eval()
    rows = trainer.game.labelled.index.cpu()
    assert error_rate(D, train.x[rows], train.y[rows]) == 0.0
    others = torch.ones(len(train), dtype=torch.bool)
    others[rows] = False
    assert (
        error_rate(D, train.x[others], train.y[others]) < 0.6
    )  # it generalises somewhat from 50 images


def test_classify_command(tmp_path):
    run = tmp_path / "run"
    Trainer(
        tiny_config(
            semi={"labels_per_class": 5}, train={"epochs": 2, "objective": "feature-matching"}
        ),
        run,
        progress=False,
    ).run()
    advnets("classify", run, "--baseline-steps", "50")
    (written,) = (run / "classify").glob("step-*-labels-5-seed-0.json")
    report = json.loads(written.read_text())
    assert report["labelled"] == 50 and report["discriminator_trained_on_these_labels"]
    for key in ("discriminator_error", "features_error", "supervised_error"):
        assert 0 <= report[key] <= 1
    # the D error is the K-class argmax of the saved D on the test images
    from advnets.sample import load_discriminator

    test = load("digits", "test")
    assert report["discriminator_error"] == error_rate(load_discriminator(run), test.x, test.y)


def test_semi_needs_labels():
    with pytest.raises(Exception, match="needs class labels"):
        tiny_config(
            data={"source": "ring-2d"}, generator={"output": "linear"}, semi={"labels_per_class": 5}
        )
    with pytest.raises(Exception, match=re.escape("condition.kind = 'none'")):
        tiny_config(semi={"labels_per_class": 5}, condition={"kind": "concat"})


def test_the_average_of_d_is_folded_from_its_iterates_and_is_what_classify_scores(tmp_path):
    from advnets import checkpoint
    from advnets.sample import load_discriminator

    semi = {
        "semi": {"labels_per_class": 5},
        "train": {"max_steps": 12, "objective": "feature-matching"},
    }
    plain, run = tmp_path / "plain", tmp_path / "run"
    Trainer(tiny_config(**semi), plain, progress=False).run()
    trainer = Trainer(
        tiny_config(**semi, average={"kind": "ema", "decay": 0.75, "discriminator": True}),
        run,
        progress=False,
    )
    iterates = []
    while trainer.step < 12:
        trainer.train_step()
        iterates.append({k: v.detach().clone() for k, v in trainer.players.D.state_dict().items()})
    trainer.save_checkpoint()
    # by hand: the mean of the first 1 / (1 - decay) = 4 iterates, then an EMA with weight 1/4
    expected = {k: torch.stack([it[k] for it in iterates[:4]]).mean(0) for k in iterates[0]}
    for it in iterates[4:]:
        expected = {k: 0.75 * expected[k] + 0.25 * it[k] for k in expected}
    averaged = load_discriminator(run, average=True)
    assert averaged.averaged
    for k, v in averaged.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=0, atol=1e-6)
    # the trained D is the one a run without the average has: averaging changes nothing in training
    for k, v in load_discriminator(run).state_dict().items():
        assert torch.equal(v, load_discriminator(plain).state_dict()[k]), k
    assert not load_discriminator(plain, average=True).averaged  # nothing to average: the trained D

    advnets("classify", run, "--no-baseline")
    report = json.loads(next((run / "classify").glob("step-*.json")).read_text())
    test = load("digits", "test")
    assert report["discriminator"] == "average"
    assert report["discriminator_error"] == error_rate(averaged, test.x, test.y)
    assert report["trained_discriminator_error"] == error_rate(
        load_discriminator(run), test.x, test.y
    )
    assert checkpoint.D_AVERAGE_PREFIX in {
        k.split(".")[0] for k in checkpoint.load(checkpoint.resolve(run))[0]
    }


def test_averaging_d_needs_an_average():
    with pytest.raises(Exception, match=r"average\.discriminator = true .* needs average\.kind"):
        tiny_config(average={"discriminator": True})
