"""The inference network E(x) -> z of the paper's section 7, extension 2 ("learned approximate
inference"): an MLP that predicts the noise z from which G made x."""

from __future__ import annotations

import math

import torch
from torch import nn

from advnets.config import Config
from advnets.nn.layers import init_uniform_
from advnets.nn.mlp import ACTIVATIONS


class Encoder(nn.Module):
    """E(x): data [B, in_dim] -> hidden layers -> noise [B, noise_dim].

    For the uniform prior U[-sqrt(3), sqrt(3)] the output is sqrt(3) tanh(.), so E(x) stays in the
    prior's support; for the Gaussian prior it is linear."""

    def __init__(
        self,
        in_dim: int,
        noise_dim: int,
        hidden: list[int],
        activation: str = "relu",
        prior: str = "uniform",
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, noise_dim)
        self.bound = math.sqrt(3.0) if prior == "uniform" else None
        self.in_dim = in_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer [B, hidden[-1]]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.out(self.body(x))
        return z if self.bound is None else self.bound * torch.tanh(z)  # [B, noise_dim]


def build_encoder(config: Config, data_dim: int) -> Encoder:
    """E(x) -> z for `config`'s G (its noise, prior and units; encoder.hidden wide), initialised
    like G: BiGAN's E, which trains beside G, and the inference network fitted to a trained G."""
    g = config.generator
    E = Encoder(data_dim, g.noise_dim, config.encoder.hidden, g.activation, g.prior)
    if g.init == "paper":
        init_uniform_(E, g.init_range)
    return E
