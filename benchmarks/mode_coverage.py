"""Mode coverage on the 2-D toys with the PacGAN code's protocol (advnets.metrics.modes): ring-2d
(8 Gaussians, radius 1, sd 0.01) and grid-2d (25 Gaussians on {-4, -2, 0, 2, 4}^2, sd 0.05);
2,500 samples; a sample is high-quality within 3 sd of its nearest mode; a mode is covered when it
is the nearest mode of a high-quality sample; 10 seeds.

Each (toy, seed) is one run, `advnets train --preset TOY --train.seed SEED`, measured twice with
`advnets evaluate --metric modes`: the trained G itself (`--last-iterate`: the paper's objective
and Algorithm 1, with grid-2d's R1 penalty on D) and the average of G's weights the preset samples
from (average.half_life). The average changes nothing in training, so the two rows differ only in
the model that is sampled. Finished runs are reused, so the script can be stopped and started again;
a run folder whose config is not the one asked for is refused, naming the fields that differ.
`--set FIELD=VALUE` changes the presets (for instance `--set penalty.r1=0` for the paper's GAN
without the grid preset's penalty). Writes benchmarks/results/OUT_NAME.md and .json:

    python benchmarks/mode_coverage.py --runs runs/modes [--seeds 10] [--toys ring-2d,grid-2d] \
        [--set FIELD=VALUE ...] [--out-name mode_coverage] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from advnets import config as cfgmod
from advnets.io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = {  # Lin et al. (2018), Table 2 (10 seeds each): modes (of 8 / 25) and high-quality %
    "ring-2d": {"GAN": (6.3, None), "PacGAN4": (7.8, 95.9)},
    "grid-2d": {"GAN": (17.3, None), "PacGAN4": (24.8, 93.6)},
}
MODELS = {
    "the trained G (last iterate)": True,
    "the average of G (the preset)": False,
}  # name -> --last-iterate


def expected_config(toy: str, seed: int, sets: dict[str, dict[str, str]]) -> cfgmod.Config:
    values = {**sets, "train": {**sets.get("train", {}), "seed": str(seed)}}
    return cfgmod.apply(cfgmod.load_preset(toy), values, source="--set", from_text=True)


def run_one(root: Path, toy: str, seed: int, sets: dict[str, dict[str, str]], threads: int) -> dict:
    """{model name: the modes metric} of one seed's run."""
    run = root / f"{toy}-s{seed}"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
    }  # CPU results repeat at the same thread count
    if (run / "config.json").is_file():
        differ = cfgmod.changed_fields(
            expected_config(toy, seed, sets), cfgmod.load_json(run / "config.json")
        )
        if differ:
            raise SystemExit(
                f"{run} was trained with another config ({', '.join(differ)} "
                f"{'differs' if len(differ) == 1 else 'differ'} from the preset "
                f"{toy} with {' '.join(train_flags(sets)) or 'no --set'}): give --runs a new folder"
            )
        # a finished run resumes to nothing in a few seconds; an interrupted one is finished
        cmd = [sys.executable, "-m", "advnets", "train", "--resume", str(run), "--no-progress"]
    else:
        cmd = [
            sys.executable,
            "-m",
            "advnets",
            "train",
            "--preset",
            toy,
            "--train.seed",
            str(seed),
            "--out",
            str(run),
            "--no-progress",
            *train_flags(sets),
        ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    print(
        f"{toy} seed {seed}: trained or resumed in {time.perf_counter() - start:.0f} s", flush=True
    )
    out = {}
    for name, last in MODELS.items():
        path = run / f"modes{'-last-iterate' if last else ''}.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "advnets",
                "evaluate",
                str(run),
                "--metric",
                "modes",
                "--samples",
                "2500",
                "--no-progress",
                "--out",
                str(path),
                *(["--last-iterate"] if last else []),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        out[name] = json.loads(path.read_text())["metrics"]["modes"]
    return out


def train_flags(sets: dict[str, dict[str, str]]) -> list[str]:
    """The --set fields as `advnets train` arguments: [--SECTION.FIELD, VALUE, ...]."""
    return [
        arg
        for sec, fields in sets.items()
        for key, value in fields.items()
        for arg in (f"--{sec}.{key}", value)
    ]


def parse_sets(items: list[str]) -> dict[str, dict[str, str]]:
    sets: dict[str, dict[str, str]] = {}
    for item in items:
        path, eq, value = item.partition("=")
        sec, dot, key = path.partition(".")
        if not (eq and dot and key):
            raise SystemExit(f"--set {item!r}: expected SECTION.FIELD=VALUE, such as penalty.r1=0")
        if path == "train.seed":
            raise SystemExit(
                "--set train.seed: each run's seed is its index; use --seeds N for seeds 0 to N-1"
            )
        sets.setdefault(sec, {})[key] = value
    return sets


def summarise(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", default="runs/modes", help="folder of the runs (reused when present)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--toys", default="ring-2d,grid-2d")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a field of the presets changed, such as penalty.r1=0 (repeatable)",
    )
    ap.add_argument("--out-name", default="mode_coverage", help="name of the results files")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads of each run (OMP_NUM_THREADS)"
    )
    args = ap.parse_args()
    sets = parse_sets(args.set)
    root = Path(args.runs)
    table: dict = {}
    for toy in args.toys.split(","):
        try:  # a bad --set stops here, before any training
            expected_config(toy, 0, sets)
        except cfgmod.ConfigError as e:
            raise SystemExit(str(e)) from None
        runs = [run_one(root, toy, seed, sets, args.threads) for seed in range(args.seeds)]
        for name in MODELS:
            rows = [r[name] for r in runs]
            table.setdefault(toy, {})[name] = {
                "modes": [r["modes"] for r in rows],
                "of": rows[0]["of"],
                "high_quality": [r["high_quality"] for r in rows],
            }
    command = " ".join(
        [
            "python benchmarks/mode_coverage.py --runs",
            args.runs,
            "--seeds",
            str(args.seeds),
            "--toys",
            args.toys,
            *[f"--set {item}" for item in args.set],
            "--out-name",
            args.out_name,
            "--threads",
            str(args.threads),
        ]
    )
    atomic_write_text(
        RESULTS / f"{args.out_name}.json",
        json.dumps({"command": command, "toys": table, "published": PUBLISHED}, indent=1),
    )
    lines = [
        "# Mode coverage on the 2-D toys (PacGAN protocol)",
        "",
        (
            f"2,500 samples per run, {args.seeds} seeds each (0-{args.seeds - 1}); mean ± sd over "
            "seeds. Both rows "
            "of a toy are the same runs (`advnets train --preset TOY --train.seed "
            f"S{''.join(' ' + a for a in train_flags(sets))}`), "
            "sampled from the trained G "
            f'and from the average of its weights. Produced by `{command}` (docs/recipes.md, "Mode '
            'coverage").'
        ),
        "",
        "| toy | model | modes covered | seeds with every mode | high-quality samples | lowest |",
        "|---|---|---|---|---|---|",
    ]
    for toy, models in table.items():
        for name, t in models.items():
            m, m_sd = summarise(t["modes"])
            hq, hq_sd = summarise([100 * v for v in t["high_quality"]])
            full = sum(v == t["of"] for v in t["modes"])
            lines.append(
                f"| {toy} | {name} | {m:.1f} ± {m_sd:.1f} / {t['of']} | {full} of "
                f"{len(t['modes'])} | "
                f"{hq:.1f} ± {hq_sd:.1f}% | {100 * min(t['high_quality']):.1f}% |"
            )
    lines += [
        "",
        "Published (Lin et al., 2018, Table 2, their architecture): "
        + "; ".join(
            f"{toy}: "
            + ", ".join(
                f"{name} {m} modes" + (f" ({hq}% high-quality)" if hq else "")
                for name, (m, hq) in rows.items()
            )
            for toy, rows in PUBLISHED.items()
        ),
        "",
    ]
    atomic_write_text(RESULTS / f"{args.out_name}.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
