"""Table 1 of the paper, our rows: each preset trained to its default length, scored on the test
set.

    python benchmarks/table1.py --preset mnist-paper --preset mnist-fast \\
        --seed 0 --seed 1 --seed 2 --runs runs/time_to_quality --jobs 2 --threads 1
    python benchmarks/table1.py --preset fashion-mnist-paper --seed 0 --runs runs/table1 \\
        --out-name table1_fashion

Each (preset, seed) run lives in RUNS/PRESET-sSEED. A run that exists (for instance one that
benchmarks/time_to_quality.py stopped when it first reached 225) is resumed up to the preset's
default `train.epochs`; training is deterministic, so the result is the one a fresh
`advnets train --preset PRESET --train.seed SEED` gives. A missing run is trained from scratch.
Then the final checkpoint is scored with the paper's protocol (Parzen, 10,000 samples, sigma on
validation images 0-999, all 10,000 test images) and the classifier metrics (FID, precision and
recall, KID, classifier score, label histogram), from the model the preset samples (the moving
average of G where the preset keeps one) and from the last iterate. Output:
benchmarks/results/OUT_NAME.md and .json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from pathlib import Path

import torch

from advnets import checkpoint
from advnets import config as cfgmod
from advnets.evaluate import evaluate
from advnets.io import atomic_write_text
from advnets.train import loop

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = "parzen,fid,kid,pr,score,labels"


def finish(task: tuple) -> dict:
    preset, seed, runs, threads, data_dir = task
    torch.set_num_threads(threads)
    cfg = cfgmod.load_preset(preset)
    epochs = cfg.train.epochs
    run = Path(runs) / f"{preset}-s{seed}"
    extra = {"data": {"dir": str(data_dir)}} if data_dir else {}
    if checkpoint.complete_checkpoints(run):
        check_reused(run, cfg, seed)
        loop.resume(run, {"train": {"epochs": epochs}, **extra}, progress=False)
    else:
        values = {
            "train": {"seed": seed, "keep_checkpoints": 10_000, "checkpoint_every": None},
            **extra,
        }
        loop.train(cfgmod.apply(cfg, values, source="table1"), run, progress=False)
    step = json.loads((checkpoint.resolve(run) / "state.json").read_text())["step"]
    row = {"preset": preset, "seed": seed, "epochs": epochs, "step": step, "run": str(run)}
    row["model"] = {
        k: _short(v)
        for k, v in evaluate(run, METRICS, data_dir=data_dir, progress=False).metrics.items()
    }
    if cfg.average.kind != "none":
        last = evaluate(run, METRICS, data_dir=data_dir, progress=False, last_iterate=True).metrics
        row["last_iterate"] = {k: _short(v) for k, v in last.items()}
    print(
        f"{preset} seed {seed}: {epochs} epochs, Parzen {row['model']['parzen']['mean']:.1f}",
        flush=True,
    )
    return row


# Fields that do not change what a run computes: how long it trains (resumed to the preset's
# length), what it writes along the way, and where it reads its data from.
NOT_TRAINING = {
    "train.epochs",
    "train.max_steps",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.log_every",
    "train.sample_every",
    "train.tensorboard",
    "data.dir",
    "data.download",
}


def check_reused(run: Path, cfg: cfgmod.Config, seed: int) -> None:
    """Refuse to score a run folder trained with another setting than PRESET at SEED."""
    expected = cfgmod.apply(cfg, {"train": {"seed": seed}}, source="table1")
    differ = [
        f
        for f in cfgmod.changed_fields(expected, cfgmod.load_json(run / "config.json"))
        if f not in NOT_TRAINING
    ]
    if differ:
        raise SystemExit(
            f"{run} was trained with another config than its preset ({', '.join(differ)} "
            f"{'differs' if len(differ) == 1 else 'differ'}): move it away or give --runs a new "
            "folder"
        )


def _short(metric: dict) -> dict:
    return {
        k: v
        for k, v in metric.items()
        if k not in ("valid_means", "samples_histogram", "data_histogram")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", action="append", required=True)
    parser.add_argument("--seed", type=int, action="append", default=None)
    parser.add_argument("--runs", default="runs/table1")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs finished at once, one process each"
    )
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads per run"
    )
    parser.add_argument("--out-name", default="table1")
    args = parser.parse_args()

    seeds = args.seed or [0]
    tasks = [(p, s, args.runs, args.threads, args.data_dir) for p in args.preset for s in seeds]
    if args.jobs > 1:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            rows = pool.map(finish, tasks, chunksize=1)
    else:
        rows = [finish(t) for t in tasks]

    command = (
        f"python benchmarks/table1.py {' '.join('--preset ' + p for p in args.preset)} "
        f"{' '.join(f'--seed {s}' for s in seeds)} --runs {args.runs} --out-name {args.out_name} "
        f"--threads {args.threads}"
    )  # CPU results are bit-identical only at the same thread count
    lines = [
        f"# Table 1, our rows ({time.strftime('%Y-%m-%d')}, torch {torch.__version__})",
        "",
        (
            f"Command: `{command}`. Test set, the paper's Parzen protocol; classifier metrics "
            "against the "
            "10,000 test images (advnets' shipped classifier of the data set)."
        ),
        "",
        (
            "| preset | seed | epochs | Parzen (test) | sigma | FID | KID | precision | recall | "
            "score "
            "| label TV | last iterate: Parzen | last iterate: FID |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m, li = r["model"], r.get("last_iterate")
        lines.append(
            f"| {r['preset']} | {r['seed']} | {r['epochs']} | {m['parzen']['mean']:.1f} ± "
            f"{m['parzen']['stderr']:.1f} "
            f"| {m['parzen']['sigma']:.3f} | {m['fid']['value']:.1f} | {m['kid']['value']:.3f} "
            f"| {m['pr']['precision']:.3f} "
            f"| {m['pr']['recall']:.3f} | {m['score']['value']:.2f} | {m['labels']['value']:.3f} "
            + (
                f"| {li['parzen']['mean']:.1f} ± {li['parzen']['stderr']:.1f} | "
                f"{li['fid']['value']:.1f} |"
                if li
                else "| | |"
            )
        )
    lines += [
        "",
        "| preset | seeds | Parzen: mean over seeds | sd over seeds | FID: mean over seeds |",
        "|---|---|---|---|---|",
    ]
    for p in args.preset:
        mine = [r for r in rows if r["preset"] == p]
        ll = [r["model"]["parzen"]["mean"] for r in mine]
        fid = [r["model"]["fid"]["value"] for r in mine]
        sd = f"{statistics.stdev(ll):.1f}" if len(ll) > 1 else ""
        lines.append(
            f"| {p} | {len(mine)} | {statistics.mean(ll):.1f} | {sd} | {statistics.mean(fid):.1f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / f"{args.out_name}.md", "\n".join(lines) + "\n")
    atomic_write_text(RESULTS / f"{args.out_name}.json", json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
