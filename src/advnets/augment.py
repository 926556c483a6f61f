"""Differentiable augmentation (DiffAugment; Zhao et al., 2020) for small data sets.

D sees every image, real or generated, through the same random transforms T, in D's updates and
in G's: D then cannot memorise the few real images, and since T is differentiable G's gradient
flows through it. The transforms are the paper's, on images in [-1, 1] (advnets' pixels in
[0, 1] are mapped there and back):

- color: brightness + U(-0.5, 0.5); saturation (x - mean_c) * U(0, 2) + mean_c; contrast
  (x - mean) * U(0.5, 1.5) + mean, each drawn per image;
- translation: a shift of up to 1/8 of each side, whole pixels, padded with zeros (grey);
- cutout: a zeroed square of half the side, at a random place (it may overhang the border).

Every image draws its own parameters from torch's global generator, which checkpoints save, so a
resumed run draws what the straight run drew.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TRANSLATION = 1 / 8  # the largest shift, as a fraction of each side
CUTOUT = 1 / 2  # the side of the cut-out square, as a fraction of the image's


def color(x: torch.Tensor) -> torch.Tensor:
    n = len(x)
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = TRANSLATION) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    # output pixel (i, j) shows input pixel (i + dy, j + dx) of the zero-padded image
    src_r = (rows + dy).clamp(-1, h) + 1
    src_c = (cols + dx).clamp(-1, w) + 1
    padded = F.pad(x, (1, 1, 1, 1))
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, src_r, src_c].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = CUTOUT) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment:
    """T of a policy (config.augment_policy), on data rows [B, D] of images `image_shape`
    ((H, W) or (C, H, W))."""

    def __init__(self, policy: tuple[str, ...], image_shape: tuple[int, ...]):
        self.policy = policy
        self.shape = (1, *image_shape) if len(image_shape) == 2 else tuple(image_shape)

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        x = rows.reshape(len(rows), *self.shape) * 2 - 1
        for name in self.policy:
            x = TRANSFORMS[name](x)
        return ((x + 1) / 2).reshape(rows.shape)
