"""The class-conditional model p(x | c): the networks, training, sampling, figures and the
metric."""

import re

import pytest
import torch

from advnets.errors import RunError
from advnets.evaluate import EvaluationError, Protocol, evaluate
from advnets.nn import Discriminator, Generator, class_frequencies, sample_classes
from advnets.sample import TrainedGenerator, load_generator
from advnets.train import Trainer
from helpers import advnets, tiny_config


def test_generator_takes_the_one_hot_class_beside_the_noise():
    torch.manual_seed(0)
    G = Generator(noise_dim=4, out_dim=6, hidden=[8], num_classes=3)
    assert G.body[0].in_features == 4 + 3
    z = torch.randn(5, 4)
    c = torch.tensor([0, 1, 2, 1, 0])
    out = G(z, c)
    expected = torch.sigmoid(G.out(G.body(torch.cat([z, torch.eye(3)[c]], 1))))
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert not torch.allclose(
        G(z, torch.zeros(5, dtype=torch.long)), G(z, torch.ones(5, dtype=torch.long))
    )
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)


def test_concat_discriminator_never_drops_the_class():
    torch.manual_seed(0)
    D = Discriminator(
        in_dim=6, hidden=[8, 8], pieces=2, input_keep=0.5, num_classes=3, condition="concat"
    )
    assert D.net[1].linear.in_features == 6 + 3
    x, c = torch.rand(4, 6), torch.tensor([0, 1, 2, 0])
    D.eval()
    h = torch.cat([x, torch.eye(3)[c]], 1)
    torch.testing.assert_close(D(x, c), D.net[1:](h).squeeze(-1), rtol=0, atol=0)
    # in training, dropout hits x's part of the first layer's input, never the one-hot part
    D.train()
    seen = []
    hook = D.net[1].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    D(torch.ones(256, 6), torch.full((256,), 2))
    hook.remove()
    assert (seen[0][:, :6] == 0).any()
    assert torch.equal(seen[0][:, 6:], torch.eye(3)[[2] * 256])


def test_projection_discriminator_adds_the_class_embedding_inner_product():
    torch.manual_seed(0)
    D = Discriminator(
        in_dim=6, hidden=[8, 5], pieces=2, num_classes=3, condition="projection"
    ).eval()
    assert D.embed.weight.shape == (3, 5)
    x, c = torch.rand(4, 6), torch.tensor([0, 1, 2, 2])
    h = D.net[:-1](x)  # the last hidden layer, [4, 5]
    expected = D.net[-1](h).squeeze(-1) + (D.embed.weight[c] * h).sum(-1)
    torch.testing.assert_close(D(x, c), expected, rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match="class-conditional"):
        D(x)


def test_classes_are_drawn_with_the_training_frequencies():
    labels = torch.tensor([0] * 700 + [1] * 200 + [2] * 100)
    freq = class_frequencies(labels)
    torch.testing.assert_close(freq, torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64))
    drawn = sample_classes(freq, 100_000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(class_frequencies(drawn), freq, rtol=0, atol=0.01)


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cond") / "run"
    config = tiny_config(
        condition={"kind": "concat"},
        train={"epochs": 3},
        optim={"name": "adam", "lr": 2e-3, "lr_decay": 1.0},
    )
    Trainer(config, run, progress=False).run()
    return run


def test_trainer_feeds_real_classes_to_d_and_records_p_c(conditional_run):
    trained = load_generator(conditional_run)
    assert trained.num_classes == 10
    from advnets.data import load

    labels = load("digits", "train").y
    torch.testing.assert_close(
        trained.class_frequencies, class_frequencies(labels), rtol=0, atol=1e-12
    )
    # the label must matter to the trained G: the same noise, two classes, two different images
    assert (
        trained.sample(20, seed=1, label=0) - trained.sample(20, seed=1, label=7)
    ).abs().mean() > 1e-3
    # same seed, same samples; and without a label the classes follow p(c), after the same noise
    x, c = trained.sample_with_classes(500, seed=3)
    assert torch.equal(x, trained.sample(500, seed=3))
    assert len(set(c.tolist())) == 10
    with torch.no_grad():
        direct = trained.G(_noise(trained, 500, 3)[c == 4], torch.full((int((c == 4).sum()),), 4))
    torch.testing.assert_close(x[c == 4], direct, rtol=0, atol=1e-6)  # sample i is G(z_i, c_i)


def _noise(trained, n, seed):
    from advnets.nn import sample_noise

    g = trained.config.generator
    return sample_noise(g.prior, n, g.noise_dim, generator=torch.Generator().manual_seed(seed))


def test_the_classes_must_exist_in_the_data(tmp_path):
    with pytest.raises(Exception, match="needs class labels"):
        tiny_config(
            data={"source": "ring-2d"}, generator={"output": "linear"}, condition={"kind": "concat"}
        )
    from advnets.data import load

    unlabelled = load("digits", "train")
    unlabelled.y = None
    with pytest.raises(RunError, match="needs class labels"):
        Trainer(
            tiny_config(condition={"kind": "concat"}),
            tmp_path / "run",
            progress=False,
            train_data=unlabelled,
        )
    assert not (tmp_path / "run").exists()


def test_cli_label_and_classes_figure(conditional_run, tmp_path):
    advnets("sample", conditional_run, "--label", 3, "-n", 8, "--npy", tmp_path / "three.npy")
    import numpy as np

    three = torch.from_numpy(np.load(tmp_path / "three.npy")).reshape(8, -1)
    assert torch.equal(three, load_generator(conditional_run).sample(8, seed=0, label=3))
    bad = advnets(
        "sample", conditional_run, "--label", 10, "--npy", tmp_path / "x.npy", check=False
    )
    assert (
        bad.returncode != 0
        and "expected 0 to 9" in bad.stderr
        and not (tmp_path / "x.npy").exists()
    )
    advnets("figure", "classes", conditional_run, "--cols", 5, "--out", tmp_path / "classes.png")
    from PIL import Image

    width, height = Image.open(tmp_path / "classes.png").size
    assert height > width  # ten rows of five 8 x 8 digits


def test_an_unconditional_run_refuses_labels(tmp_path):
    run = tmp_path / "plain"
    Trainer(tiny_config(train={"epochs": 1}), run, progress=False).run()
    bad = advnets("sample", run, "--label", 1, "--npy", tmp_path / "x.npy", check=False)
    assert bad.returncode != 0 and "not a class-conditional model" in bad.stderr
    bad = advnets("figure", "classes", run, check=False)
    assert bad.returncode != 0 and "class-conditional" in bad.stderr


class _ImagesOfClass(torch.nn.Module):
    """A stand-in G that answers class c with real test images of class c + shift."""

    def __init__(self, images, labels, shift):
        super().__init__()
        self.bank = [images[labels == c] for c in range(10)]
        self.shift, self.noise_dim = shift, 4
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, c):
        rows = (z[:, 0].abs() * 1e6).long()
        return torch.stack(
            [
                self.bank[(int(ci) + self.shift) % 10][
                    int(r) % len(self.bank[(int(ci) + self.shift) % 10])
                ]
                for r, ci in zip(rows, c)
            ]
        )


