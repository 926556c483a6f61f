"""Sampling from a trained generator: a forward pass on noise, deterministic for a seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from advnets.config import Config, from_dict
from advnets.nn import Discriminator, Generator, build_discriminator, build_generator, sample_noise
from advnets.train import checkpoint


@dataclass
class TrainedGenerator:
    G: Generator
    config: Config
    image_shape: tuple[int, int] | None
    step: int
    checkpoint: Path
    # True when G holds the run's running average of its weights (config.average), not the last iterate
    averaged: bool = False

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, batch: int = 10_000) -> torch.Tensor:
        """n samples [n, D] (float32, CPU); the same seed gives the same samples."""
        gen = torch.Generator().manual_seed(seed)
        g = self.config.generator
        z = sample_noise(g.prior, n, g.noise_dim, generator=gen)
        device = next(self.G.parameters()).device
        return torch.cat([self.G(chunk.to(device)).cpu() for chunk in z.split(batch)]) if n else z.new_zeros(0, 0)


def _load(path: str | Path):
    folder = checkpoint.resolve(path)
    weights, _, meta = checkpoint.load(folder)
    return folder, weights, meta, from_dict(meta["config"], source=f"{folder}/state.json")


def load_generator(path: str | Path, device: str = "cpu", average: bool = True) -> TrainedGenerator:
    """The generator of a run folder (its latest checkpoint) or of a checkpoint folder.

    When the run averages G's weights (config.average) and the average has begun, that average
    is what is loaded, unless `average` is False: it is the run's model; the last iterate is kept
    for resuming training.
    """
    folder, weights, meta, config = _load(path)
    G = build_generator(config.generator, meta["data_dim"])
    averaged = average and bool(meta.get("average_count"))
    G.load_state_dict(checkpoint.split_weights(weights, checkpoint.AVERAGE_PREFIX if averaged else "generator"))
    G.to(device).eval()
    shape = tuple(meta["image_shape"]) if meta.get("image_shape") else None
    return TrainedGenerator(G, config, shape, meta["step"], folder, averaged)


def load_discriminator(path: str | Path, device: str = "cpu") -> Discriminator:
    """The discriminator of a run folder or checkpoint folder, in eval mode (no dropout)."""
    _, weights, meta, config = _load(path)
    D = build_discriminator(config.discriminator, meta["data_dim"])
    D.load_state_dict(checkpoint.split_weights(weights, "discriminator"))
    return D.to(device).eval()
