"""Convolutional layers for G and D (DCGAN, Radford et al. 2016), chosen by `kind = "dcgan"`.

Images stay flattened between the networks and the rest of advnets ([B, C*H*W], channels first);
the conv stacks unflatten at D's input and flatten at G's output. `hidden` lists one channel width
per stage, and each stage halves (D) or doubles (G) the side, so the image side must be a
multiple of 2 ** len(hidden): 28 x 28 with two widths (7 -> 14 -> 28), 32 x 32 with three
(4 -> 8 -> 16 -> 32), 64 x 64 with four.

- G: z -> linear -> [hidden[0], h0, w0] -> (transposed conv 4x4 stride 2, batch norm, activation)
  for each further width -> transposed conv to the image's channels.
- D: image -> (conv 4x4 stride 2, [batch norm,] activation) per width -> flatten: its features ->
  linear.
"""

from __future__ import annotations

import itertools

from torch import nn

from advnets.errors import ConfigError


def channels_and_size(image_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, height, width) of an image shape (H, W) (one channel) or (C, H, W)."""
    return (1, *image_shape) if len(image_shape) == 2 else tuple(image_shape)


def start_size(image_shape: tuple[int, ...], stages: int, role: str) -> tuple[int, int]:
    """The side of the smallest feature map, (H / 2^stages, W / 2^stages); an error naming the fix
    when the image side is not a multiple of 2^stages."""
    _, h, w = channels_and_size(image_shape)
    s = 2**stages
    if stages < 1 or h % s or w % s:
        fits = [n for n in range(1, 7) if h % 2**n == 0 and w % 2**n == 0 and h // 2**n >= 2]
        hint = (
            f"give {role}.hidden {' or '.join(map(str, fits))} widths"
            if fits
            else "this image size cannot be halved"
        )
        raise ConfigError(
            f"{role}.hidden = {stages} widths halve the image side {stages} times, and {h} x {w} "
            "is not "
            f"a multiple of {s} x {s}: {hint}"
        )
    return h // s, w // s


def generator_layers(
    in_dim: int, image_shape: tuple[int, ...], hidden: list[int], activation, batch_norm: bool
) -> tuple[nn.Sequential, nn.Module]:
    """(body, out) of a DCGAN generator; body(z) is [B, hidden[-1], H/2, W/2], out(body) the
    image."""
    channels = channels_and_size(image_shape)[0]
    h0, w0 = start_size(image_shape, len(hidden), "generator")

    def norm(width: int) -> list[nn.Module]:
        return [nn.BatchNorm2d(width)] if batch_norm else []

    layers: list[nn.Module] = [
        nn.Linear(in_dim, hidden[0] * h0 * w0, bias=not batch_norm),
        nn.Unflatten(1, (hidden[0], h0, w0)),
        *norm(hidden[0]),
        activation(),
    ]
    for a, b in itertools.pairwise(hidden):
        layers += [
            nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=not batch_norm),
            *norm(b),
            activation(),
        ]
    return nn.Sequential(*layers), nn.ConvTranspose2d(hidden[-1], channels, 4, stride=2, padding=1)


def discriminator_layers(
    image_shape: tuple[int, ...],
    hidden: list[int],
    activation,
    regulariser,
    outputs: int,
    batch_norm: bool = False,
) -> tuple[list[nn.Module], int]:
    """D's layers, laid out as the MLP's: [input regulariser, block, regulariser, block, ...,
    regulariser, linear]; the last block ends flattened, so D's features are a [B, width] vector.
    `regulariser(i)` is what the input of block i (i = 0: the image) goes through. With
    `batch_norm`, every block but the first normalises its convolution's output (DCGAN's D).
    Returns the layers and the features' width."""
    shape = channels_and_size(image_shape)
    h, w = start_size(image_shape, len(hidden), "discriminator")
    layers: list[nn.Module] = [nn.Sequential(nn.Unflatten(1, shape), regulariser(0))]
    width = shape[0]
    for i, out in enumerate(hidden):
        norm = [nn.BatchNorm2d(out)] if batch_norm and i else []
        block = [nn.Conv2d(width, out, 4, stride=2, padding=1, bias=not norm), *norm, activation()]
        if i == len(hidden) - 1:
            block.append(nn.Flatten())
        layers += ([regulariser(i)] if i else []) + [nn.Sequential(*block)]
        width = out
    features = width * h * w
    return [*layers, regulariser(len(hidden)), nn.Linear(features, outputs)], features
