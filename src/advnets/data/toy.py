"""Toy distributions with known densities, for checking the theory and watching mode coverage.

All are equal-weight mixtures of isotropic Gaussians:

- ``gaussian-1d``: one Gaussian, mean 4.0, standard deviation 0.5 (the setting of the paper's
  Figure 1: a 1-D data density that p_g is pulled towards).
- ``ring-2d``: 8 Gaussians, means evenly spaced on a circle of radius 1 centred at the origin
  (angles 0, 45, ..., 315 degrees), standard deviation 0.01.
- ``grid-2d``: 25 Gaussians, means on the 5 x 5 grid {-4, -2, 0, 2, 4}^2, standard deviation 0.05.

The two 2-D mixtures are those of the PacGAN code's mode-coverage benchmark (Lin et al., 2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianMixture:
    means: tuple[tuple[float, ...], ...]
    std: float

    @property
    def dim(self) -> int:
        return len(self.means[0])

    def means_tensor(self) -> torch.Tensor:
        return torch.tensor(self.means, dtype=torch.float64)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points as float32 [n, dim]: a component uniformly, then Gaussian noise around it."""
        means = self.means_tensor()
        comp = torch.randint(len(self.means), (n,), generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (means[comp] + self.std * noise).float()

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) for x [n, dim], in float64."""
        x = x.double()
        sq = torch.cdist(x, self.means_tensor()) ** 2  # [n, components]
        log_norm = self.dim * math.log(self.std * math.sqrt(2 * math.pi))
        return (
            torch.logsumexp(-sq / (2 * self.std**2), dim=1) - math.log(len(self.means)) - log_norm
        )


TOYS = {
    "gaussian-1d": GaussianMixture(means=((4.0,),), std=0.5),
    "ring-2d": GaussianMixture(
        means=tuple(
            (round(math.cos(2 * math.pi * i / 8), 12), round(math.sin(2 * math.pi * i / 8), 12))
            for i in range(8)
        ),
        std=0.01,
    ),
    "grid-2d": GaussianMixture(
        means=tuple((float(a), float(b)) for a in range(-4, 5, 2) for b in range(-4, 5, 2)),
        std=0.05,
    ),
}
