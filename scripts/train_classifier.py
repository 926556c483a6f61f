"""Train the feature classifier shipped with advnets for one data set (deterministic for its seed).

    python scripts/train_classifier.py mnist
    python scripts/train_classifier.py fashion-mnist

Trains `advnets.metrics.classifier.Classifier` on all 60,000 training images (the paper's train
and validation splits together) with Adam, dropout and random shifts of up to 2 pixels (plus
horizontal flips for fashion-mnist, whose classes are mirror-symmetric), reports the accuracy
on the 10,000 test images, and writes the weights to src/advnets/metrics/weights/ with the
SHA-256 and accuracy to record in `SHIPPED`. The same seed, thread count and PyTorch build give
the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save as save_safetensors

from advnets.data import load
from advnets.io import atomic_write_bytes
from advnets.metrics.classifier import SHIPPED, Classifier

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "advnets" / "metrics" / "weights"
RECIPES = {"mnist": {"epochs": 15, "flip": False}, "fashion-mnist": {"epochs": 30, "flip": True}}


def augment(x: torch.Tensor, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """Shift each image by up to 2 pixels in each direction (zero fill); flip half of them if
    asked."""
    b = x.shape[0]
    padded = F.pad(x.view(b, 1, 28, 28), (2, 2, 2, 2))
    dy, dx = torch.randint(0, 5, (2, b), generator=gen)
    rows = (torch.arange(28)[None, :] + dy[:, None])[:, :, None]  # [b, 28, 1]
    cols = (torch.arange(28)[None, :] + dx[:, None])[:, None, :]  # [b, 1, 28]
    out = padded[torch.arange(b)[:, None, None], 0, rows, cols]  # [b, 28, 28]
    if flip:
        mirror = torch.rand(b, generator=gen) < 0.5
        out = torch.where(mirror[:, None, None], out.flip(2), out)
    return out.reshape(b, 784)


@torch.no_grad()
def accuracy(net: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    hits = sum(int((net(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(2000), y.split(2000)))
    return hits / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", choices=sorted(SHIPPED))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    recipe = RECIPES[args.source]
    epochs = args.epochs or recipe["epochs"]

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    parts = [load(args.source, s, data_dir=args.data_dir) for s in ("train", "valid")]
    x = torch.cat([p.x for p in parts])
    y = torch.cat([p.y for p in parts])
    test = load(args.source, "test", data_dir=args.data_dir)

    net = Classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps_per_epoch = len(x) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=2e-3, total_steps=epochs * steps_per_epoch
    )
    gen = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(steps_per_epoch):
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            loss = F.cross_entropy(net(augment(x[idx], gen, recipe["flip"])), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(
            f"epoch {epoch + 1}/{epochs}: loss {loss.item():.4f}, test accuracy "
            f"{accuracy(net, test.x, test.y):.4f}, {time.perf_counter() - start:.0f} s",
            flush=True,
        )

    acc = accuracy(net, test.x, test.y)
    # No metadata: safetensors writes it in an arbitrary key order, which would change the file's
    # SHA-256 from one run to the next although the tensors are bit for bit the same.
    blob = save_safetensors({k: v.contiguous() for k, v in net.state_dict().items()})
    name = SHIPPED[args.source][0]
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(WEIGHTS / name, blob)
    print(
        json.dumps(
            {
                "source": args.source,
                "file": name,
                "sha256": hashlib.sha256(blob).hexdigest(),
                "test_accuracy": acc,
                "epochs": epochs,
                "seed": args.seed,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
