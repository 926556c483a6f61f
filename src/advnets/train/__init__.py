"""Training: Algorithm 1 (loop), its players, data order, schedules and checkpointed state."""

from advnets.train.batches import epoch_permutation
from advnets.train.loop import Trainer, resume, train

__all__ = ["Trainer", "epoch_permutation", "resume", "train"]
