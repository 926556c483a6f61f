"""Training throughput: advnets against a minimal hand-written loop of the same mathematics, for
the mnist-paper preset (the default) or the convolutional mnist-dcgan preset (`--preset`).

mnist-paper: G 100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, D maxout
240x5 -> 240x5 -> 1 with dropout (keep 0.8 on the input, 0.5 elsewhere), the non-saturating
objective, simultaneous updates (both gradients from one minibatch), SGD with momentum 0.5 and
the per-update learning-rate decay, batch 100, and a moving average of G's weights updated
after every step (the preset samples from it). The hand-written loop is what a user would write
in plain PyTorch; advnets runs its full `Trainer.run()`, with its per-epoch sample grid,
checkpoint, metrics log and training-curve plot included in the time.

mnist-dcgan: G 100 -> linear to 128 x 7 x 7 -> batch norm, ReLU -> transposed conv to 64 x 14 x 14
-> batch norm, ReLU -> transposed conv to 1 x 28 x 28 -> sigmoid; D two strided 4x4 convolutions
(64, 128 channels, leaky ReLU 0.2, batch norm after the second) and a linear output; Algorithm
1's alternating updates (D on a minibatch, then G on fresh noise), the non-saturating objective,
Adam at the preset's two learning rates (G's 0.001, D's 0.0002, betas 0.5, 0.999), batch 64,
Gaussian noise, and an average of G's weights and batch-norm statistics with a half-life of 500
steps.

One repetition is `--steps` steps of each, alternating, in one process; the result is the median
over repetitions of advnets' images/s divided by the hand-written loop's.

    python benchmarks/train_throughput.py --data-dir ../shared/data --reps 5
    python benchmarks/train_throughput.py --data-dir ../shared/data --reps 5 \\
        --preset mnist-dcgan --steps 300
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from advnets import config as cfgmod
from advnets.data import load
from advnets.train.loop import Trainer


class HandMaxout(nn.Module):
    def __init__(self, d_in, units, pieces):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.fc = nn.Linear(d_in, units * pieces)

    def forward(self, x):
        return self.fc(x).view(-1, self.units, self.pieces).max(dim=2).values


def hand_models(train_x: torch.Tensor):
    G = nn.Sequential(
        nn.Linear(100, 1200),
        nn.ReLU(),
        nn.Linear(1200, 1200),
        nn.ReLU(),
        nn.Linear(1200, 784),
        nn.Sigmoid(),
    )
    D = nn.Sequential(
        nn.Dropout(0.2),
        HandMaxout(784, 240, 5),
        nn.Dropout(0.5),
        HandMaxout(240, 240, 5),
        nn.Dropout(0.5),
        nn.Linear(240, 1),
    )
    for net, r in ((G, 0.05), (D, 0.005)):
        for m in net.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -r, r)
                nn.init.zeros_(m.bias)
    mean = train_x.mean(0).clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        G[4].bias.copy_(torch.log(mean / (1 - mean)))
    return G, D


def hand_written_epoch(train_x: torch.Tensor, steps: int, seed: int) -> float:
    """One epoch of the plain PyTorch loop; returns images per second."""
    torch.manual_seed(seed)
    G, D = hand_models(train_x)
    g_opt = torch.optim.SGD(G.parameters(), lr=0.1, momentum=0.5)
    d_opt = torch.optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    G_avg = [p.detach().clone() for p in G.parameters()]
    start = time.perf_counter()
    perm = torch.randperm(train_x.shape[0])
    for step in range(steps):
        x = train_x[perm[step * 100 : (step + 1) * 100]]
        z = (torch.rand(100, 100) * 2 - 1) * math.sqrt(3)
        fake = G(z)
        real_logits, fake_logits = D(x).squeeze(1), D(fake).squeeze(1)
        d_loss = 0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())
        g_loss = F.softplus(-fake_logits).mean()
        d_grads = torch.autograd.grad(d_loss, list(D.parameters()), retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, list(G.parameters()))
        for p, g in zip([*D.parameters(), *G.parameters()], [*d_grads, *g_grads]):
            p.grad = g
        for opt in (d_opt, g_opt):
            opt.param_groups[0]["lr"] = max(0.1 / 1.000004**step, 1e-6)
            opt.step()
        with torch.no_grad():
            for a, p in zip(G_avg, G.parameters()):
                a.lerp_(p, max(1 - 0.99995, 1 / (step + 1)))
    return steps * 100 / (time.perf_counter() - start)


def hand_dcgan(train_x: torch.Tensor):
    """mnist-dcgan's G and D in plain PyTorch: batch norm in G, and in D after its second
    convolution."""
    G = nn.Sequential(
        nn.Linear(100, 128 * 7 * 7, bias=False),
        nn.Unflatten(1, (128, 7, 7)),
        nn.BatchNorm2d(128),
        nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1),
        nn.Sigmoid(),
        nn.Flatten(),
    )
    D = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 64, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False),
        nn.BatchNorm2d(128),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 1),
    )
    mean = train_x.mean().clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        G[7].bias.fill_(float(torch.log(mean / (1 - mean))))
    return G, D


def hand_written_dcgan(train_x: torch.Tensor, steps: int, seed: int) -> float:
    """Steps of the plain PyTorch DCGAN loop; returns images per second."""
    torch.manual_seed(seed)
    G, D = hand_dcgan(train_x)
    optim = cfgmod.load_preset("mnist-dcgan").optim  # the preset's rates: G's own, D's
    betas = (optim.beta1, optim.beta2)
    g_opt = torch.optim.Adam(G.parameters(), lr=optim.lr_g or optim.lr, betas=betas)
    d_opt = torch.optim.Adam(D.parameters(), lr=optim.lr, betas=betas)
    G_avg = copy.deepcopy(G).eval()
    decay = 0.5 ** (1 / 500)
    start = time.perf_counter()
    perm = torch.randperm(train_x.shape[0])
    for step in range(steps):
        x = train_x[perm[step * 64 : (step + 1) * 64]]
        with torch.no_grad():
            fake = G(torch.randn(64, 100))
        d_loss = 0.5 * (F.softplus(-D(x)).mean() + F.softplus(D(fake)).mean())
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g_loss = F.softplus(-D(G(torch.randn(64, 100)))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        with torch.no_grad():
            for a, p in zip(
                [*G_avg.parameters(), *G_avg.buffers()], [*G.parameters(), *G.buffers()]
            ):
                if a.is_floating_point():
                    a.lerp_(p, max(1 - decay, 1 / (step + 1)))
                else:
                    a.copy_(p)
    return steps * 64 / (time.perf_counter() - start)


HAND_WRITTEN = {"mnist-paper": hand_written_epoch, "mnist-dcgan": hand_written_dcgan}


def breakdown(
    config: cfgmod.Config, train, steps: int, workdir: Path, hand_written, reps: int
) -> list[str]:
    """Where advnets' time goes in one run of `steps` steps (seconds inside Trainer.run), and the
    rate of the training steps alone against the hand-written loop's, alternating."""
    import advnets.train.loop as loop

    spent: dict[str, float] = {}

    def timed(owner, name, label):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, wrapper)
        return original

    parts = [
        (Trainer, "train_step", "training steps (all)"),
        (Trainer, "finite", "of which the finiteness check"),
        (Trainer, "save_checkpoint", "checkpoint (write, manifest, verify)"),
        (Trainer, "write_samples", "sample grid"),
        (loop, "save_curves", "curve plot"),
        (Trainer, "_log", "log rows"),
    ]
    originals = [timed(*part) for part in parts]
    try:
        config = cfgmod.apply(
            config, {"train": {"max_steps": steps, "seed": 0}}, source="benchmark"
        )
        trainer = Trainer(config, workdir / "breakdown", progress=False, train_data=train)
        start = time.perf_counter()
        trainer.run()
        total = time.perf_counter() - start
    finally:
        for (owner, name, _), original in zip(parts, originals):
            setattr(owner, name, original)
    lines = [
        f"Where the time of one {steps}-step advnets run goes (`--breakdown`): {total:.2f} s in "
        "all; "
        + "; ".join(f"{label} {spent.get(label, 0.0):.2f} s" for _, _, label in parts)
        + ".",
        "",
    ]
    ratios = []
    for rep in range(reps):
        config_r = cfgmod.apply(config, {"train": {"seed": rep}}, source="benchmark")
        trainer = Trainer(config_r, workdir / f"steps-{rep}", progress=False, train_data=train)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        steps_only = steps * config.train.batch_size / (time.perf_counter() - start)
        ratios.append(steps_only / hand_written(train.x, steps, rep))
    lines += [
        "The training steps alone (`Trainer.train_step`, no sample grid, checkpoint, log or plot) "
        "against the "
        f"hand-written loop, {reps} alternating repetitions: ratios "
        + ", ".join(f"{r:.3f}" for r in ratios)
        + f" (median {statistics.median(ratios):.3f}).",
        "",
    ]
    return lines


