"""Training: Algorithm 1 of the paper, with the reference code's simultaneous variant.

One *step* is one iteration of Algorithm 1: k discriminator updates on k minibatches, then one
generator update. Everything about where a run is follows from the step count: an epoch is
`steps_per_epoch = (N // batch_size) // k` steps (so the last (N // batch_size) % k minibatches
of each epoch's permutation go unused when k > 1), the data order of each epoch is a permutation
drawn from (seed, epoch), and the optimisers' schedules are functions of their update counts.
So a checkpoint needs only the step, the weights, the optimiser state and the RNG state to
resume bit for bit, also in the middle of an epoch.
"""

from __future__ import annotations

import contextlib
import gc
import json
import shutil
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from advnets import config as cfgmod
from advnets.config import Config
from advnets.data import Dataset, from_config
from advnets.figures.plots import save_curves, save_samples
from advnets.io import atomic_write_text
from advnets.losses import (
    OBJECTIVES,
    feature_matching,
    semi_supervised_discriminator_loss,
)
from advnets.nn import (
    build_discriminator,
    build_generator,
    class_frequencies,
    init_uniform_,
    sample_classes,
    sample_noise,
)
from advnets.nn.encoder import Encoder
from advnets.penalties import gradient_penalty, r1_penalty
from advnets.train import checkpoint, distributed
from advnets.train.average import WeightAverage
from advnets.train.schedule import learning_rate, momentum

GRID_NOISE_SEED = 20_140_610  # the fixed noise batch of the per-epoch sample grids
STAT_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")
PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16}


class RunError(ValueError):
    """A run that cannot be started or resumed as asked; the message says why and what to do."""


class NonFiniteError(RunError):
    """A loss or gradient became NaN or infinite (train.nonfinite = stop); nothing was updated with it."""


class Interrupted(KeyboardInterrupt):
    """The run stopped on SIGINT or SIGTERM after writing its checkpoint; `signum` says which."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


@dataclass
class Players:
    G: torch.nn.Module
    D: torch.nn.Module
    g_opt: (
        torch.optim.Optimizer
    )  # G's parameters, and E's when E plays beside G (encoder.kind = bigan)
    d_opt: torch.optim.Optimizer
    E: torch.nn.Module | None = None

    def __post_init__(self):
        # backward(inputs=...) takes these every step: build the lists once
        self.g_params = list(self.G.parameters()) + (
            list(self.E.parameters()) if self.E is not None else []
        )
        self.d_params = list(self.D.parameters())


def make_optimizer(params, cfg: cfgmod.OptimConfig) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum_start)
    return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def build_players(
    config: Config, train: Dataset, device: torch.device, num_classes: int = 0, d_outputs: int = 1
) -> Players:
    """G, D and their optimisers, initialised from the global RNG (seed it first)."""
    G = build_generator(config.generator, train.dim, train.x, num_classes, train.image_shape).to(
        device
    )
    bigan = config.encoder.kind == "bigan"
    D = build_discriminator(
        config.discriminator,
        train.dim,
        train.x,
        num_classes,
        config.condition.kind,
        d_outputs,
        extra_dim=config.generator.noise_dim if bigan else 0,
        auxiliary=config.condition.auxiliary_weight > 0,
        image_shape=train.image_shape,
    ).to(device)
    E = build_encoder(config, train.dim).to(device) if bigan else None
    g_side = [
        *G.parameters(),
        *(E.parameters() if E is not None else []),
    ]  # G and E play as one side
    return Players(
        G, D, make_optimizer(g_side, config.optim), make_optimizer(D.parameters(), config.optim), E
    )


def build_encoder(config: Config, data_dim: int) -> Encoder:
    """BiGAN's E(x) -> z, initialised like G."""
    g = config.generator
    E = Encoder(data_dim, g.noise_dim, config.encoder.hidden, g.activation, g.prior)
    if g.init == "paper":
        init_uniform_(E, g.init_range)
    return E


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)
    return torch.randperm(n, generator=gen)


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
                f"train.device = {name!r} but this PyTorch sees no CUDA device: use train.device = cpu"
            )
        if device.index is None:
            device = torch.device("cuda", local_rank)
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise RunError(
                f"train.device = {name!r} but this machine has no MPS device: use train.device = cpu"
            )
    elif device.type != "cpu":
        raise RunError(f"train.device = {name!r}: advnets trains on cpu, cuda or mps")
    return device


