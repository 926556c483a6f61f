"""Mode coverage on the 2-D toys with the PacGAN code's protocol (advnets.metrics.modes): ring-2d
(8 Gaussians, radius 1, sd 0.01) and grid-2d (25 Gaussians on {-4, -2, 0, 2, 4}^2, sd 0.05);
2,500 samples; a sample is high-quality within 3 sd of its nearest mode; a mode is covered when it
is the nearest mode of a high-quality sample; 10 seeds.

Each setting is a preset plus command-line fields; every (setting, toy, seed) is trained with
`advnets train` and measured with `advnets evaluate --metric modes`. Finished runs are reused,
so the script can be stopped and started again. Writes benchmarks/results/mode_coverage.md and
.json:

    python benchmarks/mode_coverage.py --runs runs/modes [--seeds 10] [--settings vanilla,pac4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from advnets.io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = {  # Lin et al. (2018), Table 2 (10 seeds each): modes (of 8 / 25) and high-quality %
    "ring-2d": {"GAN": (6.3, None), "PacGAN4": (7.8, 95.9)},
    "grid-2d": {"GAN": (17.3, None), "PacGAN4": (24.8, 93.6)},
}
# setting -> toy -> (preset, extra fields)
SETTINGS = {
    # the paper's GAN as advnets ships it for the toys: MLP G, maxout D, non-saturating objective
    "vanilla": {"ring-2d": ("ring-2d", []), "grid-2d": ("grid-2d", [])},
    # the same with D judging packs of 4 samples (PacGAN4)
    "pac4": {"ring-2d": ("ring-2d-pac", []), "grid-2d": ("grid-2d-pac", [])},
}


def run_one(root: Path, setting: str, toy: str, seed: int) -> dict:
    preset, extra = SETTINGS[setting][toy]
    run = root / setting / f"{toy}-s{seed}"
    if not (run / "checkpoints" / "latest").exists():
        if run.exists():
            cmd = [sys.executable, "-m", "advnets", "train", "--resume", str(run), "--no-progress"]
        else:
            cmd = [sys.executable, "-m", "advnets", "train", "--preset", preset, *extra, "--train.seed", str(seed),
                   "--out", str(run), "--no-progress"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        print(f"{setting} {toy} seed {seed}: trained in {time.perf_counter() - start:.0f} s", flush=True)
    out = run / "modes.json"
    subprocess.run([sys.executable, "-m", "advnets", "evaluate", str(run), "--metric", "modes", "--samples", "2500",
                    "--no-progress", "--out", str(out)], check=True, capture_output=True, text=True)
    return json.loads(out.read_text())["metrics"]["modes"]


def summarise(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/modes", help="folder of the runs (reused when present)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--toys", default="ring-2d,grid-2d")
    args = ap.parse_args()
    root = Path(args.runs)
    table: dict = {}
    for setting in args.settings.split(","):
        for toy in args.toys.split(","):
            rows = [run_one(root, setting, toy, seed) for seed in range(args.seeds)]
            table.setdefault(setting, {})[toy] = {
                "preset": SETTINGS[setting][toy][0], "extra": SETTINGS[setting][toy][1],
                "modes": [r["modes"] for r in rows], "of": rows[0]["of"],
                "high_quality": [r["high_quality"] for r in rows]}
    atomic_write_text(RESULTS / "mode_coverage.json", json.dumps({"settings": table, "published": PUBLISHED},
                                                                    indent=1))
    lines = ["# Mode coverage on the 2-D toys (PacGAN protocol)", "",
             (f"2,500 samples per run, {args.seeds} seeds each (0-{args.seeds - 1}); mean ± sd over seeds. "
              "Produced by `python benchmarks/mode_coverage.py` (docs/recipes.md, \"Mode coverage\")."), "",
             "| setting | toy | preset | modes covered | every seed all modes | high-quality samples | lowest |",
             "|---|---|---|---|---|---|---|"]
    for setting, toys in table.items():
        for toy, t in toys.items():
            m, m_sd = summarise(t["modes"])
            hq, hq_sd = summarise([100 * v for v in t["high_quality"]])
            full = sum(v == t["of"] for v in t["modes"])
            lines.append(f"| {setting} | {toy} | `{t['preset']}` | {m:.1f} ± {m_sd:.1f} / {t['of']} | "
                         f"{full} of {len(t['modes'])} | {hq:.1f} ± {hq_sd:.1f}% | {100 * min(t['high_quality']):.1f}% |")
    lines += ["", "Published (Lin et al., 2018, Table 2, their architecture): "
              + "; ".join(f"{toy}: " + ", ".join(f"{name} {m} modes" + (f" ({hq}% high-quality)" if hq else "")
                                                 for name, (m, hq) in rows.items())
                          for toy, rows in PUBLISHED.items()), ""]
    atomic_write_text(RESULTS / "mode_coverage.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
