"""The game of one config: D's and G's losses against the paper's formulas written out here."""

import math

import pytest
import torch
import torch.nn.functional as F

from advnets.game import Game, Labelled
from helpers import tiny_config


class StubD(torch.nn.Module):
    """A deterministic D (no dropout): a linear logit of x, or of (x, z) for BiGAN pairs; with
    `classes`, also a linear classifier; with `outputs` K > 1, K class logits."""

    def __init__(self, dim=3, outputs=1, classes=0, pair_dim=0):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Linear(dim + pair_dim, 4)
        self.head = torch.nn.Linear(4, outputs)
        self.classifier = torch.nn.Linear(4, classes) if classes else None
        self.outputs = outputs

    def features(self, x):
        return torch.tanh(self.body(x))

    def forward(self, x, c=None, pair=None, with_classes=False):
        h = torch.tanh(self.body(x if pair is None else torch.cat([x, pair], 1)))
        out = self.head(h)
        out = out.squeeze(1) if self.outputs == 1 else out
        return (out, self.classifier(h)) if with_classes else out


def batch(n=6, dim=3, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, dim, generator=gen), torch.rand(n, dim, generator=gen)


def log_sigmoid(t):
    return -F.softplus(-t)


def test_the_paper_value_function_and_both_generator_objectives():
    D = StubD()
    x, fake = batch()
    for objective in ("non-saturating", "minimax"):
        game = Game(tiny_config(train={"objective": objective}), D)
        real_v, fake_v = game.judge_both(D, x, None, None, fake, None, None)
        lr, lf = D(x), D(fake)
        # D ascends V = E log D(x) + E log(1 - D(G(z))): its loss is -V/2 (the reference code's)
        v = log_sigmoid(lr).mean() + log_sigmoid(-lf).mean()
        torch.testing.assert_close(game.d_loss(real_v, fake_v, x, None, fake), -v / 2)
        g = game.g_loss(x, fake, None, fake_v)
        if objective == "minimax":  # G descends E log(1 - D(G(z)))
            torch.testing.assert_close(g, log_sigmoid(-lf).mean())
        else:  # G ascends E log D(G(z))
            torch.testing.assert_close(g, -log_sigmoid(lf).mean())


def test_semi_supervised_d_uses_log_sum_exp_and_a_labelled_batch():
    K = 4
    D = StubD(outputs=K)
    x, fake = batch()
    train_x, train_y = torch.rand(20, 3), torch.arange(20) % K
    index = torch.tensor([1, 5, 7, 12])
    cfg = tiny_config(semi={"labels_per_class": 1, "unsupervised_weight": 0.5})
    game = Game(cfg, D, Labelled(train_x, train_y, index))
    real_v, fake_v = game.judge_both(D, x, None, None, fake, None, None)
    torch.testing.assert_close(real_v.logits, torch.logsumexp(D(x), 1))
    torch.manual_seed(3)
    loss = game.d_loss(real_v, fake_v, x, None, fake)
    torch.manual_seed(3)
    rows = index[torch.randint(len(index), (len(x),))]  # the same draw as the game's
    zr, zf = torch.logsumexp(D(x), 1), torch.logsumexp(D(fake), 1)
    unsupervised = -(log_sigmoid(zr).mean() + log_sigmoid(-zf).mean()) / 2
    expected = F.cross_entropy(D(train_x[rows]), train_y[rows]) + 0.5 * unsupervised
    torch.testing.assert_close(loss, expected)


def test_auxiliary_classifier_adds_its_weighted_cross_entropy_on_both_sides():
    D = StubD(classes=3)
    x, fake = batch()
    c, c_fake = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([2, 2, 1, 1, 0, 0])
    cfg = tiny_config(condition={"kind": "projection", "auxiliary_weight": 0.25})
    game = Game(cfg, D)
    real_v, fake_v = game.judge_both(D, x, c, None, fake, c_fake, None)
    (lr, kr), (lf, kf) = D(x, with_classes=True), D(fake, with_classes=True)
    d_paper = -(log_sigmoid(lr).mean() + log_sigmoid(-lf).mean()) / 2
    torch.testing.assert_close(
        game.d_loss(real_v, fake_v, x, c, fake), d_paper + 0.25 * F.cross_entropy(kr, c)
    )
    torch.testing.assert_close(
        game.g_loss(x, fake, c_fake, fake_v),
        -log_sigmoid(lf).mean() + 0.25 * F.cross_entropy(kf, c_fake),
    )


def test_bigan_d_judges_pairs_and_e_plays_with_the_flipped_logit():
    D = StubD(pair_dim=2)
    x, fake = batch()
    z, code = torch.rand(6, 2), torch.rand(6, 2)
    cfg = tiny_config(encoder={"kind": "bigan"}, generator={"noise_dim": 2})
    game = Game(cfg, D)
    real_v, fake_v = game.judge_both(D, x, None, code, fake, None, z)
    torch.testing.assert_close(real_v.logits, D(x, None, code))
    torch.testing.assert_close(fake_v.logits, D(fake, None, z))
    # G wants D(G(z), z) called real; E wants D(x, E(x)) called generated
    expected = -log_sigmoid(D(fake, None, z)).mean() - log_sigmoid(-D(x, None, code)).mean()
    torch.testing.assert_close(game.g_loss(x, fake, None, fake_v, real_v.logits), expected)
    fake_for_g, real_logits = game.judge_for_g(x, fake, None, z, lambda rows: code)
    torch.testing.assert_close(game.g_loss(x, fake, None, fake_for_g, real_logits), expected)


def test_feature_matching_generator_loss():
    D = StubD()
    x, fake = batch()
    game = Game(tiny_config(train={"objective": "feature-matching"}), D)
    fake_for_g, _ = game.judge_for_g(x, fake, None, None, None)
    assert fake_for_g is None  # G's update needs no verdict of D on G(z)
    expected = (D.features(x).mean(0) - D.features(fake).mean(0)).square().mean()
    torch.testing.assert_close(game.g_loss(x, fake, None, None), expected)


@pytest.mark.parametrize("penalty", ["r1", "gradient"])
def test_penalties_on_d_input_gradient(penalty):
    D = StubD()
    x, fake = batch()
    weight = 2.0
    game = Game(tiny_config(penalty={penalty: weight}), D)
    real_v, fake_v = game.judge_both(D, x, None, None, fake, None, None)
    torch.manual_seed(4)
    loss = game.d_loss(real_v, fake_v, x, None, fake)
    torch.manual_seed(4)
    points = x
    if penalty == "gradient":  # on random points between real and generated rows
        e = torch.rand(len(x), 1)
        points = e * x + (1 - e) * fake
    points = points.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(points).sum(), points)
    norm = grad.norm(dim=1)
    extra = norm.square().mean() if penalty == "r1" else (norm - 1).square().mean()
    d_paper = -(log_sigmoid(D(x)).mean() + log_sigmoid(-D(fake)).mean()) / 2
    # R1 is (gamma / 2) E||grad D(x)||^2 (Mescheder et al. 2018); WGAN-GP lambda E(||grad|| - 1)^2
    scale = 0.5 if penalty == "r1" else 1.0
    expected = (d_paper + weight * scale * extra).detach()
    assert math.isclose(float(loss.detach()), float(expected), rel_tol=1e-5)