class Trainer:
    """Owns one run: its folder, data, players, position, logs and checkpoints."""

    def __init__(
        self,
        config: Config,
        run_dir: str | Path,
        *,
        resume: bool = False,
        progress: bool = True,
        train_data: Dataset | None = None,
    ):
        self.config, self.run_dir = config, Path(run_dir)
        t = config.train
        self.group = distributed.from_environment(resolve_device(t.device).type)
        self.progress = progress and self.group.main
        self.device = resolve_device(t.device, self.group.local_rank)
        if t.batch_size % self.group.world:
            raise RunError(
                f"train.batch_size = {t.batch_size} is the global minibatch, split evenly between the "
                f"{self.group.world} processes: choose a multiple of {self.group.world}"
            )
        self.local_batch = t.batch_size // self.group.world
        if not resume:
            self._refuse_a_used_run_dir()
        if t.tensorboard:
            from advnets.train.tensorboard import summary_writer_class

            try:  # before anything is made: a run that cannot log as asked does not start
                summary_writer_class()
            except ImportError as err:
                raise RunError(str(err)) from None
        self.data = train_data or from_config(config.data, "train", progress=self.progress)
        batches = len(self.data) // t.batch_size
        self.steps_per_epoch = batches // t.k
        if self.steps_per_epoch == 0:
            raise RunError(
                f"the {config.data.source} training set has {len(self.data)} examples, fewer than "
                f"train.batch_size x train.k = {t.batch_size * t.k}: lower the batch size or k"
            )
        self.x = self.data.x.to(self.device)
        # the class labels, for a conditional model or a semi-supervised D
        label_users = [
            f"condition.kind = {config.condition.kind!r}"
            if config.condition.kind != "none"
            else "",
            "semi.labels_per_class" if config.semi.labels_per_class else "",
        ]
        self.y = None
        if any(label_users):
            if self.data.y is None:
                raise RunError(
                    f"{' and '.join(u for u in label_users if u)} needs class labels; the "
                    f"{config.data.source} training set has none"
                )
            self.y = self.data.y.to(self.device)
        self.num_classes, self.class_freq = 0, None
        if config.condition.kind != "none":
            self.class_freq = class_frequencies(self.data.y).to(self.device)
            self.num_classes = len(self.class_freq)
        self.objective = OBJECTIVES[t.objective]
        self.g_objective = self.objective.generator  # None: feature matching
        self.labelled, d_outputs = None, 1
        if config.semi.labels_per_class:
            from advnets.semi import labelled_subset

            self.labelled = labelled_subset(
                self.data.y, config.semi.labels_per_class, config.semi.label_seed
            ).to(self.device)
            d_outputs = int(self.data.y.max()) + 1

        if self.device.type == "cpu":
            torch.set_flush_denormal(t.flush_denormal)
        torch.manual_seed(t.seed)
        self.players = build_players(config, self.data, self.device, self.num_classes, d_outputs)
        self.average = (
            WeightAverage(self.players.G, config.average) if config.average.kind != "none" else None
        )
        self.d_average = (
            WeightAverage(self.players.D, config.average) if config.average.discriminator else None
        )
        # the modules whose forward passes feed their own player's update: DDP wrappers under torchrun
        self.train_G, self.train_D, self.train_E = self.players.G, self.players.D, self.players.E
        if self.group.enabled:
            self._wrap_for_ddp()
            if (
                self.group.rank
            ):  # every process its own noise; process 0 keeps the one-process stream
                torch.manual_seed(distributed.rank_seed(t.seed, self.group.rank))
        self.autocast_dtype = PRECISIONS.get(t.precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if t.precision == "fp16" else None
        self.step = 0
        self.skipped_updates = 0
        self._saved_step = -1
        # summed on the training device, read at log time only (no device sync per step)
        self.stat_sum = torch.zeros(len(STAT_NAMES), dtype=torch.float64, device=self.device)
        self.stat_count = 0
        self._perm_epoch, self._perm = -1, None
        grid_gen = torch.Generator().manual_seed(GRID_NOISE_SEED + t.seed)
        n_grid = (10 * max(self.num_classes, 10)) if self.data.image_shape else 2000
        self.grid_noise = sample_noise(
            config.generator.prior, n_grid, config.generator.noise_dim, generator=grid_gen
        ).to(self.device)
        # a conditional model's grid: one row per class
        self.grid_classes = (
            torch.arange(n_grid, device=self.device) // 10 if self.num_classes else None
        )
        if resume:
            self._resume()
        else:
            self._create_run_dir()
        self.tensorboard = None
        if t.tensorboard and self.group.main:
            from advnets.train.tensorboard import TensorBoardLog

            self.tensorboard = TensorBoardLog(self.run_dir, self.step)

    def _wrap_for_ddp(self) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        self.train_G = DDP(self.players.G, device_ids=ids, gradient_as_bucket_view=True)
        self.train_D = DDP(self.players.D, device_ids=ids, gradient_as_bucket_view=True)
        if self.players.E is not None:
            self.train_E = DDP(self.players.E, device_ids=ids, gradient_as_bucket_view=True)

    # -- the run folder ------------------------------------------------------------------------

    def _refuse_a_used_run_dir(self) -> None:
        if self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise RunError(
                f"run folder {self.run_dir} already exists and is not empty: continue it with "
                f"'advnets train --resume {self.run_dir}' or choose another --out"
            )

    def _create_run_dir(self) -> None:
        """Made whole in a hidden folder beside it, then renamed into place: a crash leaves either
        no run folder or a complete one."""
        if self.group.main:
            self._refuse_a_used_run_dir()  # again: it may have appeared while the data loaded
            self.run_dir.parent.mkdir(parents=True, exist_ok=True)
            staging = self.run_dir.parent / f".{self.run_dir.name}.creating"
            if staging.exists():
                shutil.rmtree(staging)
            (staging / "samples").mkdir(parents=True)
            atomic_write_text(staging / "config.json", json.dumps(self.config.to_dict(), indent=1))
            atomic_write_text(staging / "metrics.jsonl", "")
            staging.rename(self.run_dir)  # onto an empty folder, if the user made one
        distributed.barrier(self.group)

    def _resume(self) -> None:
        try:
            folder = checkpoint.resolve(self.run_dir)
        except FileNotFoundError:
            if not (self.run_dir / "config.json").is_file():
                raise RunError(
                    f"{self.run_dir} is not a run folder (no config.json): nothing to resume"
                ) from None
            folder = (
                None  # the run stopped before its first checkpoint: it starts again from step 0
            )
        if folder is not None:
            weights, tensors, meta = checkpoint.load(folder)
            modules = {
                "generator": self.players.G,
                "discriminator": self.players.D,
                "encoder": self.players.E,
                checkpoint.AVERAGE_PREFIX: self.average.module
                if self.average is not None
                else None,
                checkpoint.D_AVERAGE_PREFIX: self.d_average.module
                if self.d_average is not None
                else None,
            }
            for prefix, module in modules.items():  # every shape checked before any is loaded
                if module is not None:
                    checkpoint.check_fit(
                        module, checkpoint.split_weights(weights, prefix), prefix, folder
                    )
            for prefix, module in modules.items():
                if module is not None:
                    module.load_state_dict(checkpoint.split_weights(weights, prefix))
            if self.average is not None:
                self.average.count = meta["average_count"]
            if self.d_average is not None:
                self.d_average.count = meta["average_count"]  # the two are updated together
            checkpoint.optimizer_from_flat("g_opt", self.players.g_opt, tensors, meta["g_opt"])
            checkpoint.optimizer_from_flat("d_opt", self.players.d_opt, tensors, meta["d_opt"])
            self._restore_rng(tensors, meta)
            if self.scaler is not None and meta.get("grad_scaler"):
                self.scaler.load_state_dict(meta["grad_scaler"])
            saved = tensors["log.stat_sum"].to(self.device)
            self.stat_sum[: len(saved)] = (
                saved  # checkpoints from before g_grad_norm was logged hold 4 sums
            )
            self.stat_count = meta["stat_count"]
            self.skipped_updates = meta.get("skipped_updates", 0)
            self.step = self._saved_step = meta["step"]
        if self.group.main:
            # Drop log rows written after the checkpoint, and partial ones, so the log continues
            # exactly as if the run had not stopped.
            metrics = self.run_dir / "metrics.jsonl"
            rows = [
                r for r in read_metrics(metrics) if r["step"] <= self.step and not r.get("partial")
            ]
            atomic_write_text(metrics, "".join(json.dumps(r) + "\n" for r in rows))
            (self.run_dir / "samples").mkdir(exist_ok=True)
        distributed.barrier(self.group)

    def _restore_rng(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Each process's random state as saved; a process the checkpoint has none for (the run
        resumes with more processes) starts a stream fixed by the seed, its rank and the step."""
        rank = self.group.rank
        if rank == 0:
            torch.set_rng_state(tensors["rng.torch"])
        elif f"rng.torch.rank{rank}" in tensors and meta.get("world_size", 1) == self.group.world:
            torch.set_rng_state(tensors[f"rng.torch.rank{rank}"])
        else:
            torch.manual_seed(distributed.rank_seed(self.config.train.seed, rank, meta["step"]))
        if self.device.type == "cuda" and "rng.cuda" in tensors and rank == 0:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)

    def save_checkpoint(self) -> None:
        """Every process takes part (random states gathered, log sums averaged); process 0 writes."""
        if self._saved_step == self.step:
            return
        rng_states = distributed.gather_rng_states(self.group)
        distributed.mean_(self.group, self.stat_sum)
        if not self.group.main:
            self._saved_step = self.step
            distributed.barrier(self.group)
            return
        p = self.players
        g_tensors, g_meta = checkpoint.optimizer_to_flat("g_opt", p.g_opt)
        d_tensors, d_meta = checkpoint.optimizer_to_flat("d_opt", p.d_opt)
        tensors = {
            **g_tensors,
            **d_tensors,
            "rng.torch": rng_states[0],
            "log.stat_sum": self.stat_sum.cpu(),
            **{f"rng.torch.rank{r}": state for r, state in enumerate(rng_states) if r},
        }
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        weights = {
            **{f"generator.{k}": v for k, v in p.G.state_dict().items()},
            **{f"discriminator.{k}": v for k, v in p.D.state_dict().items()},
        }
        if self.average is not None:
            weights.update(
                {
                    f"{checkpoint.AVERAGE_PREFIX}.{k}": v
                    for k, v in self.average.module.state_dict().items()
                }
            )
        if self.d_average is not None:
            weights.update(
                {
                    f"{checkpoint.D_AVERAGE_PREFIX}.{k}": v
                    for k, v in self.d_average.module.state_dict().items()
                }
            )
        if p.E is not None:
            weights.update({f"encoder.{k}": v for k, v in p.E.state_dict().items()})
        meta = {
            "step": self.step,
            "epoch": self.step / self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "stat_count": self.stat_count,
            "average_count": self.average.count if self.average is not None else None,
            "data_dim": self.data.dim,
            "image_shape": self.data.image_shape,
            "class_frequencies": self.class_freq.tolist() if self.num_classes else None,
            "config": self.config.to_dict(),
            "g_opt": g_meta,
            "d_opt": d_meta,
            "world_size": self.group.world,
            "skipped_updates": self.skipped_updates,
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }
        folder = self.run_dir / "checkpoints" / f"step-{self.step:08d}"
        try:
            checkpoint.save(folder, weights, tensors, meta, self.config.train.keep_checkpoints)
        finally:
            distributed.barrier(self.group)
        self._saved_step = self.step

    # -- Algorithm 1 ---------------------------------------------------------------------------

    def next_batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Minibatch `index` (0-based) of epoch `self.epoch`: images and, when conditional, classes."""
        epoch = self.epoch
        if epoch != self._perm_epoch:
            self._perm = epoch_permutation(self.config.train.seed, epoch, len(self.data)).to(
                self.device
            )
            self._perm_epoch = epoch
        start = (
            index * self.config.train.batch_size + self.group.rank * self.local_batch
        )  # this process's share
        rows = self._perm[start : start + self.local_batch]
        return self.x[rows], (self.y[rows] if self.num_classes else None)

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    def noise(self, n: int) -> torch.Tensor:
        g = self.config.generator
        return sample_noise(g.prior, n, g.noise_dim, device=self.device)

    def fake_classes(self, n: int) -> torch.Tensor | None:
        """The classes G is asked for, drawn from the training labels' frequencies; None unless conditional."""
        return sample_classes(self.class_freq, n) if self.num_classes else None

    def discriminator_objective(self, real_out: torch.Tensor, fake_out: torch.Tensor):
        """(D's loss, the real and generated images' adversarial logits) from D's outputs. A
        semi-supervised D's outputs are K class logits; its adversarial logit is their log-sum-exp,
        and its loss adds the cross-entropy of a batch of the labelled images."""
        if self.labelled is None:
            return self.objective.discriminator(real_out, fake_out), real_out, fake_out
        rows = self.labelled[
            torch.randint(len(self.labelled), (self.local_batch,), device=self.device)
        ]
        loss = semi_supervised_discriminator_loss(
            self.players.D(self.x[rows]),
            self.y[rows],
            real_out,
            fake_out,
            self.config.semi.unsupervised_weight,
        )
        return loss, self.adversarial_logits(real_out), self.adversarial_logits(fake_out)

    def penalty(
        self, x: torch.Tensor, c: torch.Tensor | None, fake: torch.Tensor
    ) -> torch.Tensor | float:
        """The configured penalties on D's input gradient (advnets.penalties); 0.0 when none. A
        conditional D is asked about the real images' classes at every point."""
        p = self.config.penalty
        if not (p.gradient or p.r1):
            return 0.0

        def critic(points: torch.Tensor) -> torch.Tensor:
            return self.adversarial_logits(self.players.D(points, c))

        total = 0.0
        if p.gradient:
            total = total + p.gradient * gradient_penalty(critic, x, fake)
        if p.r1:
            total = total + p.r1 * r1_penalty(critic, x)
        return total

    def judge(
        self,
        x: torch.Tensor,
        c: torch.Tensor | None,
        extra: torch.Tensor | None,
        for_d: bool = True,
    ):
        """D's output for x, and its class logits when D also classifies (condition.auxiliary_weight).
        `for_d`: the output feeds D's own update (through DDP's D when distributed)."""
        D = self.train_D if for_d else self.players.D
        if self.config.condition.auxiliary_weight:
            return D(x, c, extra, with_classes=True)
        return D(x, c, extra), None

    def auxiliary_loss(self, class_logits: torch.Tensor | None, c: torch.Tensor | None):
        """weight x cross-entropy of D's classifier against the classes; 0 without the classifier."""
        if class_logits is None:
            return 0.0
        return self.config.condition.auxiliary_weight * torch.nn.functional.cross_entropy(
            class_logits, c
        )

    def adversarial_logits(self, out: torch.Tensor) -> torch.Tensor:
        """D's real-vs-generated logit: its output, or log sum_k exp(l_k) for a semi-supervised D."""
        return torch.logsumexp(out, 1) if self.labelled is not None else out

    def generator_objective(
        self,
        x: torch.Tensor,
        fake: torch.Tensor,
        fake_logits: torch.Tensor | None,
        real_logits: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """G's loss; with BiGAN's E beside G, E's as well: E wants D to take (x, E(x)) for generated,
        so its objective is G's applied to the flipped logit."""
        if self.g_objective is None:
            D = self.players.D
            return feature_matching(D.features(x), D.features(fake))
        loss = self.g_objective(fake_logits)
        if self.players.E is not None:
            loss = loss + self.g_objective(-real_logits)
        return loss

    def pair(self, z: torch.Tensor) -> torch.Tensor | None:
        """The second input D judges beside x: the noise or code, when D judges pairs (BiGAN)."""
        return z if self.players.E is not None else None

    def _set_hyperparameters(
        self, opt: torch.optim.Optimizer, updates_done: int, player: str
    ) -> None:
        o = self.config.optim
        for group in opt.param_groups:
            group["lr"] = learning_rate(o, updates_done, player)
            if o.name == "sgd":
                group["momentum"] = momentum(o, self.epoch)

    def autocast(self):
        """The forward passes at train.precision (a no-op at fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def backward(self, loss: torch.Tensor, inputs: list, retain_graph: bool = False) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward(
            inputs=inputs, retain_graph=retain_graph
        )

    def update(self, *steps: tuple[torch.optim.Optimizer, int, str]) -> None:
        """Step each (optimiser, its updates done, player) whose gradients one backward round made.
        The fp16 scaler moves its scale once, after all of them: each optimiser's gradients are
        unscaled with the scale their losses were multiplied by."""
        for opt, updates_done, player in steps:
            self._set_hyperparameters(opt, updates_done, player)
            if self.scaler is not None:
                self.scaler.step(opt)
            else:
                opt.step()
        if self.scaler is not None:
            self.scaler.update()

    def finite(
        self, losses: dict[str, torch.Tensor], params: dict[str, list]
    ) -> dict[str, torch.Tensor] | None:
        """The gradient norms of `params` when they and the losses are all finite (on every process).
        If not: with train.nonfinite = stop, NonFiniteError naming the step and the tensor; with
        skip, None (the caller skips the update, which is counted). One device sync per update.
        Under fp16 the gradient scaler owns overflowing gradients (it skips and rescales)."""
        norms = (
            {} if self.scaler is not None else {name: _grad_norm(ps) for name, ps in params.items()}
        )
        values = {name: v.detach().float() for name, v in losses.items()} | norms
        bad = not bool(torch.isfinite(torch.stack(list(values.values()))).all())
        if not distributed.any_true(self.group, bad):
            return norms
        if self.config.train.nonfinite == "skip":
            self.skipped_updates += 1
            return None
        culprits = [name for name, v in values.items() if not torch.isfinite(v)] or [
            "another process's loss"
        ]
        last = checkpoint.complete_checkpoints(self.run_dir)
        kept = (
            f"its last checkpoint {last[-1]} is untouched" if last else "it has no checkpoint yet"
        )
        raise NonFiniteError(
            f"step {self.step + 1} (epoch {self.epoch + 1}): {' and '.join(culprits)} "
            f"{'is' if len(culprits) == 1 else 'are'} not finite, so the run stopped "
            f"before updating with it; {kept}. Lower optim.lr, or set train.nonfinite = skip to skip such updates"
        )

    def simultaneous_step(self) -> torch.Tensor | None:
        """The reference code's update: D's and G's gradients from one minibatch, applied together."""
        g_opt, d_opt = self.players.g_opt, self.players.d_opt
        x, c = self.next_batch(self.step % self.steps_per_epoch)
        with self.autocast():
            z, c_fake = self.noise(x.shape[0]), self.fake_classes(x.shape[0])
            fake = self.train_G(z, c_fake)
            code = self.train_E(x) if self.players.E is not None else None
            (real_out, real_classes), (fake_out, fake_classes) = (
                self.judge(x, c, code),
                self.judge(fake, c_fake, self.pair(z)),
            )
            d_loss, real_logits, fake_logits = self.discriminator_objective(real_out, fake_out)
            d_loss = d_loss + self.auxiliary_loss(real_classes, c) + self.penalty(x, c, fake)
            # the same D outputs, dropout included
            g_loss = self.generator_objective(
                x, fake, fake_logits, real_logits
            ) + self.auxiliary_loss(fake_classes, c_fake)
        d_opt.zero_grad(set_to_none=True)
        g_opt.zero_grad(set_to_none=True)
        self.backward(d_loss, self.players.d_params, retain_graph=True)
        self.backward(g_loss, self.players.g_params)
        norms = self.finite(
            {"d_loss": d_loss, "g_loss": g_loss},
            {"D's gradient": self.players.d_params, "G's gradient": self.players.g_params},
        )
        if norms is None:
            return None
        self.update((d_opt, self.step, "d"), (g_opt, self.step, "g"))
        return _stats(
            d_loss,
            g_loss,
            real_logits,
            fake_logits,
            self.players.g_params,
            norms.get("G's gradient"),
        )

    def alternating_step(self) -> torch.Tensor | None:
        """Algorithm 1 as printed: k updates of D, then one update of G on fresh noise."""
        G, D, g_opt, d_opt = self.players.G, self.players.D, self.players.g_opt, self.players.d_opt
        k = self.config.train.k
        d_skipped = False
        for i in range(k):
            x, c = self.next_batch((self.step % self.steps_per_epoch) * k + i)
            with self.autocast():
                z, c_fake = self.noise(x.shape[0]), self.fake_classes(x.shape[0])
                with torch.no_grad():
                    fake = G(z, c_fake)
                    code = self.players.E(x) if self.players.E is not None else None
                (real_out, real_classes), (fake_out, _) = (
                    self.judge(x, c, code),
                    self.judge(fake, c_fake, self.pair(z)),
                )
                d_loss, real_logits, fake_logits = self.discriminator_objective(real_out, fake_out)
                d_loss = d_loss + self.auxiliary_loss(real_classes, c) + self.penalty(x, c, fake)
            d_opt.zero_grad(set_to_none=True)
            self.backward(d_loss, self.players.d_params)
            if self.finite({"d_loss": d_loss}, {"D's gradient": self.players.d_params}) is None:
                d_skipped = True
            else:
                self.update((d_opt, self.step * k + i, "d"))
        with self.autocast():
            z, c_fake = self.noise(x.shape[0]), self.fake_classes(x.shape[0])
            fake = self.train_G(z, c_fake)
            logits, classes = None, None
            if self.g_objective is not None:
                out, classes = self.judge(fake, c_fake, self.pair(z), for_d=False)
                logits = self.adversarial_logits(out)
            e_logits = D(x, None, self.train_E(x)) if self.players.E is not None else None
            g_loss = self.generator_objective(x, fake, logits, e_logits) + self.auxiliary_loss(
                classes, c_fake
            )
        g_opt.zero_grad(set_to_none=True)
        self.backward(g_loss, self.players.g_params)
        norms = self.finite({"g_loss": g_loss}, {"G's gradient": self.players.g_params})
        if norms is None:
            return None
        self.update((g_opt, self.step, "g"))
        if d_skipped:  # its loss is not finite: keep it out of the logged means
            return None
        return _stats(
            d_loss,
            g_loss,
            real_logits,
            fake_logits,
            self.players.g_params,
            norms.get("G's gradient"),
        )

    # -- the loop ------------------------------------------------------------------------------

    def total_steps(self) -> int:
        t = self.config.train
        total = t.epochs * self.steps_per_epoch
        return min(total, t.max_steps) if t.max_steps is not None else total

    def train_step(self) -> None:
        """One step of Algorithm 1, the averages of G (and D) after it, and the step's logged statistics."""
        step_fn = (
            self.simultaneous_step
            if self.config.train.update == "simultaneous"
            else self.alternating_step
        )
        stats = step_fn()
        if self.average is not None:
            self.average.update(self.players.G, self.epoch)
        if self.d_average is not None:
            self.d_average.update(self.players.D, self.epoch)
        # a skipped update's statistics are not finite: they stay out of the means (so do those of an
        # fp16 step whose gradients overflowed, which the scaler skipped)
        if stats is not None and (self.scaler is None or bool(torch.isfinite(stats).all())):
            self.stat_sum += stats.detach()
            self.stat_count += 1
        self.step += 1

    def run(self) -> Path:
        """Train to the configured end (or until SIGINT/SIGTERM); returns the run folder."""
        t = self.config.train
        total = self.total_steps()
        interval_start, interval_steps = time.perf_counter(), 0
        bar = tqdm(
            total=total,
            initial=self.step,
            disable=not self.progress,
            unit="step",
            dynamic_ncols=True,
            desc=f"epoch {self.epoch + 1}",
        )
        try:
            with _stop_on_signals() as stop:
                while self.step < total and not stop.signum:
                    self.train_step()
                    interval_steps += 1
                    bar.update(1)
                    if self.step % t.log_every == 0:
                        now = time.perf_counter()
                        row = self._log(interval_steps / max(now - interval_start, 1e-9))
                        interval_start, interval_steps = now, 0
                        bar.set_postfix({k: f"{row[k]:.3f}" for k in STAT_NAMES[:4]})
                    epoch_done = self.step % self.steps_per_epoch == 0
                    if epoch_done:
                        bar.set_description(f"epoch {min(self.epoch + 1, t.epochs)}")
                        if self.group.main and (
                            self.epoch % t.sample_every == 0 or self.step == total
                        ):
                            png = self.run_dir / "samples" / f"epoch-{self.epoch:04d}.png"
                            self.write_samples(png)
                            if self.tensorboard is not None:
                                self.tensorboard.image("samples", png, self.step)
                    every = t.checkpoint_every
                    if (every is None and epoch_done) or (
                        every is not None and self.step % every == 0
                    ):
                        self.save_checkpoint()
                    if self.group.enabled:  # every process stops at the same step
                        stop.signum = distributed.all_max(self.group, stop.signum)
                signum = stop.signum
            bar.close()
            self.save_checkpoint()
            if (
                self.stat_count
            ):  # the steps since the last full interval, so the log reaches the end
                self._log(
                    interval_steps / max(time.perf_counter() - interval_start, 1e-9), partial=True
                )
            if self.group.main:
                rows = read_metrics(self.run_dir / "metrics.jsonl")
                if rows:
                    save_curves(rows, self.run_dir / "curves.png")
        except BaseException:
            bar.close()
            self.close(clean=False)
            raise
        finally:
            if self.tensorboard is not None:
                self.tensorboard.close()
        self.close()
        if signum:
            name = signal.Signals(signum).name
            raise Interrupted(
                f"{name}: stopped at step {self.step}; checkpoint saved. Continue with "
                f"'advnets train --resume {self.run_dir}'",
                signum,
            )
        return self.run_dir

    def close(self, clean: bool = True) -> None:
        """Under torchrun: drop the DDP wrappers, then end the process group advnets started. The
        wrappers hold gloo's pending work; freed later, at interpreter exit, they abort the process."""
        if not self.group.enabled:
            return
        self.train_G, self.train_D, self.train_E = self.players.G, self.players.D, self.players.E
        gc.collect()
        distributed.shutdown(self.group, clean)

    def _log(self, steps_per_s: float, partial: bool = False) -> dict:
        """Append a row of interval means to metrics.jsonl. A partial row (a run stopping between
        log steps) keeps the interval open; resuming drops it and the full row follows. Under
        torchrun the sums are averaged over the processes first (every process takes part)."""
        distributed.mean_(self.group, self.stat_sum)
        means = (self.stat_sum / max(self.stat_count, 1)).tolist()
        o, t = self.config.optim, self.config.train
        row = {
            "step": self.step,
            "epoch": round(self.step / self.steps_per_epoch, 4),
            **dict(zip(STAT_NAMES, means)),
            "lr_d": learning_rate(o, self.step * t.k),
            "lr_g": learning_rate(o, self.step, "g"),
            "momentum": momentum(o, (self.step - 1) // self.steps_per_epoch)
            if o.name == "sgd"
            else None,
            "images_per_s": steps_per_s * t.batch_size * t.k,
        }
        if self.skipped_updates:
            row["skipped"] = self.skipped_updates
        if partial:
            row["partial"] = True
        if self.group.main:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
            if self.tensorboard is not None and not partial:
                self.tensorboard.scalars(row)
        if not partial:
            self.stat_sum.zero_()
            self.stat_count = 0
        return row

    @torch.no_grad()
    def write_samples(self, path: Path) -> None:
        """The fixed noise batch through G, or through its average once that has begun."""
        title = f"epoch {self.epoch}"
        if self.average is not None and self.average.count:
            G, title = self.average.module, title + f" ({self.config.average.kind} of G)"
        else:
            G = self.players.G
        was_training = G.training
        G.eval()
        samples = G(self.grid_noise, self.grid_classes).cpu()
        G.train(was_training)
        save_samples(samples, self.data.image_shape, self.data.x, path, nrow=10, title=title)


@torch.no_grad()
def _grad_norm(params) -> torch.Tensor:
    """The Euclidean norm of the gradients of `params`, all together."""
    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in params if p.grad is not None])
    )


