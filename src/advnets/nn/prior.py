"""Noise priors p_z for the generator's input."""

from __future__ import annotations

import math

import torch

PRIORS = ("uniform", "gaussian")


def sample_noise(prior: str, n: int, dim: int, *, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """n noise vectors [n, dim] with zero mean and unit variance per coordinate.

    uniform: U[-sqrt(3), sqrt(3)] (the reference code's 'uniform' noise); gaussian: N(0, 1).
    """
    if prior == "uniform":
        u = torch.rand(n, dim, generator=generator, device=device)
        return (u * 2.0 - 1.0) * math.sqrt(3.0)
    if prior == "gaussian":
        return torch.randn(n, dim, generator=generator, device=device)
    raise ValueError(f"unknown noise prior {prior!r}; valid priors: {', '.join(PRIORS)}")
