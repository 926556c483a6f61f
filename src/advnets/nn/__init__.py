"""Networks: the maxout layer, the paper's MLP generator and discriminator (or convolutional
ones), the encoder E(x) -> z, noise priors."""

from advnets.nn.encoder import Encoder, build_encoder
from advnets.nn.layers import Maxout, init_uniform_
from advnets.nn.mlp import (
    Discriminator,
    Generator,
    build_discriminator,
    build_generator,
)
from advnets.nn.prior import class_frequencies, sample_classes, sample_noise

__all__ = [
    "Discriminator",
    "Encoder",
    "Generator",
    "Maxout",
    "build_discriminator",
    "build_encoder",
    "build_generator",
    "class_frequencies",
    "init_uniform_",
    "sample_classes",
    "sample_noise",
]