@torch.no_grad()
def _stats(d_loss, g_loss, real_logits, fake_logits, g_params, g_norm=None) -> torch.Tensor:
    """The logged quantities of one step, in STAT_NAMES order. The norm of G's gradient shows the
    paper's remark on objectives: minimax gradients vanish while D rejects the samples. `g_norm`:
    already computed by the finiteness check (it is not under fp16, where the scaler checks)."""
    if g_norm is None:
        g_norm = _grad_norm(g_params)
    return torch.stack(
        [
            v.float()
            for v in (
                d_loss,
                g_loss,
                torch.sigmoid(real_logits).mean(),
                torch.sigmoid(fake_logits).mean(),
                g_norm,
            )
        ]
    )


def read_metrics(path: Path) -> list[dict]:
    """The rows of metrics.jsonl; a last line cut short by a crash mid-append is left out."""
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines[:-1]]
    if lines:
        try:
            rows.append(json.loads(lines[-1]))
        except json.JSONDecodeError:
            pass
    return rows


class _StopFlag:
    signum = 0  # the signal that asked the run to stop; 0: none


@contextmanager
def _stop_on_signals():
    """Turn SIGINT (Ctrl-C) and SIGTERM (a scheduler's or torchrun's stop) into a request to stop
    after the current step; the run is then checkpointed. A second SIGINT stops at once."""
    flag = _StopFlag()

    def handler(signum, frame):
        if flag.signum and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.signum = signum

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def train(config: Config, run_dir: str | Path, *, progress: bool = True) -> Path:
    """Start a new run in `run_dir` and train it to the end; returns the run folder."""
    return Trainer(config, run_dir, progress=progress).run()


def resume(
    run_dir: str | Path,
    overrides: dict | None = None,
    *,
    from_text: bool = False,
    progress: bool = True,
) -> Path:
    """Continue the run in `run_dir` from its latest checkpoint.

    `overrides` ({section: {field: value}}) may change only fields that do not alter the
    mathematics of training (config.RESUMABLE_FIELDS), e.g. train.epochs to train longer.
    """
    run_dir = Path(run_dir)
    saved = run_dir / "config.json"
    if not saved.is_file():
        raise RunError(f"{run_dir} is not a run folder (no config.json): nothing to resume")
    config = cfgmod.load_json(saved)
    if overrides:
        new = cfgmod.apply(config, overrides, source="--resume overrides", from_text=from_text)
        changed = cfgmod.changed_fields(config, new)
        fixed = [c for c in changed if c not in cfgmod.RESUMABLE_FIELDS]
        if fixed:
            raise RunError(
                f"cannot change {', '.join(fixed)} when resuming: they change the training itself. "
                f"Fields that may change: {', '.join(sorted(cfgmod.RESUMABLE_FIELDS))}"
            )
        config = new
        atomic_write_text(saved, json.dumps(config.to_dict(), indent=1))
    return Trainer(config, run_dir, resume=True, progress=progress).run()
