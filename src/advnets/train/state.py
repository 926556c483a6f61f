"""A training run's state in a checkpoint, and back: weights, optimisers, random states, logs.

Everything about where a run is follows from its step (see advnets.train.loop), so these are
all a checkpoint holds to resume bit for bit, in the middle of an epoch too. Under torchrun every
process takes part in a save (random states are gathered, log sums averaged) and process 0 writes.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import torch

from advnets import checkpoint
from advnets.errors import CheckpointNotFound
from advnets.train import distributed

if TYPE_CHECKING:
    from advnets.train.loop import Trainer


def weight_modules(trainer: Trainer) -> dict[str, torch.nn.Module]:
    """The modules whose weights a checkpoint holds, by their prefix in weights.safetensors."""
    p = trainer.players
    modules = {"generator": p.G, "discriminator": p.D}
    if trainer.average is not None:
        modules[checkpoint.AVERAGE_PREFIX] = trainer.average.module
    if trainer.d_average is not None:
        modules[checkpoint.D_AVERAGE_PREFIX] = trainer.d_average.module
    if p.E is not None:
        modules["encoder"] = p.E
    return modules


def save(trainer: Trainer) -> None:
    """Checkpoint the run at its current step (once per step)."""
    t = trainer
    if t.saved_step == t.step:
        return
    rng_states = distributed.gather_rng_states(t.group)
    distributed.mean_(t.group, t.stat_sum)
    if not t.group.main:
        t.saved_step = t.step
        distributed.barrier(t.group)
        return
    g_tensors, g_meta = checkpoint.optimizer_to_flat("g_opt", t.players.g_opt)
    d_tensors, d_meta = checkpoint.optimizer_to_flat("d_opt", t.players.d_opt)
    tensors = {
        **g_tensors,
        **d_tensors,
        "rng.torch": rng_states[0],
        "log.stat_sum": t.stat_sum.cpu(),
        **{f"rng.torch.rank{r}": state for r, state in enumerate(rng_states) if r},
    }
    if t.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(t.device)
    weights = {
        f"{prefix}.{k}": v
        for prefix, module in weight_modules(t).items()
        for k, v in module.state_dict().items()
    }
    meta = {
        "step": t.step,
        "epoch": t.step / t.steps_per_epoch,
        "steps_per_epoch": t.steps_per_epoch,
        "stat_count": t.stat_count,
        "average_count": t.average.count if t.average is not None else None,
        "data_dim": t.data.dim,
        "image_shape": t.data.image_shape,
        "class_frequencies": t.class_freq.tolist() if t.num_classes else None,
        "d_outputs": t.d_outputs,
        "config": t.config.to_dict(),
        "g_opt": g_meta,
        "d_opt": d_meta,
        "world_size": t.group.world,
        "skipped_updates": t.skipped_updates,
        "grad_scaler": t.scaler.state_dict() if t.scaler is not None else None,
    }
    try:
        checkpoint.save(
            t.folder.checkpoint_path(t.step),
            weights,
            tensors,
            meta,
            t.config.train.keep_checkpoints,
        )
    finally:
        distributed.barrier(t.group)
    t.saved_step = t.step


def restore(trainer: Trainer) -> None:
    """Put the run back where its latest checkpoint left it; a run that stopped before its first
    checkpoint starts again from step 0. The log loses the rows written after the checkpoint."""
    t = trainer
    t.folder.require("resume it")
    try:
        folder = t.folder.latest_checkpoint()
    except CheckpointNotFound as err:
        folder = None
        if t.folder.checkpoints_dir.exists():  # checkpoints were begun, and none is complete
            warnings.warn(f"{err}: the run starts again from step 0", stacklevel=2)
    if folder is not None:
        weights, tensors, meta = checkpoint.load(folder)
        modules = weight_modules(t)
        for prefix, module in modules.items():  # every shape checked before any is loaded
            checkpoint.check_fit(module, checkpoint.split_weights(weights, prefix), prefix, folder)
        for prefix, module in modules.items():
            module.load_state_dict(checkpoint.split_weights(weights, prefix))
        for average in (t.average, t.d_average):  # the two are updated together
            if average is not None:
                average.count = meta["average_count"]
        checkpoint.optimizer_from_flat("g_opt", t.players.g_opt, tensors, meta["g_opt"])
        checkpoint.optimizer_from_flat("d_opt", t.players.d_opt, tensors, meta["d_opt"])
        restore_random_state(t, tensors, meta)
        if t.scaler is not None and meta.get("grad_scaler"):
            t.scaler.load_state_dict(meta["grad_scaler"])
        saved = tensors["log.stat_sum"].to(t.device)
        t.stat_sum[: len(saved)] = saved  # checkpoints from before g_grad_norm was logged: 4 sums
        t.stat_count = meta["stat_count"]
        t.skipped_updates = meta.get("skipped_updates", 0)
        t.step = t.saved_step = meta["step"]
    if t.group.main:
        t.folder.rewind_metrics(t.step)
        t.folder.samples_dir.mkdir(exist_ok=True)
    distributed.barrier(t.group)


def restore_random_state(trainer: Trainer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Each process's random state as saved; a process the checkpoint has none for (the run
    resumes with more processes) starts a stream fixed by the seed, its rank and the step."""
    group, device = trainer.group, trainer.device
    rank = group.rank
    if rank == 0:
        torch.set_rng_state(tensors["rng.torch"])
    elif f"rng.torch.rank{rank}" in tensors and meta.get("world_size", 1) == group.world:
        torch.set_rng_state(tensors[f"rng.torch.rank{rank}"])
    else:
        seed = distributed.rank_seed(trainer.config.train.seed, rank, meta["step"])
        torch.manual_seed(seed)
    if device.type == "cuda" and "rng.cuda" in tensors and rank == 0:
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
