"""Wall time until a preset's samples first reach a Parzen log-likelihood target (Table 1's 225).

    python benchmarks/time_to_quality.py --preset mnist-paper --preset mnist-fast \\
        --seed 0 --seed 1 --seed 2 --jobs 2 --threads 1 --data-dir DATA

Each preset trains in chunks of `--eval-every` epochs (a run started, then resumed chunk by chunk,
so the timed wall time includes start-up, sample grids and checkpoints, as a user sees it). After
each chunk the checkpoint is scored, untimed, on the validation protocol: sigma chosen from
logspace(-1, 0, 10) on validation images 0-999 (train 50,000-50,999), the mean log-likelihood of
validation images 1,000-9,999, 10,000 samples; the test set is not touched while searching. When a
preset first reaches the target, that checkpoint is also scored on the test set (the paper's
protocol). Progress is kept in RUNS/PRESET-sSEED/time_to_quality.json, so an interrupted benchmark
continues where it stopped. Output: benchmarks/results/time_to_quality.md.

The (preset, seed) runs go to `--jobs` worker processes, each with `--threads` torch threads, so
on a 2-core machine `--jobs 2 --threads 1` trains two runs side by side, every run under the same
conditions (one core each); `--jobs 1 --threads 2` gives one run both cores at a time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path

import torch

from advnets import config as cfgmod
from advnets.evaluate import Protocol, evaluate
from advnets.io import atomic_write_text
from advnets.train import loop

RESULTS = Path(__file__).resolve().parent / "results" / "time_to_quality.md"
VALID = Protocol(split="valid", split_start=1000)


def run_preset(
    preset: str, runs: Path, seed: int, target: float, every: int, max_epochs: int, data_dir
) -> dict:
    run = runs / f"{preset}-s{seed}"
    progress_file = run / "time_to_quality.json"
    state = (
        json.loads(progress_file.read_text())
        if progress_file.is_file()
        else {
            "preset": preset,
            "seed": seed,
            "target": target,
            "train_seconds": 0.0,
            "points": [],
            "reached": None,
        }
    )
    epochs = state["points"][-1]["epoch"] if state["points"] else 0
    while state["reached"] is None and epochs < max_epochs:
        epochs = min(epochs + every, max_epochs)
        start = time.perf_counter()
        if epochs == every and not run.exists():
            cfg = cfgmod.load_preset(preset)
            values = {
                "train": {
                    "seed": seed,
                    "epochs": epochs,
                    "keep_checkpoints": 10_000,
                    "sample_every": every,
                }
            }
            if data_dir:
                values["data"] = {"dir": str(data_dir)}
            loop.train(cfgmod.apply(cfg, values, source="time_to_quality"), run, progress=False)
        else:
            loop.resume(run, {"train": {"epochs": epochs}}, progress=False)
        state["train_seconds"] += time.perf_counter() - start
        score = evaluate(run, "parzen", VALID, data_dir=data_dir, progress=False).metrics["parzen"]
        state["points"].append(
            {
                "epoch": epochs,
                "train_seconds": round(state["train_seconds"], 1),
                "valid_parzen": round(score["mean"], 2),
                "sigma": score["sigma"],
            }
        )
        print(
            f"{preset} seed {seed}: epoch {epochs}, {state['train_seconds']:.0f} s, "
            f"validation Parzen {score['mean']:.1f}",
            flush=True,
        )
        if score["mean"] >= target:
            test = evaluate(run, "parzen", Protocol(), data_dir=data_dir, progress=False).metrics[
                "parzen"
            ]
            state["reached"] = {
                **state["points"][-1],
                "test_parzen": round(test["mean"], 2),
                "test_stderr": round(test["stderr"], 2),
                "test_sigma": test["sigma"],
            }
        atomic_write_text(progress_file, json.dumps(state, indent=2) + "\n")
    return state


def _worker(args: tuple) -> dict:
    preset, seed, threads, runs, target, every, max_epochs, data_dir = args
    torch.set_num_threads(threads)
    return run_preset(preset, Path(runs), seed, target, every, max_epochs, data_dir)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset",
        action="append",
        required=True,
        help=(
            "a preset, or PRESET:EPOCHS to evaluate it every EPOCHS epochs instead of --eval-every"
        ),
    )
    parser.add_argument("--seed", type=int, action="append", default=None)
    parser.add_argument("--target", type=float, default=225.0)
    parser.add_argument(
        "--eval-every", type=int, default=5, help="epochs between evaluations (default 5)"
    )
    parser.add_argument("--max-epochs", type=int, default=1000)
    parser.add_argument("--runs", default="runs/time_to_quality")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once, one process each (default 1)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch threads of each run (default: all)",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    presets = [
        (p.split(":")[0], int(p.split(":")[1]) if ":" in p else args.eval_every)
        for p in args.preset
    ]
    tasks = [
        (p, s, args.threads, args.runs, args.target, every, args.max_epochs, args.data_dir)
        for p, every in presets
        for s in (args.seed or [0])
    ]
    if args.jobs > 1:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            states = pool.map(_worker, tasks, chunksize=1)
    else:
        states = [_worker(t) for t in tasks]
    lines = [
        f"# Time to a Parzen log-likelihood of {args.target:g} (validation protocol)",
        "",
        (
            "Command: `python benchmarks/time_to_quality.py "
            f"{' '.join('--preset ' + p for p in args.preset)} "
            f"{' '.join(f'--seed {s}' for s in (args.seed or [0]))} --jobs {args.jobs} --threads "
            f"{args.threads}` "
            f"({time.strftime('%Y-%m-%d')}, torch {torch.__version__}, {os.cpu_count()} cores: "
            f"{args.jobs} run(s) at once, "
            f"{args.threads} thread(s) each); "
            f"evaluated every {', '.join(f'{e} epochs ({p})' for p, e in presets)}, at most "
            f"{args.max_epochs} epochs."
        ),
        "",
        "| preset | seed | reached at epoch | training wall time | validation Parzen | test "
        "Parzen (paper protocol) |",
        "|---|---|---|---|---|---|",
    ]
    for s in states:
        r = s["reached"]
        if r:
            lines.append(
                f"| {s['preset']} | {s['seed']} | {r['epoch']} | {r['train_seconds'] / 60:.1f} min "
                "| "
                f"{r['valid_parzen']:.1f} | {r['test_parzen']:.1f} ± {r['test_stderr']:.1f} |"
            )
        else:
            best = max(s["points"], key=lambda p: p["valid_parzen"])
            lines.append(
                f"| {s['preset']} | {s['seed']} | not within {s['points'][-1]['epoch']} epochs | "
                f"{s['train_seconds'] / 60:.1f} min | best {best['valid_parzen']:.1f} (epoch "
                f"{best['epoch']}) | |"
            )
    base = None
    lines += [
        "",
        "| preset | median training wall time to the target | vs the first preset |",
        "|---|---|---|",
    ]
    for p, _ in presets:
        times = [s["reached"]["train_seconds"] for s in states if s["preset"] == p and s["reached"]]
        if len(times) < sum(s["preset"] == p for s in states):
            lines.append(f"| {p} | not reached by every seed | |")
            continue
        median = statistics.median(times)
        base = base or median
        lines.append(f"| {p} | {median / 60:.1f} min | {median / base:.2f}x |")
    lines += ["", "Every evaluation:", ""]
    for s in states:
        lines.append(
            f"- {s['preset']} seed {s['seed']}: "
            + ", ".join(f"{p['epoch']}: {p['valid_parzen']:.0f}" for p in s["points"])
        )
    lines.append("")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
