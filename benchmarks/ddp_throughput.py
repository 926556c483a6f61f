"""Training throughput of one process against N processes under torchrun (DDP, gloo on CPU),
side by side in one run, on the mnist-paper preset (global batch 100 in both).

One process gets all the machine's torch threads; each of N processes gets threads / N, so the
two use the same cores. On a 2-core machine this measures DDP's overhead and checks that it
trains, not a speed-up: there is nothing to gain from splitting two cores two ways.

    python benchmarks/ddp_throughput.py --data-dir ../shared/data --steps 400 --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def images_per_s(run: Path, skip: int) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if not r.get("partial")][skip:]
    return statistics.median(r["images_per_s"] for r in rows)


def train(nproc: int, threads: int, steps: int, log_every: int, data_dir: str, run: Path) -> float:
    args = [
        "-m",
        "advnets",
        "train",
        "--preset",
        "mnist-paper",
        "--train.max_steps",
        str(steps),
        "--train.log_every",
        str(log_every),
        "--train.checkpoint_every",
        str(10 * steps),
        "--no-progress",
        "--out",
        str(run),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "ADVNETS_DATA": data_dir}
    launcher = (
        [sys.executable]
        if nproc == 1
        else [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(nproc),
        ]
    )
    subprocess.run([*launcher, *args], check=True, env=env, capture_output=True)
    return images_per_s(run, skip=1)  # the first interval holds start-up work


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "ddp_throughput.md")
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            one = train(
                1, args.threads, args.steps, args.log_every, args.data_dir, Path(tmp) / f"one-{rep}"
            )
            many = train(
                args.nproc,
                max(args.threads // args.nproc, 1),
                args.steps,
                args.log_every,
                args.data_dir,
                Path(tmp) / f"many-{rep}",
            )
            rows.append((rep, one, many, many / one))
            print(
                f"rep {rep}: 1 process {one:.0f} images/s, {args.nproc} processes {many:.0f} "
                "images/s"
            )
            shutil.rmtree(Path(tmp) / f"one-{rep}")
            shutil.rmtree(Path(tmp) / f"many-{rep}")
    ratio = statistics.median(r[3] for r in rows)
    lines = [
        f"# Training throughput: 1 process vs {args.nproc} under torchrun (DDP, gloo), mnist-paper",
        "",
        f"Command: `python benchmarks/ddp_throughput.py --steps {args.steps} --reps {args.reps}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {args.threads} torch threads in "
        f"all, torch {torch.__version__}, Python {platform.python_version()}  ",
        f"Date: {time.strftime('%Y-%m-%d')}",
        "",
        f"| rep | 1 process ({args.threads} threads), images/s | {args.nproc} processes "
        f"({max(args.threads // args.nproc, 1)} thread each), images/s | ratio |",
        "|---|---|---|---|",
        *[f"| {rep} | {one:.0f} | {many:.0f} | {r:.3f} |" for rep, one, many, r in rows],
        "",
        f"**Median ratio: {ratio:.3f}.** Both train the same global batch of 100 per step on the "
        f"same cores; the {args.nproc} processes also exchange every gradient of G and D (DDP's "
        "all-reduce) and agree each update on whether it is finite and each step on whether to "
        f"stop. With {os.cpu_count()} cores this shows the cost of that exchange, not a speed-up: "
        "more processes pay off with more cores or machines than one process can use.",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