def advnets_epoch(config: cfgmod.Config, train, steps: int, workdir: Path, rep: int) -> float:
    """`steps` steps through advnets' Trainer; returns images per second."""
    config = cfgmod.apply(config, {"train": {"max_steps": steps, "seed": rep}}, source="benchmark")
    trainer = Trainer(config, workdir / f"run-{rep}", progress=False, train_data=train)
    start = time.perf_counter()
    trainer.run()
    return steps * config.train.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--steps", type=int, default=500, help="steps per repetition (500 = one mnist-paper epoch)"
    )
    parser.add_argument("--preset", default="mnist-paper", choices=sorted(HAND_WRITTEN))
    parser.add_argument(
        "--out", default=None, help="default: benchmarks/results/train_throughput[_dcgan].md"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the parts of one advnets run, and the training steps alone",
    )
    args = parser.parse_args()
    suffix = "" if args.preset == "mnist-paper" else "_dcgan"
    args.out = args.out or str(Path(__file__).parent / "results" / f"train_throughput{suffix}.md")
    hand_written = HAND_WRITTEN[args.preset]

    import matplotlib.pyplot  # noqa: F401  (imported once up front, as in any long run)

    config = cfgmod.load_preset(args.preset)
    train = load("mnist", "train", args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        advnets_epoch(config, train, 20, Path(tmp), -1)  # warm-up of both paths
        hand_written(train.x, 20, 0)
        for rep in range(args.reps):
            a = advnets_epoch(config, train, args.steps, Path(tmp), rep)
            h = hand_written(train.x, args.steps, rep)
            rows.append((a, h, a / h))
            print(
                f"rep {rep}: advnets {a:.0f} images/s, hand-written {h:.0f} images/s, ratio "
                f"{a / h:.3f}",
                flush=True,
            )
        extra = (
            breakdown(config, train, args.steps, Path(tmp), hand_written, 3)
            if args.breakdown
            else []
        )

    ratio = statistics.median(r[2] for r in rows)
    lines = [
        f"# Training throughput: {args.preset}, advnets vs a hand-written PyTorch loop",
        "",
        f"Command: `python benchmarks/train_throughput.py --reps {args.reps} --steps {args.steps}"
        f"{'' if args.preset == 'mnist-paper' else ' --preset ' + args.preset}"
        f"{' --breakdown' if args.breakdown else ''}`  ",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}, Python {platform.python_version()}  ",
        f"Date: {time.strftime('%Y-%m-%d')}",
        "",
        "| rep | advnets images/s | hand-written images/s | ratio |",
        "|---|---|---|---|",
        *[f"| {i} | {a:.0f} | {h:.0f} | {r:.3f} |" for i, (a, h, r) in enumerate(rows)],
        "",
        f"**Median ratio: {ratio:.3f}** (target >= 0.95). advnets' time includes its per-epoch "
        "sample grid, checkpoint, metrics log and curve plot (at the end of each repetition's "
        "run).",
        "Seconds per epoch (50,000 images), median: advnets "
        f"{50_000 / statistics.median(r[0] for r in rows):.1f} s, hand-written "
        f"{50_000 / statistics.median(r[1] for r in rows):.1f} s.",
        "",
        *extra,
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
