"""Several processes training one model, through PyTorch's own engine: torchrun starts them and
sets RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT; DistributedDataParallel averages the
gradients of G and D across them.

advnets splits each configured (global) minibatch between the processes: process r of W takes
rows [r B/W, (r+1) B/W) of the batch a single process would take, so the global batch, the data
order and the step count are those of a one-process run, and the averaged gradient is the
one-process gradient up to the order of float additions. Each process draws its own noise from
its own random stream; only process 0 writes logs, samples and checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from advnets.errors import RunError


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False  # advnets started the process group, so it ends it

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = Group()


def from_environment(device_type: str) -> Group:
    """The process group torchrun describes in the environment (started here if need be), or a
    single process when there is none."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if (
        device_type == "cuda"
    ):  # NCCL's own tensors (barrier, the reductions below) go to the current device
        torch.cuda.set_device(local_rank)
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return Group(dist.get_rank(), dist.get_world_size(), local_rank, owned)


def all_max(group: Group, value: int) -> int:
    """The largest of the processes' `value`s (every process gets the same answer)."""
    if not group.enabled:
        return value
    t = torch.tensor([value], dtype=torch.int64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def any_true(group: Group, flag: bool) -> bool:
    """Whether `flag` is true on any process."""
    return all_max(group, int(flag)) > 0


def mean_(group: Group, tensor: torch.Tensor) -> torch.Tensor:
    """Replace `tensor` by its mean over the processes, in place."""
    if group.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= group.world
    return tensor


def gather_rng_states(group: Group) -> list[torch.Tensor]:
    """Every process's CPU random state, in rank order (all processes take part; all receive)."""
    state = torch.get_rng_state()
    if not group.enabled:
        return [state]
    states = [torch.empty_like(state) for _ in range(group.world)]
    if dist.get_backend() == "nccl":
        parts = [s.cuda() for s in states]
        dist.all_gather(parts, state.cuda())
        return [p.cpu() for p in parts]
    dist.all_gather(states, state)
    return states


def barrier(group: Group) -> None:
    if group.enabled:
        dist.barrier()


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The noise stream of process `rank` > 0: distinct per process, fixed by the run's seed and,
    after a resume with another number of processes, by the step it resumed at."""
    return (seed * 1_000_003 + rank * 7_919 + step * 104_729) % 2**63


def shutdown(group: Group, clean: bool = True) -> None:
    """End the process group advnets started. `clean`: every process got here (so wait for all
    before tearing connections down); otherwise one failed, and no other is waited for."""
    if group.enabled and group.owned and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The device `name` stands for; plain 'cuda' is cuda:LOCAL_RANK under torchrun."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RunError(
            f"train.device = {name!r} is not a device: expected cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RunError(
                f"train.device = {name!r} but this PyTorch sees no CUDA device: use train.device = "
                "cpu"
            )
        if device.index is None:
            device = torch.device("cuda", local_rank)
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise RunError(
                f"train.device = {name!r} but this machine has no MPS device: use train.device = "
                "cpu"
            )
    elif device.type != "cpu":
        raise RunError(f"train.device = {name!r}: advnets trains on cpu, cuda or mps")
    return device
