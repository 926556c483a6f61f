"""The players of a run: G, D (and BiGAN's E, on G's side) with their optimisers."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from advnets.config import Config, OptimConfig
from advnets.data import Dataset
from advnets.nn import build_discriminator, build_encoder, build_generator


@dataclass
class Players:
    G: torch.nn.Module
    D: torch.nn.Module
    g_opt: torch.optim.Optimizer  # G's parameters, and E's when E plays beside G (BiGAN)
    d_opt: torch.optim.Optimizer
    E: torch.nn.Module | None = None
    # backward(inputs=...) takes these every step: the lists are built once
    g_params: list[torch.Tensor] = field(init=False)
    d_params: list[torch.Tensor] = field(init=False)

    def __post_init__(self):
        self.g_params = [*self.G.parameters(), *(self.E.parameters() if self.E is not None else [])]
        self.d_params = list(self.D.parameters())

    def optimizer(self, player: str) -> torch.optim.Optimizer:
        return self.d_opt if player == "d" else self.g_opt

    def parameters(self, player: str) -> list[torch.Tensor]:
        return self.d_params if player == "d" else self.g_params


def make_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum_start)
    return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def build_players(
    config: Config, train: Dataset, device: torch.device, num_classes: int = 0, d_outputs: int = 1
) -> Players:
    """G, D (and E) and their optimisers, initialised from the global RNG (seed it first)."""
    G = build_generator(config.generator, train.dim, train.x, num_classes, train.image_shape)
    D = build_discriminator(
        config,
        train.dim,
        num_classes=num_classes,
        outputs=d_outputs,
        image_shape=train.image_shape,
        train_x=train.x,
    )
    E = build_encoder(config, train.dim).to(device) if config.encoder.kind == "bigan" else None
    G, D = G.to(device), D.to(device)
    g_side = [*G.parameters(), *(E.parameters() if E is not None else [])]  # G and E: one side
    return Players(
        G, D, make_optimizer(g_side, config.optim), make_optimizer(D.parameters(), config.optim), E
    )
