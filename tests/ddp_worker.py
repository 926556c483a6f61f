"""Run under torchrun by test_distributed.py: trains a tiny config step by step and checks, after
every step, that every process holds the same parameters, and that the processes' minibatches
together are the one-process minibatch. Process 0 writes its findings to OUT/report.json."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from advnets import config as cfgmod
from advnets.train.loop import Trainer, epoch_permutation


def main(out: str, steps: int, overrides: str) -> None:
    config = cfgmod.from_dict(json.loads(overrides))
    trainer = Trainer(config, Path(out) / "run", progress=False)
    world, rank = dist.get_world_size(), dist.get_rank()
    params = [*trainer.players.G.parameters(), *trainer.players.D.parameters()]
    differing_steps, batches_match = [], True
    for _ in range(steps):
        index = trainer.step % trainer.steps_per_epoch * config.train.k
        x, _ = trainer.next_batch(index)
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x)
        perm = epoch_permutation(config.train.seed, trainer.epoch, len(trainer.data))
        b = config.train.batch_size
        batches_match &= torch.equal(torch.cat(parts), trainer.x[perm[index * b : (index + 1) * b]])
        trainer.train_step()
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
            "local_batch": trainer.local_batch,
            "finite": bool(torch.isfinite(flat).all()),
        }
        (Path(out) / "report.json").write_text(json.dumps(report))
    trainer.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
