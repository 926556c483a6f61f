"""`advnets serve` under load: a burst of concurrent sample requests from 127.0.0.1.

    python benchmarks/serve_load.py --out benchmarks/results/serve_load.md

Starts `advnets serve` as its own process on a folder holding one run (a digits-quick run
trained here for a few epochs, or --run RUN), then sends --requests requests for a grid of 64
samples (each a different seed), --concurrency at a time, twice over (two bursts), and reports
the latency percentiles, the requests per second, the refusals, and the server's resident
memory (sampled every 50 ms) before, during and after each burst. Beside it, in the same run,
the baseline: the same pictures drawn in this process with no server (load_generator, sample,
PNG), one at a time; the ratio says what the server's queueing and HTTP add.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def burst(url: str, requests: int, concurrency: int, first_seed: int) -> tuple[list[float], dict]:
    latencies, statuses = [], {}
    lock = threading.Lock()

    def one(seed: int) -> None:
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{url}&seed={seed}", timeout=120) as r:
                r.read()
                status = r.status
        except urllib.error.HTTPError as err:
            status = err.code
        with lock:
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(first_seed, first_seed + requests)))
    return latencies, statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="a run folder to serve (default: train one here)")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        if args.run:
            os.symlink(Path(args.run).resolve(), root / Path(args.run).name)
            name = Path(args.run).name
        else:
            name = "digits-quick"
            subprocess.run([sys.executable, "-m", "advnets", "train", "--preset", "digits-quick",
                            "--train.epochs", "5", "--no-progress", "--out", str(root / name)],
                           check=True, capture_output=True)  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "advnets", "serve", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = server.stdout.readline()
            base = line.split(" at ")[1].split()[0].rstrip("/")
            url = f"{base}/api/entries/{name}/samples.png?n=64"
            urllib.request.urlopen(f"{url}&seed=0", timeout=120).read()  # the generator loaded
            memory = {"idle": rss_mb(server.pid)}
            peaks, stop = [], threading.Event()

            def watch():
                while not stop.is_set():
                    peaks.append(rss_mb(server.pid))
                    time.sleep(0.05)

            results = []
            for b in range(2):
                peaks.clear()
                stop.clear()
                watcher = threading.Thread(target=watch)
                watcher.start()
                start = time.perf_counter()
                latencies, statuses = burst(
                    url, args.requests, args.concurrency, 1 + b * args.requests
                )
                wall = time.perf_counter() - start
                stop.set()
                watcher.join()
                results.append((latencies, statuses, wall, max(peaks), rss_mb(server.pid)))
        finally:
            server.terminate()
            server.wait(timeout=60)

        from advnets.figures.grid import png_bytes, tile
        from advnets.sample import load_generator

        trained = load_generator(root / name)
        direct = []
        for seed in range(1, 1 + min(args.requests, 50)):
            start = time.perf_counter()
            x = trained.sample(64, seed=seed).reshape(64, *trained.image_shape)
            png_bytes(tile(x, scale=max(1, 64 // max(trained.image_shape[-2:]))))
            direct.append(time.perf_counter() - start)

    floor = statistics.median(direct)
    lines = [
        "# advnets serve under load",
        "",
        f"`python benchmarks/serve_load.py{' --run ' + args.run if args.run else ''}`: "
        f"{args.requests} requests for a grid of 64 samples "
        f"({name}, a different seed each), {args.concurrency} at a time, from 127.0.0.1 to "
        f"`advnets serve` in its own process, two bursts; {os.cpu_count()} CPU cores. Baseline: "
        "the same picture drawn in one process without a server, one at a time (median "
        f"{1000 * floor:.1f} ms).",
        "",
        "| burst | answered | refused | requests/s | p50 ms | p90 ms | p99 ms | max ms "
        "| p50 / baseline | server MB: idle | peak | after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b, (lat, statuses, wall, peak, after) in enumerate(results, 1):
        ok = statuses.get(200, 0)
        refused = sum(v for k, v in statuses.items() if k != 200)
        ms = [1000 * x for x in lat]
        lines.append(
            f"| {b} | {ok} | {refused} | {len(lat) / wall:.1f} | {percentile(ms, 0.5):.0f} | "
            f"{percentile(ms, 0.9):.0f} | {percentile(ms, 0.99):.0f} | {max(ms):.0f} | "
            f"{percentile(ms, 0.5) / (1000 * floor):.1f}x | {memory['idle']:.0f} | {peak:.0f} | "
            f"{after:.0f} |"
        )
    lines += [
        "",
        "At most two pictures are drawn at once (the server's generation slots); the others "
        "wait, so a request's latency is mostly its time in the queue: with 8 at a time and 2 "
        "slots, about 4 pictures' worth. The resident memory after the second burst against the "
        "first says whether serving grows without bound.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