def test_classes_metric_measures_agreement_and_per_class_fid(mnist_root, tmp_path, monkeypatch):
    from advnets.data import load

    test = load("mnist", "test", mnist_root)
    # a conditional MNIST run, whose G is then replaced by one that answers with test images
    run = tmp_path / "run"
    config = tiny_config(
        data={"source": "mnist", "dir": str(mnist_root)}, condition={"kind": "concat"},
        train={"max_steps": 1},
    )  # fmt: skip
    Trainer(config, run, progress=False).run()
    trained = load_generator(run)
    results = {}
    for shift in (0, 1):
        fake = TrainedGenerator(
            _ImagesOfClass(test.x[5000:], test.y[5000:], shift),
            trained.config,
            (28, 28),
            trained.step,
            trained.checkpoint,
            False,
            torch.full((10,), 0.1, dtype=torch.float64),
        )
        monkeypatch.setattr("advnets.sample.load_generator", lambda *a, fake=fake, **k: fake)
        results[shift] = evaluate(
            run,
            "classes",
            Protocol(samples=3000, split_rows=5000),
            data_dir=mnist_root,
            write=False,
            progress=False,
        ).metrics["classes"]
    right, wrong = results[0], results[1]
    assert right["samples_per_class"] == 300 and len(right["per_class_fid"]) == 10
    # images of the asked-for class: the classifier's own accuracy; of the next class: no agreement
    assert right["agreement"] > 0.97 and min(right["per_class_agreement"]) > 0.9
    assert wrong["agreement"] < 0.03
    # every class's FID against its own test images is far below any class's against another's
    assert max(right["per_class_fid"]) * 3 < min(wrong["per_class_fid"])
    assert right["fid_mean"] == pytest.approx(sum(right["per_class_fid"]) / 10)


def test_classes_metric_refuses_an_unconditional_run(tmp_path):
    run = tmp_path / "plain"
    Trainer(tiny_config(train={"epochs": 1}), run, progress=False).run()
    with pytest.raises(EvaluationError, match="unconditional"):
        evaluate(run, "classes", Protocol(samples=100), write=False, progress=False)


def test_auxiliary_classifier_adds_weighted_cross_entropy_to_both_players(tmp_path):
    config = tiny_config(
        condition={"kind": "projection", "auxiliary_weight": 0.5}, train={"epochs": 1}
    )
    trainer = Trainer(config, tmp_path / "run", progress=False)
    D = trainer.players.D.eval()
    x, c = torch.rand(5, 64), torch.tensor([0, 3, 9, 3, 1])
    verdict = trainer.game.judge(D, x, c, None)
    classes = verdict.classes
    assert classes.shape == (5, 10)
    torch.testing.assert_close(verdict.logits, D(x, c))
    h = D.net[:-1](x)
    torch.testing.assert_close(classes, D.classify(h))
    expected = 0.5 * -torch.log_softmax(classes, 1)[torch.arange(5), c].mean()
    torch.testing.assert_close(trainer.game.auxiliary_loss(classes, c), expected)
    assert trainer.game.auxiliary_loss(None, c) == 0.0
    trainer.run()
    from advnets.sample import load_discriminator

    loaded = load_discriminator(tmp_path / "run")
    assert torch.equal(loaded.classify.weight, trainer.players.D.classify.weight)
    for kind in ("none", "concat"):  # a concat D's classifier would see the class it is to predict
        with pytest.raises(Exception, match=re.escape("needs condition.kind = 'projection'")):
            tiny_config(condition={"kind": kind, "auxiliary_weight": 1.0})
