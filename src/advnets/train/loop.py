"""Training: Algorithm 1 of the paper, with the reference code's simultaneous variant.

One *step* is one iteration of Algorithm 1: k discriminator updates on k minibatches, then one
generator update. Everything about where a run is follows from the step count: an epoch is
`steps_per_epoch = (N // batch_size) // k` steps (so the last (N // batch_size) % k minibatches
of each epoch's permutation go unused when k > 1), the data order of each epoch is a permutation
drawn from (seed, epoch), and the optimisers' schedules are functions of their update counts.
So a checkpoint needs only the step, the weights, the optimiser state and the RNG state to
resume bit for bit, also in the middle of an epoch (advnets.train.state).

What each player minimises is the game's (advnets.game); this module runs it.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from advnets import config as cfgmod
from advnets.config import Config
from advnets.data import Dataset, from_config
from advnets.data.labels import labelled_subset
from advnets.errors import NonFiniteError, RunError
from advnets.figures.plots import save_curves, save_samples
from advnets.game import Game, Labelled, Verdict
from advnets.nn import class_frequencies, sample_classes, sample_noise
from advnets.run import Run
from advnets.train import distributed, state
from advnets.train.average import WeightAverage
from advnets.train.batches import Batches
from advnets.train.players import build_players
from advnets.train.schedule import learning_rate, momentum
from advnets.train.signals import Interrupted, stop_on_signals

GRID_NOISE_SEED = 20_140_610  # the fixed noise batch of the per-epoch sample grids
STAT_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")
PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16}
NAMES = {"d": "D", "g": "G"}


class Trainer:
    """One run: its data, players, game, position, logs and checkpoints, in its run folder."""

    def __init__(
        self,
        config: Config,
        run_dir: str | Path,
        *,
        resume: bool = False,
        progress: bool = True,
        train_data: Dataset | None = None,
    ):
        cfgmod.check(config, source="the config to train")  # edited in Python, perhaps
        self.config, self.run_dir, self.folder = config, Path(run_dir), Run(run_dir)
        self._place(resume, progress)
        self._load_data(train_data)
        labelled = self._classes_and_labels()
        t = config.train
        if self.device.type == "cpu":
            torch.set_flush_denormal(t.flush_denormal)
        torch.manual_seed(t.seed)  # the players' initialisation, then the noise of training
        self.players = build_players(
            config, self.data, self.device, self.num_classes, self.d_outputs
        )
        self.game = Game(config, self.players.D, labelled, self.data.image_shape)
        self.average = self._average_of(self.players.G, config.average.kind != "none")
        self.d_average = self._average_of(self.players.D, config.average.discriminator)
        # the modules whose forward passes feed their own player's update: DDP's under torchrun
        self.train_G, self.train_D, self.train_E = self.players.G, self.players.D, self.players.E
        if self.group.enabled:
            self._wrap_for_ddp()
            if self.group.rank:  # every process its own noise; process 0 keeps the 1-process one
                torch.manual_seed(distributed.rank_seed(t.seed, self.group.rank))
        self.autocast_dtype = PRECISIONS.get(t.precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if t.precision == "fp16" else None
        self.step, self.saved_step, self.skipped_updates, self.grid_step = 0, -1, 0, -1
        # summed on the training device, read at log time only (no device sync per step)
        self.stat_sum = torch.zeros(len(STAT_NAMES), dtype=torch.float64, device=self.device)
        self.stat_count = 0
        self._grid_noise()
        self.lock = None  # process 0 holds the run folder from here on
        try:
            self._take_the_run_folder(resume)
            self.tensorboard = None
            if t.tensorboard and self.group.main:
                from advnets.train.tensorboard import TensorBoardLog

                self.tensorboard = TensorBoardLog(self.run_dir, self.step)
        except BaseException:  # a run that does not start lets go of its folder at once
            if self.lock is not None:
                self.lock.release()
            raise

    def _take_the_run_folder(self, resume: bool) -> None:
        """Lock the run (process 0) and put it where its checkpoint left it, or make it new."""
        if resume:
            if self.group.main:
                self.lock = self.folder.require("resume it").lock()
                if self.folder.config() != self.config:  # fields that may change on resume
                    self.folder.save_config(self.config)
            state.restore(self)
        else:
            if self.group.main:  # refuses again: it may have appeared meanwhile
                self.lock = self.folder.create(self.config)
            distributed.barrier(self.group)

    def _place(self, resume: bool, progress: bool) -> None:
        """Where this process trains (its device, and its place among torchrun's processes),
        and the refusals due before any data is read: a batch that does not split between the
        processes, a used run folder, TensorBoard asked for and not installed."""
        t = self.config.train
        self.group = distributed.from_environment(distributed.resolve_device(t.device).type)
        self.progress = progress and self.group.main
        self.device = distributed.resolve_device(t.device, self.group.local_rank)
        if t.batch_size % self.group.world:
            raise RunError(
                f"train.batch_size = {t.batch_size} is the global minibatch, split evenly "
                f"between the {self.group.world} processes: choose a multiple of {self.group.world}"
            )
        if not resume:
            self.folder.refuse_if_used()
        if t.tensorboard:
            from advnets.train.tensorboard import summary_writer_class

            try:
                summary_writer_class()
            except ImportError as err:
                raise RunError(str(err)) from None

    def _load_data(self, train_data: Dataset | None) -> None:
        t = self.config.train
        self.data = train_data or from_config(self.config.data, "train", progress=self.progress)
        self.steps_per_epoch = len(self.data) // t.batch_size // t.k
        if self.steps_per_epoch == 0:
            raise RunError(
                f"the {self.config.data.source} training set has {len(self.data)} examples, "
                f"fewer than train.batch_size x train.k = {t.batch_size * t.k}: lower the batch "
                "or k"
            )
        self.x = self.data.x.to(self.device)
        if self.group.main:
            for note in self.data.notes:  # what was done to the data, said once
                print(f"advnets: {note}", file=sys.stderr)

    def _classes_and_labels(self) -> Labelled | None:
        """The classes of a conditional game and the labelled images of a semi-supervised D
        (returned), and the minibatches they come in."""
        c, t = self.config, self.config.train
        y = self._labels()
        self.num_classes, self.class_freq = 0, None
        if c.condition.kind != "none":
            self.class_freq = class_frequencies(self.data.y).to(self.device)
            self.num_classes = len(self.class_freq)
        labelled, self.d_outputs = None, 1
        if c.semi.labels_per_class:  # D's outputs: one logit per class
            index = labelled_subset(self.data.y, c.semi.labels_per_class, c.semi.label_seed)
            labelled = Labelled(self.x, y, index.to(self.device))
            self.d_outputs = int(self.data.y.max()) + 1
        self.batches = Batches(
            self.x, y if self.num_classes else None, t.seed, t.batch_size, self.group.world,
            self.group.rank,
        )  # fmt: skip
        return labelled

    def _labels(self) -> torch.Tensor | None:
        """The class labels on the device, for a conditional model or a semi-supervised D."""
        c = self.config
        users = [
            f"condition.kind = {c.condition.kind!r}" if c.condition.kind != "none" else "",
            "semi.labels_per_class" if c.semi.labels_per_class else "",
        ]
        if not any(users):
            return None
        if self.data.y is None:
            raise RunError(
                f"{' and '.join(u for u in users if u)} needs class labels; the "
                f"{c.data.source} training set has none"
            )
        return self.data.y.to(self.device)

    def _average_of(self, module: torch.nn.Module, wanted: bool) -> WeightAverage | None:
        return WeightAverage(module, self.config.average) if wanted else None

    def _grid_noise(self) -> None:
        """The fixed noise of the sample grids (a conditional model's grid: a row per class)."""
        gen = torch.Generator().manual_seed(GRID_NOISE_SEED + self.config.train.seed)
        n = (10 * max(self.num_classes, 10)) if self.data.image_shape else 2000
        g = self.config.generator
        self.grid_noise = sample_noise(g.prior, n, g.noise_dim, generator=gen).to(self.device)
        self.grid_classes = torch.arange(n, device=self.device) // 10 if self.num_classes else None

    def _wrap_for_ddp(self) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        self.train_G = DDP(self.players.G, device_ids=ids, gradient_as_bucket_view=True)
        self.train_D = DDP(self.players.D, device_ids=ids, gradient_as_bucket_view=True)
        if self.players.E is not None:
            self.train_E = DDP(self.players.E, device_ids=ids, gradient_as_bucket_view=True)

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    # -- Algorithm 1 ----------------------------------------------------------------------------

    def simultaneous_step(self) -> torch.Tensor | None:
        """The reference code's update: D's and G's gradients from one minibatch, applied
        together."""
        x, c = self.batches(self.epoch, self.step % self.steps_per_epoch)
        with self.autocast():
            z, c_fake = self.noise(len(x))
            fake = self.train_G(z, c_fake)
            code = self.train_E(x) if self.players.E is not None else None
            real_v, fake_v = self.game.judge_both(self.train_D, x, c, code, fake, c_fake, z)
            d_loss = self.game.d_loss(real_v, fake_v, x, c, fake)
            # G's loss from the same verdicts of D, dropout included
            g_loss = self.game.g_loss(x, fake, c_fake, fake_v, real_v.logits)
        norms = self.gradients({"d": d_loss, "g": g_loss})
        if norms is None:
            return None
        self.apply_updates({"d": self.step, "g": self.step})
        return self.statistics(d_loss, g_loss, real_v, fake_v, norms.get("g"))

    def alternating_step(self) -> torch.Tensor | None:
        """Algorithm 1 as printed: k updates of D on k minibatches, then one of G on fresh noise."""
        k = self.config.train.k
        d_skipped = False
        for i in range(k):
            x, c = self.batches(self.epoch, (self.step % self.steps_per_epoch) * k + i)
            with self.autocast():
                z, c_fake = self.noise(len(x))
                with torch.no_grad():
                    fake = self.players.G(z, c_fake)
                    code = self.players.E(x) if self.players.E is not None else None
                real_v, fake_v = self.game.judge_both(self.train_D, x, c, code, fake, c_fake, z)
                d_loss = self.game.d_loss(real_v, fake_v, x, c, fake)
            if self.gradients({"d": d_loss}) is None:
                d_skipped = True
            else:
                self.apply_updates({"d": self.step * k + i})
        with self.autocast():
            z, c_fake = self.noise(len(x))
            fake = self.train_G(z, c_fake)
            fake_for_g, real_logits = self.game.judge_for_g(x, fake, c_fake, z, self.train_E)
            g_loss = self.game.g_loss(x, fake, c_fake, fake_for_g, real_logits)
        norms = self.gradients({"g": g_loss})
        if norms is None:
            return None
        self.apply_updates({"g": self.step})
        if d_skipped:  # its loss is not finite: keep it out of the logged means
            return None
        return self.statistics(d_loss, g_loss, real_v, fake_v, norms.get("g"))

    def noise(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z ~ p_z [n, noise_dim], and the classes G is asked for when it is conditional (drawn
        from the training labels' frequencies)."""
        g = self.config.generator
        z = sample_noise(g.prior, n, g.noise_dim, device=self.device)
        return z, (sample_classes(self.class_freq, n) if self.num_classes else None)

    # -- one update -----------------------------------------------------------------------------

    def autocast(self):
        """The forward passes at train.precision (a no-op at fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def gradients(self, losses: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """Each player's ("d", "g") loss backpropagated into its own parameters. Returns their
        gradient norms (none under fp16, where the scaler checks) when the losses and gradients
        are all finite on every process. If not: with train.nonfinite = stop, NonFiniteError
        naming the step and the tensor; with skip, None (the update is skipped and counted)."""
        for player in losses:
            self.players.optimizer(player).zero_grad(set_to_none=True)
        last = list(losses)[-1]
        for player, loss in losses.items():
            scaled = self.scaler.scale(loss) if self.scaler is not None else loss
            scaled.backward(inputs=self.players.parameters(player), retain_graph=player != last)
        norms = {}
        if self.scaler is None:
            norms = {p: _grad_norm(self.players.parameters(p)) for p in losses}
        values = {f"{p}_loss": v.detach().float() for p, v in losses.items()}
        values |= {f"{NAMES[p]}'s gradient": v for p, v in norms.items()}
        bad = not bool(torch.isfinite(torch.stack(list(values.values()))).all())  # one sync
        if not distributed.any_true(self.group, bad):
            return norms
        if self.config.train.nonfinite == "skip":
            self.skipped_updates += 1
            return None
        raise self._nonfinite([name for name, v in values.items() if not torch.isfinite(v)])

    def _nonfinite(self, culprits: list[str]) -> NonFiniteError:
        culprits = culprits or ["another process's loss"]
        last = self.folder.checkpoints()
        kept = f"its last checkpoint {last[-1]} is untouched" if last else "it has no checkpoint"
        return NonFiniteError(
            f"step {self.step + 1} (epoch {self.epoch + 1}): {' and '.join(culprits)} "
            f"{'is' if len(culprits) == 1 else 'are'} not finite, so the run stopped before "
            f"updating with it; {kept}. Lower optim.lr, or set train.nonfinite = skip to skip "
            "such updates"
        )

    def apply_updates(self, updates_done: dict[str, int]) -> None:
        """Step each player's optimiser, its learning rate and momentum set by its schedule from
        its updates so far. The fp16 scaler moves its scale once, after all of them: each
        optimiser's gradients are unscaled with the scale their losses were multiplied by."""
        o = self.config.optim
        for player, done in updates_done.items():
            opt = self.players.optimizer(player)
            for group in opt.param_groups:
                group["lr"] = learning_rate(o, done, player)
                if o.name == "sgd":
                    group["momentum"] = momentum(o, self.epoch)
            if self.scaler is not None:
                self.scaler.step(opt)
            else:
                opt.step()
        if self.scaler is not None:
            self.scaler.update()

    @torch.no_grad()
    def statistics(self, d_loss, g_loss, real: Verdict, fake: Verdict, g_norm=None):
        """The logged quantities of one step, in STAT_NAMES order. The norm of G's gradient shows
        the paper's remark on objectives: minimax gradients vanish while D rejects the samples."""
        if g_norm is None:
            g_norm = _grad_norm(self.players.g_params)
        return torch.stack(
            [
                v.float()
                for v in (
                    d_loss,
                    g_loss,
                    torch.sigmoid(real.logits).mean(),
                    torch.sigmoid(fake.logits).mean(),
                    g_norm,
                )
            ]
        )

    # -- the loop -------------------------------------------------------------------------------

    def total_steps(self) -> int:
        t = self.config.train
        total = t.epochs * self.steps_per_epoch
        return min(total, t.max_steps) if t.max_steps is not None else total

    def train_step(self) -> None:
        """One step of Algorithm 1, the averages of G (and D) after it, and its statistics."""
        simultaneous = self.config.train.update == "simultaneous"
        stats = self.simultaneous_step() if simultaneous else self.alternating_step()
        if self.average is not None:
            self.average.update(self.players.G, self.epoch)
        if self.d_average is not None:
            self.d_average.update(self.players.D, self.epoch)
        # a skipped update's statistics are not finite: they stay out of the means (so do those
        # of an fp16 step whose gradients overflowed, which the scaler skipped)
        if stats is not None and (self.scaler is None or bool(torch.isfinite(stats).all())):
            self.stat_sum += stats.detach()
            self.stat_count += 1
        self.step += 1

    def run(self) -> Path:
        """Train to the configured end (or until SIGINT/SIGTERM); returns the run folder."""
        t = self.config.train
        total = self.total_steps()
        first = self.step
        interval_start, interval_steps = time.perf_counter(), 0
        # a progress bar on a terminal; elsewhere (a log file) a line per log interval
        lines = self.progress and not sys.stderr.isatty()
        bar = tqdm(
            total=total, initial=self.step, disable=not self.progress or lines, unit="step",
            dynamic_ncols=True, desc=f"epoch {self.epoch + 1}",
        )  # fmt: skip
        try:
            with stop_on_signals() as stop:
                while self.step < total and not stop.signum:
                    self.train_step()
                    interval_steps += 1
                    bar.update(1)
                    if self.step % t.log_every == 0:
                        now = time.perf_counter()
                        row = self._log(interval_steps / max(now - interval_start, 1e-9))
                        interval_start, interval_steps = now, 0
                        bar.set_postfix({k: f"{row[k]:.3f}" for k in STAT_NAMES[:4]})
                        if lines:
                            print(_log_line(row, total), file=sys.stderr, flush=True)
                    epoch_done = self.step % self.steps_per_epoch == 0
                    if epoch_done:
                        bar.set_description(f"epoch {min(self.epoch + 1, t.epochs)}")
                        if self.group.main and (
                            self.epoch % t.sample_every == 0 or self.step == total
                        ):
                            self._sample_grid()
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
            if self.group.main and self.step > first and self.grid_step != self.step:
                # a stop between grids: the samples of the step it stopped at
                self._sample_grid(self.folder.samples_dir / f"step-{self.step:08d}.png")
            if self.stat_count:  # the steps since the last full interval: the log reaches the end
                self._log(
                    interval_steps / max(time.perf_counter() - interval_start, 1e-9), partial=True
                )
            if self.group.main:
                rows = self.folder.metrics()
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

    def save_checkpoint(self) -> None:
        """Checkpoint the run at its step (advnets.train.state); every process takes part."""
        state.save(self)

    def close(self, clean: bool = True) -> None:
        """Let go of the run folder; under torchrun, drop the DDP wrappers, then end the process
        group advnets started (the wrappers hold gloo's pending work; freed later, at exit, they
        would abort the process)."""
        if self.lock is not None:
            self.lock.release()
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
            self.folder.append_metrics(row)
            if self.tensorboard is not None and not partial:
                self.tensorboard.scalars(row)
        if not partial:
            self.stat_sum.zero_()
            self.stat_count = 0
        return row

    def _sample_grid(self, png: Path | None = None) -> None:
        png = png or self.folder.sample_grid_path(self.epoch)
        self.write_samples(png)
        self.grid_step = self.step
        if self.tensorboard is not None:
            self.tensorboard.image("samples", png, self.step)

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


def _log_line(row: dict, total: int) -> str:
    return (
        f"step {row['step']}/{total} (epoch {row['epoch']:.2f}): D loss {row['d_loss']:.3f}, "
        f"G loss {row['g_loss']:.3f}, D(x) {row['d_real']:.3f}, D(G(z)) {row['d_fake']:.3f}, "
        f"{row['images_per_s']:.0f} images/s"
    )


@torch.no_grad()
def _grad_norm(params) -> torch.Tensor:
    """The Euclidean norm of the gradients of `params`, all together."""
    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in params if p.grad is not None])
    )


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
    folder = Run(run_dir).require("resume it")
    config = folder.config()
    if overrides:
        new = cfgmod.apply(config, overrides, source="--resume overrides", from_text=from_text)
        changed = cfgmod.changed_fields(config, new)
        fixed = [c for c in changed if c not in cfgmod.RESUMABLE_FIELDS]
        if fixed:
            raise RunError(
                f"cannot change {', '.join(fixed)} when resuming: they change the training "
                f"itself. Fields that may change: {', '.join(sorted(cfgmod.RESUMABLE_FIELDS))}"
            )
        config = new  # saved by the Trainer, once it holds the run
    return Trainer(config, run_dir, resume=True, progress=progress).run()
