"""A running average of the generator's weights (Polyak averaging), kept beside the trained G.

With a fixed learning rate, SGD on the GAN game does not settle: G's weights keep circling
around a good point, and each iterate's samples carry that wobble. The average of the iterates
sits nearer the centre. It changes nothing in training (D still plays against the current G);
it is a second copy of G, updated after every generator step and used for sampling.

After the n-th iterate is folded in, avg <- avg + w (G - avg) with w = max(1 - decay, 1/n): the
plain mean of the first 1/(1 - decay) iterates, then an exponential moving average over about that
many steps. A half-life h sets decay = 0.5 ** (1 / h). decay = 1 is the plain mean throughout
(Polyak-Ruppert). Iterates before `start_epoch` are left out.
"""

from __future__ import annotations

import copy

import torch

from advnets.config import AverageConfig


class WeightAverage:
    """The averaged copy of a module; `count` is the number of iterates folded in so far."""

    def __init__(self, module: torch.nn.Module, cfg: AverageConfig):
        self.cfg = cfg
        self.module = copy.deepcopy(module).eval()
        self.module.requires_grad_(False)
        self.count = 0
        # which tensors are averaged (the floats) and which copied (counters, such as batch norm's
        # batches seen), by position in tensors()
        kinds = [t.is_floating_point() for t in self.tensors()]
        self._averaged = [i for i, f in enumerate(kinds) if f]
        self._copied = [i for i, f in enumerate(kinds) if not f]

    def tensors(self) -> list[torch.Tensor]:
        return [*self.module.parameters(), *self.module.buffers()]

    @torch.no_grad()
    def update(self, source: torch.nn.Module, epoch: int) -> None:
        """Fold in the weights of `source` as they are after a generator step taken in `epoch`."""
        if epoch < self.cfg.start_epoch:
            return
        self.count += 1
        mine, theirs = (
            self.tensors(),
            [t.detach() for t in (*source.parameters(), *source.buffers())],
        )
        torch._foreach_lerp_(
            [mine[i] for i in self._averaged],
            [theirs[i] for i in self._averaged],
            max(1.0 - self.cfg.decay, 1.0 / self.count),
        )
        for i in self._copied:
            mine[i].copy_(theirs[i])
