"""DiffAugment: each transform against a brute-force reading of its definition, gradients through
it, and the game showing D the transformed images on both branches and in both updates."""

import pytest
import torch

from advnets.augment import DiffAugment, color, cutout, translation
from advnets.config import augment_policy
from advnets.errors import ConfigError
from advnets.game import Game
from advnets.nn import build_discriminator
from helpers import tiny_config


def _images(n=6, c=3, h=16, w=16, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_translation_shifts_each_image_by_whole_pixels_within_an_eighth_padding_with_zeros():
    x = _images(20, h=16, w=24)
    out = translation(x)
    assert out.shape == x.shape
    for image, moved in zip(x, out):
        matches = []
        for dy in range(-2, 3):  # 16 / 8 = 2 rows, 24 / 8 = 3 columns at most
            for dx in range(-3, 4):
                shifted = torch.zeros_like(image)
                for i in range(16):
                    for j in range(24):
                        if 0 <= i + dy < 16 and 0 <= j + dx < 24:
                            shifted[:, i, j] = image[:, i + dy, j + dx]
                if torch.equal(shifted, moved):
                    matches.append((dy, dx))
        assert matches, "an image was not a whole-pixel shift of its input"
    assert not torch.equal(out, x)


def test_cutout_zeroes_one_square_of_half_the_side_and_keeps_the_rest():
    x = _images(50, h=16, w=16) + 3  # no pixel of the input is zero
    out = cutout(x)
    for image, cut in zip(x, out):
        zero = (cut == 0).all(0)  # [H, W]: the same pixels cut in every channel
        assert ((cut == 0).any(0) == zero).all()
        assert torch.equal(cut[:, ~zero], image[:, ~zero])
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 8 and 1 <= len(cols) <= 8  # a square of side 8, maybe clipped
        assert zero[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # solid
        assert zero.sum() == len(rows) * len(cols)
    sides = [(c == 0).all(0).any(1).sum().item() for c in out]
    assert max(sides) == 8 and min(sides) < 8  # the whole square, and some overhanging a border


def test_color_is_brightness_then_saturation_then_contrast_per_image():
    x = _images(8)
    torch.manual_seed(3)
    out = color(x)
    torch.manual_seed(3)
    b, s, c = (torch.rand(8, 1, 1, 1) for _ in range(3))
    for i in range(8):
        y = x[i] + (b[i] - 0.5)
        grey = y.mean(0, keepdim=True)
        y = (y - grey) * (2 * s[i]) + grey
        y = (y - y.mean()) * (c[i] + 0.5) + y.mean()
        torch.testing.assert_close(out[i], y)


@pytest.mark.parametrize("shape", [(3, 16, 16), (8, 8)])
def test_diffaugment_keeps_the_rows_shape_and_passes_gradients(shape):
    n = 5
    rows = torch.rand(n, int(torch.tensor(shape).prod()), requires_grad=True)
    aug = DiffAugment(augment_policy("color,translation,cutout"), shape)
    out = aug(rows)
    assert out.shape == rows.shape
    out.square().sum().backward()
    assert rows.grad is not None and rows.grad.abs().sum() > 0
    # the [0, 1] pixels are transformed as [-1, 1] ones: a zero there is grey, 0.5 here
    torch.manual_seed(0)
    only_cut = DiffAugment(("cutout",), shape)(torch.ones(n, rows.shape[1]))
    assert set(only_cut.unique().tolist()) == {0.5, 1.0}


def test_policy_text_is_checked():
    assert augment_policy("cutout, color") == ("color", "cutout")
    assert augment_policy("none") == ()
    for bad in ("colour", "color,color", "", "translation,,cutout"):
        with pytest.raises(ConfigError, match=r"augment\.policy"):
            augment_policy(bad)
    with pytest.raises(ConfigError, match="is points"):
        tiny_config(data={"source": "ring-2d"}, generator={"output": "linear"},
                    augment={"policy": "color"})  # fmt: skip


class Recorder(torch.nn.Module):
    """A D that remembers every batch it is shown."""

    def __init__(self, D):
        super().__init__()
        self.D, self.seen = D, []

    def forward(self, x, c=None, pair=None, **kw):
        self.seen.append(x.detach().clone())
        return self.D(x, c, pair, **kw)


def test_the_game_shows_d_transformed_real_and_generated_images_in_both_updates():
    cfg = tiny_config(
        augment={"policy": "color,translation,cutout"},
        discriminator={"input_keep": 1.0, "hidden_keep": 1.0},  # no dropout draws between T's
    )
    D = Recorder(build_discriminator(cfg, 64, num_classes=None, outputs=1, image_shape=(8, 8)))
    game = Game(cfg, D, image_shape=(8, 8))
    x = torch.rand(10, 64)
    fake = torch.rand(10, 64, requires_grad=True)
    torch.manual_seed(7)
    real_v, fake_v = game.judge_both(D, x, None, None, fake, None, None)
    game.d_loss(real_v, fake_v, x, None, fake)
    for_g, _ = game.judge_for_g(x, fake, None, None, None)
    game.g_loss(x, fake, None, for_g).backward()
    torch.manual_seed(7)  # the same draws, in the same order: real, generated, generated for G
    aug = DiffAugment(augment_policy(cfg.augment.policy), (8, 8))
    expected = [aug(x), aug(fake.detach()), aug(fake.detach())]
    assert len(D.seen) == 3
    for shown, want, raw in zip(D.seen, expected, [x, fake, fake]):
        assert torch.equal(shown, want) and not torch.equal(shown, raw.detach())
    assert fake.grad is not None and fake.grad.abs().sum() > 0  # G's gradient passes through T
    plain = Game(tiny_config(), D, image_shape=(8, 8))
    assert plain.augment is None and plain.seen(x) is x
