"""The reference code's schedules (goodfeli/adversarial mnist.yaml, pylearn2 semantics).

- Learning rate: divided by `lr_decay` after every update, floored at `lr_min`
  (pylearn2's ExponentialDecay(decay_factor=1.000004, min_lr=1e-6)). Update t (from 0) uses
  lr0 / lr_decay**t.
- Momentum: `momentum_start` in epoch 1, rising linearly to `momentum_end` at epoch
  `momentum_ramp_epochs`, constant after (pylearn2's MomentumAdjustor(start=1, saturate=250)).

The momentum itself is PyTorch's SGD (buffer b = m b + g, step -lr b), not pylearn2's velocity
(v = m v - lr g). The two are the same update while lr is constant; here lr changes by a factor
1/1.000004 per update, so they differ by that relative amount per step.
"""

from __future__ import annotations

from advnets.config import OptimConfig


def learning_rate(cfg: OptimConfig, updates_done: int, player: str = "d") -> float:
    """The learning rate of D (or of G, `player="g"`) after `updates_done` of its updates."""
    base = cfg.lr_g if player == "g" and cfg.lr_g is not None else cfg.lr
    return max(base / cfg.lr_decay**updates_done, cfg.lr_min)


def momentum(cfg: OptimConfig, epoch: int) -> float:
    """Momentum during 0-based `epoch` (epoch 0 is the paper's epoch 1)."""
    if cfg.momentum_ramp_epochs <= 1:
        return cfg.momentum_end
    frac = min(epoch / (cfg.momentum_ramp_epochs - 1), 1.0)
    return cfg.momentum_start + frac * (cfg.momentum_end - cfg.momentum_start)
