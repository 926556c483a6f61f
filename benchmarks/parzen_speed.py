"""The paper's Parzen protocol on MNIST, advnets against two baselines, in one run.

    python benchmarks/parzen_speed.py            # writes benchmarks/results/parzen_speed.md

Inputs (the same for every method): 10,000 kernel centres (MNIST training images 0-9,999, the
reference row of the protocol), sigma chosen from logspace(-1, 0, 10) on validation images
50,000-50,999, then the log-likelihood of the 10,000 test images, 784 dimensions.

Methods, each in a fresh process so its peak memory is its own:
- advnets:   `advnets.metrics.parzen.parzen_protocol` (float64 matrix products, distances reused
             for every sigma, streamed log-sum-exp);
- ball_tree: scikit-learn KernelDensity(algorithm='ball_tree'), refitted per sigma (its
             default kd_tree is wrong in 784 dimensions);
- ball_tree_exhaustive: the same with leaf_size = the number of centres, so that the tree is one
             leaf and every kernel is summed (the tree's bounds otherwise drop terms, see results);
- numpy:     a direct NumPy port of the reference code's parzen_ll.py: for each sigma, batches of
             10 queries broadcast against all centres, [10, 10000, 784] at a time, float64.
Peak memory is the process's maximum resident set size (ru_maxrss), and also what it grew by
after the inputs were loaded (imports and data excluded).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "parzen_speed.md"
METHODS = ("advnets", "ball_tree", "ball_tree_exhaustive", "numpy")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def inputs(data_dir):
    from advnets.data import load

    centres = load("mnist", "train", data_dir).x[:10_000].numpy().astype(np.float64)
    valid = load("mnist", "valid", data_dir).x[:1000].numpy().astype(np.float64)
    test = load("mnist", "test", data_dir).x.numpy().astype(np.float64)
    return centres, valid, test


def sigmas():
    return [float(s) for s in np.logspace(-1, 0, 10)]


def run_advnets(centres, valid, test):
    from advnets.metrics.parzen import parzen_protocol

    r = parzen_protocol(centres, valid, test, sigmas())
    return r.mean, r.stderr, r.sigma


def _protocol(score, centres, valid, test):
    """Choose sigma on `valid` with score(queries, sigma) -> log p per row; report on `test`."""
    grid = sigmas()
    best = max(grid, key=lambda s: float(np.mean(score(valid, s))))
    ll = score(test, best)
    return float(ll.mean()), float(ll.std() / math.sqrt(len(ll))), best


def run_ball_tree(centres, valid, test, leaf_size=40):
    from sklearn.neighbors import KernelDensity

    def score(queries, sigma):
        kde = KernelDensity(bandwidth=sigma, algorithm="ball_tree", leaf_size=leaf_size)
        return kde.fit(centres).score_samples(queries)

    return _protocol(score, centres, valid, test)


def run_ball_tree_exhaustive(centres, valid, test):
    return run_ball_tree(centres, valid, test, leaf_size=len(centres))


def run_numpy(centres, valid, test, batch_size=10):
    def log_mean_exp(a):
        m = a.max(1, keepdims=True)
        return m[:, 0] + np.log(np.exp(a - m).mean(1))

    def score(queries, sigma):
        d = centres.shape[1]
        z = d * math.log(sigma * math.sqrt(2 * math.pi))
        out = []
        for i in range(0, len(queries), batch_size):
            a = (queries[i : i + batch_size, None, :] - centres[None, :, :]) / sigma
            out.append(log_mean_exp(-0.5 * (a**2).sum(2)) - z)
        return np.concatenate(out)

    return _protocol(score, centres, valid, test)


def worker(method: str, data_dir, out: str) -> None:
    centres, valid, test = inputs(data_dir)
    before = rss_mb()
    start = time.perf_counter()
    mean, stderr, sigma = {
        "advnets": run_advnets,
        "ball_tree": run_ball_tree,
        "ball_tree_exhaustive": run_ball_tree_exhaustive,
        "numpy": run_numpy,
    }[method](centres, valid, test)
    seconds = time.perf_counter() - start
    Path(out).write_text(
        json.dumps(
            {
                "method": method,
                "seconds": seconds,
                "mean": mean,
                "stderr": stderr,
                "sigma": sigma,
                "peak_mb": rss_mb(),
                "growth_mb": rss_mb() - before,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data_dir, args.json)
        return

    import torch

    rows = []
    for method in args.methods.split(","):
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            cmd = [sys.executable, __file__, "--worker", method, "--json", tmp.name]
            if args.data_dir:
                cmd += ["--data-dir", args.data_dir]
            subprocess.run(cmd, check=True)
            rows.append(json.loads(Path(tmp.name).read_text()))
            print(rows[-1], flush=True)
    base = next(r for r in rows if r["method"] == "advnets")
    lines = [
        "# Parzen protocol speed: advnets vs scikit-learn ball_tree vs the reference formula in "
        "NumPy",
        "",
        (
            f"Command: `python benchmarks/parzen_speed.py` ({time.strftime('%Y-%m-%d')}, "
            f"{platform.machine()}, "
            f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} "
            "threads)."
        ),
        "",
        "The full protocol: 10,000 centres (MNIST train 0-9,999), 10 sigmas on 1,000 validation "
        "rows,",
        "10,000 test rows, 784-D. Each method runs in its own process; peak = max resident set "
        "size,",
        "growth = peak minus the resident size once imports and inputs were loaded.",
        "",
        "| method | seconds | × advnets time | test mean ± s.e. | sigma | peak MB | growth MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['seconds']:.1f} | {r['seconds'] / base['seconds']:.1f} | "
            f"{r['mean']:.4f} ± {r['stderr']:.4f} | {r['sigma']:.4f} | {r['peak_mb']:.0f} | "
            f"{r['growth_mb']:.0f} |"
        )
    lines += [
        "",
        "Difference of each test mean from advnets': "
        + ", ".join(f"{r['method']} {r['mean'] - base['mean']:+.2e}" for r in rows if r is not base)
        + " nats.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
