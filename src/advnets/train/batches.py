"""The data order of a run: epoch e visits the training images in a permutation drawn from
(seed, e), minibatch after minibatch; under torchrun each process takes its share of each."""

from __future__ import annotations

import torch


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The order in which epoch `epoch` of a run seeded `seed` visits its `n` training rows."""
    gen = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)
    return torch.randperm(n, generator=gen)


class Batches:
    """Minibatch `index` of epoch `epoch`: rows of x (and their classes, when `y` is given).
    `batch_size` is the global minibatch; process `rank` of `world` takes its slice of it."""

    def __init__(self, x, y, seed: int, batch_size: int, world: int = 1, rank: int = 0):
        self.x, self.y, self.seed = x, y, seed
        self.batch_size, self.local = batch_size, batch_size // world
        self.offset = rank * self.local
        self._epoch, self._order = -1, None

    def __call__(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if epoch != self._epoch:
            self._order = epoch_permutation(self.seed, epoch, len(self.x)).to(self.x.device)
            self._epoch = epoch
        start = index * self.batch_size + self.offset
        rows = self._order[start : start + self.local]
        return self.x[rows], (self.y[rows] if self.y is not None else None)
