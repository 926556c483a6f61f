"""Training throughput of the mnist-paper setting: advnets against a minimal hand-written loop.

Both run the same mathematics: G 100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, D maxout
240x5 -> 240x5 -> 1 with dropout (keep 0.8 on the input, 0.5 elsewhere), the non-saturating
objective, simultaneous updates (both gradients from one minibatch), SGD with momentum 0.5 and
the per-update learning-rate decay, batch 100, and a moving average of G's weights updated
after every step (the preset samples from it). The hand-written loop is what a user would write
in plain PyTorch; advnets runs its full `Trainer.run()`, with its per-epoch sample grid,
checkpoint, metrics log and training-curve plot included in the time.

One repetition is one epoch (500 steps) of each, alternating, in one process; the result is
the median over repetitions of advnets' images/s divided by the hand-written loop's.

    python benchmarks/train_throughput.py --data-dir ../shared/data --reps 5
"""

from __future__ import annotations

import argparse
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
    G = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, 784),
                      nn.Sigmoid())
    D = nn.Sequential(nn.Dropout(0.2), HandMaxout(784, 240, 5), nn.Dropout(0.5), HandMaxout(240, 240, 5),
                      nn.Dropout(0.5), nn.Linear(240, 1))
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
        x = train_x[perm[step * 100:(step + 1) * 100]]
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


def advnets_epoch(config: cfgmod.Config, train, steps: int, workdir: Path, rep: int) -> float:
    """One epoch through advnets' Trainer; returns images per second."""
    config = cfgmod.apply(config, {"train": {"max_steps": steps, "seed": rep}}, source="benchmark")
    trainer = Trainer(config, workdir / f"run-{rep}", progress=False, train_data=train)
    start = time.perf_counter()
    trainer.run()
    return steps * 100 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500, help="steps per repetition (500 = one MNIST epoch)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_throughput.md"))
    args = parser.parse_args()

    import matplotlib.pyplot  # noqa: F401  (imported once up front, as in any long run)

    config = cfgmod.load_preset("mnist-paper")
    train = load("mnist", "train", args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        advnets_epoch(config, train, 20, Path(tmp), -1)  # warm-up of both paths
        hand_written_epoch(train.x, 20, 0)
        for rep in range(args.reps):
            a = advnets_epoch(config, train, args.steps, Path(tmp), rep)
            h = hand_written_epoch(train.x, args.steps, rep)
            rows.append((a, h, a / h))
            print(f"rep {rep}: advnets {a:.0f} images/s, hand-written {h:.0f} images/s, ratio {a / h:.3f}", flush=True)

    ratio = statistics.median(r[2] for r in rows)
    lines = [
        "# Training throughput: mnist-paper, advnets vs a hand-written PyTorch loop",
        "",
        f"Command: `python benchmarks/train_throughput.py --reps {args.reps} --steps {args.steps}`  ",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"Python {platform.python_version()}  ",
        f"Date: {time.strftime('%Y-%m-%d')}",
        "",
        "| rep | advnets images/s | hand-written images/s | ratio |",
        "|---|---|---|---|",
        *[f"| {i} | {a:.0f} | {h:.0f} | {r:.3f} |" for i, (a, h, r) in enumerate(rows)],
        "",
        f"**Median ratio: {ratio:.3f}** (target >= 0.95). advnets' time includes its per-epoch sample grid, "
        "checkpoint, metrics log and curve plot.",
        f"Seconds per epoch (50,000 images), median: advnets {50_000 / statistics.median(r[0] for r in rows):.1f} s, "
        f"hand-written {50_000 / statistics.median(r[1] for r in rows):.1f} s.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
