"""Training throughput of the mnist-paper preset on a CUDA device (fp32, bf16 and fp16 autocast)
against the CPU, side by side in one run. One prepared script for a GPU machine:

    python benchmarks/device_throughput.py --data-dir ../shared/data --epochs 1 --cpu-steps 300

Each CUDA setting trains `--epochs` epochs (500 steps each) of a fresh run; the CPU trains
`--cpu-steps` steps (its images/s does not depend on how long it runs). Without a CUDA device the
script says so and measures only the CPU (`--device cpu` runs every setting on the CPU, to test
the script itself).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from advnets import config as cfgmod
from advnets.train.loop import Trainer


def measure(device: str, precision: str, steps: int, run: Path) -> dict:
    config = cfgmod.load_preset("mnist-paper")
    config = cfgmod.apply(
        config,
        {
            "train": {
                "device": device,
                "precision": precision,
                "max_steps": steps,
                "log_every": 50,
                "checkpoint_every": 10 * steps,
            }
        },
        source="benchmark",
    )
    start = time.perf_counter()
    Trainer(config, run, progress=False).run()
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    full = [r for r in rows if not r.get("partial")][1:]  # the first interval holds start-up work
    return {
        "device": device,
        "precision": precision,
        "steps": steps,
        "wall_s": round(wall, 1),
        "images_per_s": round(statistics.median(r["images_per_s"] for r in full)),
        "final_d_loss": rows[-1]["d_loss"],
        "final_g_loss": rows[-1]["g_loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cpu-steps", type=int, default=300)
    parser.add_argument(
        "--device", default="cuda", help="cuda (the point of it) or cpu (to test the script)"
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "device_throughput.md")
    )
    args = parser.parse_args()
    os.environ["ADVNETS_DATA"] = args.data_dir
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure("cpu", "fp32", args.cpu_steps, Path(tmp) / "cpu"))
        if args.device == "cpu" or torch.cuda.is_available():
            for precision in ("fp32", "bf16", "fp16"):
                results.append(
                    measure(args.device, precision, args.epochs * 500, Path(tmp) / precision)
                )
    base = results[0]["images_per_s"]
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
    lines = [
        "# Training throughput of mnist-paper: a CUDA device against the CPU",
        "",
        f"Command: `python benchmarks/device_throughput.py --epochs {args.epochs} --cpu-steps "
        f"{args.cpu_steps}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
        f"threads, {name}, torch {torch.__version__}  ",
        f"Date: {time.strftime('%Y-%m-%d')}",
        "",
        "| device | precision | steps | images/s | × CPU | wall s | final D loss | final G loss |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {r['device']} | {r['precision']} | {r['steps']} | {r['images_per_s']} | "
            f"{r['images_per_s'] / base:.2f} | {r['wall_s']} | {r['final_d_loss']:.3f} | "
            f"{r['final_g_loss']:.3f} |"
            for r in results
        ],
    ]
    if len(results) == 1:
        lines += ["", "This machine has no CUDA device: only the CPU row was measured."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    (Path(args.out).with_suffix(".json")).write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
