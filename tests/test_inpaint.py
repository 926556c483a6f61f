"""Completing hidden pixels by searching G's noise (section 7, extension 3)."""

import json

import pytest
import torch

from advnets.inpaint import complete, visible_mask
from advnets.train.loop import Trainer
from helpers import advnets, tiny_config


def test_masks_hide_what_they_name():
    bottom = visible_mask("bottom", (28, 28), 3).view(3, 28, 28)
    assert torch.equal(bottom[:, :14], torch.ones(3, 14, 28)) and torch.equal(
        bottom[:, 14:], torch.zeros(3, 14, 28)
    )
    right = visible_mask("right", (8, 8), 1).view(8, 8)
    assert right[:, :4].all() and not right[:, 4:].any()
    centre = visible_mask("centre", (28, 28), 1).view(28, 28)
    assert int((centre == 0).sum()) == 14 * 14 and not centre[7:21, 7:21].any()
    rand = visible_mask("random", (28, 28), 200, seed=1)
    assert abs(float(rand.mean()) - 0.5) < 0.01 and torch.equal(
        rand, visible_mask("random", (28, 28), 200, seed=1)
    )
    assert not torch.equal(rand[0], rand[1])
    with pytest.raises(ValueError, match="valid masks"):
        visible_mask("half", (28, 28), 1)


class _Linear(torch.nn.Module):
    """G(z) = A z: the visible pixels determine z, so the hidden ones are determined too."""

    def __init__(self, dim, noise_dim):
        super().__init__()
        self.A = torch.nn.Parameter(
            torch.randn(dim, noise_dim, generator=torch.Generator().manual_seed(0))
        )

    def forward(self, z):
        return z @ self.A.T


def test_completion_recovers_hidden_pixels_that_the_visible_ones_determine():
    G = _Linear(16, 3)
    z_true = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    x = G(z_true).detach()
    visible = visible_mask("bottom", (4, 4), 5)
    completed, _ = complete(
        G, x, visible, prior="gaussian", noise_dim=3, steps=600, restarts=2, lr=0.05
    )
    assert torch.equal(completed * visible, x * visible)  # what was seen is kept as it was
    hidden = visible == 0
    assert (completed - x)[hidden].abs().max() < 1e-3
    assert G.A.grad is None  # the search moves z only


def test_the_best_of_the_restarts_is_kept():
    from advnets.nn import sample_noise

    G = _Linear(16, 3)
    x = G(torch.randn(4, 3, generator=torch.Generator().manual_seed(2))).detach()
    visible = visible_mask("random", (4, 4), 4, seed=3)
    # with no steps the answer is the best-fitting of the starting points themselves
    _, generated = complete(
        G, x, visible, prior="gaussian", noise_dim=3, steps=0, restarts=6, seed=7
    )
    starts = (
        G(sample_noise("gaussian", 24, 3, generator=torch.Generator().manual_seed(7)))
        .detach()
        .view(4, 6, 16)
    )
    fits = ((starts - x[:, None]) * visible[:, None]).square().sum(2)  # [4 images, 6 starts]
    assert fits.min(1).values.lt(fits.max(1).values).all()  # the starts do differ
    torch.testing.assert_close(generated, starts[torch.arange(4), fits.argmin(1)])


def test_inpaint_command_writes_the_figure_and_report(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"epochs": 1}), run, progress=False).run()
    advnets(
        "inpaint",
        run,
        "-n",
        "12",
        "--steps",
        "20",
        "--mask",
        "left",
        "--cols",
        "6",
        "--no-progress",
    )
    report = json.loads((run / "inpaint" / "left.json").read_text())
    assert report["images"] == 12 and report["hidden_fraction"] == 0.5 and report["steps"] == 20
    assert "accuracy_completed" not in report  # no classifier is shipped for 8 x 8 digits
    from PIL import Image

    width, height = Image.open(run / "inpaint" / "left.png").size
    assert width > height  # 3 rows of 6 images


def test_inpaint_refuses_a_conditional_run(tmp_path):
    run = tmp_path / "run"
    Trainer(
        tiny_config(train={"epochs": 1}, condition={"kind": "concat"}), run, progress=False
    ).run()
    proc = advnets("inpaint", run, "-n", "4", "--steps", "2", "--no-progress", check=False)
    assert (
        proc.returncode == 1
        and "class-conditional" in proc.stderr
        and not (run / "inpaint").exists()
    )


def test_nearest_fill_takes_the_hidden_pixels_of_the_nearest_training_image_on_the_visible_ones():
    from advnets.inpaint import nearest_fill

    train = torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0], [1.0, 0.9, 0.5, 0.5]])
    images = torch.tensor([[0.9, 1.0, 0.0, 0.0], [0.1, 0.0, 0.7, 0.7]])
    visible = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    # image 0 sees (0.9, 1.0): nearest is row 1 (distance 0.01) over row 2 (0.02); image 1 sees
    # row 0
    expected = torch.tensor([[0.9, 1.0, 0.0, 0.0], [0.1, 0.0, 1.0, 1.0]])
    torch.testing.assert_close(nearest_fill(images, visible, train, block=1), expected)


def test_realism_uses_a_semi_supervised_ds_log_sum_exp():
    G = _Linear(16, 3)
    x = G(torch.randn(2, 3, generator=torch.Generator().manual_seed(4))).detach()
    visible = visible_mask("bottom", (4, 4), 2)
    W = torch.randn(16, 5, generator=torch.Generator().manual_seed(5))

    def classes(image, c=None):  # K = 5 class logits
        return image @ W

    def real_logit(image, c=None):
        return torch.logsumexp(image @ W, 1)

    runs = [
        complete(G, x, visible, prior="gaussian", noise_dim=3, steps=20, realism=0.5, D=d)[0]
        for d in (classes, real_logit)
    ]
    torch.testing.assert_close(runs[0], runs[1])
