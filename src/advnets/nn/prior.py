"""Noise priors p_z for the generator's input."""

from __future__ import annotations

import math

import torch

PRIORS = ("uniform", "gaussian")


def sample_noise(
    prior: str,
    n: int,
    dim: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """n noise vectors [n, dim] with zero mean and unit variance per coordinate.

    uniform: U[-sqrt(3), sqrt(3)] (the reference code's 'uniform' noise); gaussian: N(0, 1).
    """
    if prior == "uniform":
        u = torch.rand(n, dim, generator=generator, device=device)
        return (u * 2.0 - 1.0) * math.sqrt(3.0)
    if prior == "gaussian":
        return torch.randn(n, dim, generator=generator, device=device)
    raise ValueError(f"unknown noise prior {prior!r}; valid priors: {', '.join(PRIORS)}")


def sample_classes(
    frequencies: torch.Tensor, n: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n classes [n] (int64) drawn with the given class frequencies (the training labels' p(c))."""
    return torch.multinomial(frequencies, n, replacement=True, generator=generator)


def class_frequencies(labels: torch.Tensor) -> torch.Tensor:
    """The fraction of each class 0..max(labels) among `labels` [N], float64."""
    counts = torch.bincount(labels)
    return counts.double() / counts.sum()
