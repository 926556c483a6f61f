"""Run under torchrun by test_distributed.py: trains a tiny config step by step and checks, after
every step, that every process holds the same parameters, and that the processes' minibatches
together are the one-process minibatch. Process 0 writes its findings to OUT/report.json."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from advnets import config as cfgmod
from advnets.train import Trainer, epoch_permutation


def main(out: str, steps: int, overrides: str) -> None:
    config = cfgmod.from_dict(json.loads(overrides))
    trainer = Trainer(config, Path(out) / "run", progress=False)
    world, rank = dist.get_world_size(), dist.get_rank()
    params = [*trainer.players.G.parameters(), *trainer.players.D.parameters()]
    differing_steps, batches_match = [], True
    # the first batch of training images D sees in a step is the step's (first) minibatch: this
    # process's share of it, recorded from D's input (a generated batch holds no training row)
    training_rows = {row.numpy().tobytes() for row in trainer.data.x}
    first_real = []

    def record(module, args):
        x = args[0].detach()
        if not first_real and all(row.numpy().tobytes() in training_rows for row in x):
            first_real.append(x.clone())

    trainer.players.D.register_forward_pre_hook(record)
    b = config.train.batch_size
    for _ in range(steps):
        epoch, index = divmod(trainer.step, trainer.steps_per_epoch)
        index *= config.train.k
        perm = epoch_permutation(config.train.seed, epoch, len(trainer.data))
        first_real.clear()
        trainer.train_step()
        # every process gathers the same shapes, even one that saw no training images (NaN)
        x = (
            first_real[0]
            if first_real
            else torch.full((trainer.batches.local, trainer.data.dim), torch.nan)
        )
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x)
        batches_match &= torch.equal(
            torch.cat(parts), trainer.data.x[perm[index * b : (index + 1) * b]]
        )
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        copies = [torch.empty_like(flat) for _ in range(world)]
        dist.all_gather(copies, flat)
        if not all(torch.equal(copies[0], c) for c in copies[1:]):
            differing_steps.append(trainer.step)
    trainer.save_checkpoint()
    if rank == 0:
        report = {
            "world": world,
            "steps": steps,
            "differing_steps": differing_steps,
            "batches_match": bool(batches_match),
            "local_batch": trainer.batches.local,
            "finite": bool(torch.isfinite(flat).all()),
        }
        (Path(out) / "report.json").write_text(json.dumps(report))
    trainer.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
