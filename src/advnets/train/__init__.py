"""Training: Algorithm 1, its schedules, checkpoints."""

from advnets.train.loop import RunError, Trainer, resume, train

__all__ = ["RunError", "Trainer", "resume", "train"]
