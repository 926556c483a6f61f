"""Same seed, same config, same bits: the training of one commit against another's.

For each preset it trains a short run with the code of commit BEFORE (exported with `git archive`)
and with the code of this checkout, one torch thread each, checkpointing half way; it then
resumes BEFORE's half-way checkpoint with this checkout's code. It compares every tensor of the
final checkpoints (weights and training state) and the first 64 samples `advnets sample` draws
from each, bit for bit, and writes a table.

    python benchmarks/bit_identity.py --before c10f164 --out benchmarks/results/bit_identity.md

MNIST presets read the data from $ADVNETS_DATA (or --data-dir).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

PRESETS = (
    "digits-quick",
    "mnist-paper",
    "mnist-semi",
    "mnist-bigan",
    "mnist-conditional",
    "mnist-dcgan",
    "grid-2d",
)
ROOT = Path(__file__).resolve().parents[1]


def export_source(rev: str, dest: Path) -> Path:
    """The package source of commit `rev`, unpacked into `dest`; returns the folder to put on
    PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def environment(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def check_imports_from(src: Path) -> None:
    """`python -m advnets` with this PYTHONPATH runs the code in `src`, not an installed copy."""
    found = subprocess.run(
        [sys.executable, "-c", "import advnets; print(advnets.__file__)"],
        env=environment(src),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(src.resolve()):
        raise RuntimeError(f"advnets imports from {found}, not from {src}")


def advnets(src: Path, *args: str) -> None:
    env = environment(src)
    done = subprocess.run(
        [sys.executable, "-m", "advnets", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,  # the status is checked below, with the command's stderr in the error
    )
    if done.returncode:
        raise RuntimeError(
            f"advnets {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )


def train(src: Path, preset: str, out: Path, steps: int, data_dir: str | None) -> None:
    extra = (
        ["--data-dir", data_dir]
        if data_dir and preset != "digits-quick" and preset != "grid-2d"
        else []
    )
    advnets(
        src,
        "train",
        "--preset",
        preset,
        "--out",
        str(out),
        "--no-progress",
        "--train.max_steps",
        str(steps),
        "--train.checkpoint_every",
        str(steps // 2),
        "--train.keep_checkpoints",
        "10",
        *extra,
    )


def resume(src: Path, run: Path) -> None:
    advnets(src, "train", "--resume", str(run), "--no-progress")


def final_checkpoint(run: Path) -> Path:
    return run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()


def tensors(run: Path) -> dict[str, np.ndarray]:
    folder = final_checkpoint(run)
    return {
        f"{name}:{k}": v
        for name in ("weights", "state")
        for k, v in load_file(str(folder / f"{name}.safetensors")).items()
    }


def samples(src: Path, run: Path) -> np.ndarray:
    path = run.parent / f"{run.name}-samples.npy"
    advnets(src, "sample", str(run), "-n", "64", "--seed", "0", "--npy", str(path))
    return np.load(path, allow_pickle=False)


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    """The names of the tensors that differ in presence, dtype, shape or any bit."""
    bad = sorted(set(a) ^ set(b))
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            bad.append(k)
    return bad


def rewind(run: Path, step: int) -> None:
    """Keep only the checkpoint at `step`, as if the run had stopped there."""
    keep = f"step-{step:08d}"
    for folder in (run / "checkpoints").glob("step-*"):
        if folder.name != keep:
            shutil.rmtree(folder)
    (run / "checkpoints" / "latest").write_text(keep + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the commit to compare against")
    ap.add_argument(
        "--preset", action="append", help=f"(repeatable; default: {', '.join(PRESETS)})"
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=40,
        help="training steps per run, checkpointed half way (default 40)",
    )
    ap.add_argument(
        "--work", default="runs/bit-identity", help="folder for the runs (emptied first)"
    )
    ap.add_argument("--data-dir", default=os.environ.get("ADVNETS_DATA"))
    ap.add_argument("--out", help="markdown file for the table (default: print only)")
    args = ap.parse_args()
    presets = args.preset or list(PRESETS)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    before_src = export_source(args.before, work / "before-code")
    after_src = ROOT / "src"
    for src in (before_src, after_src):
        check_imports_from(src)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,  # outside a git checkout: an empty name
    ).stdout.strip()
    lines = [
        f"# Bit identity: commit {args.before} against {head}",
        "",
        f"`python benchmarks/bit_identity.py --before {args.before} --steps {args.steps}`, one "
        f"torch thread per process. Each run trains {args.steps} steps with a checkpoint at step "
        f"{args.steps // 2}; *resumed* is the old code's step-{args.steps // 2} checkpoint "
        "continued by the new code. Tensors: every tensor of the final checkpoint (weights, "
        "optimiser state, random states, log sums); samples: `advnets sample RUN -n 64 --seed 0`.",
        "",
        "| preset | tensors | straight: differing | resumed: differing | samples (straight, "
        "resumed) |",
        "|---|---|---|---|---|",
    ]
    failures = 0
    for preset in presets:
        t0 = time.perf_counter()
        before, after, resumed = (
            work / "before" / preset,
            work / "after" / preset,
            work / "resumed" / preset,
        )
        train(before_src, preset, before, args.steps, args.data_dir)
        train(after_src, preset, after, args.steps, args.data_dir)
        shutil.copytree(before, resumed)
        rewind(resumed, args.steps // 2)
        resume(after_src, resumed)
        ref = tensors(before)
        straight, again = compare(ref, tensors(after)), compare(ref, tensors(resumed))
        s_ref = samples(before_src, before)
        same = [
            np.array_equal(s_ref, samples(after_src, run)) and s_ref.dtype == np.float32
            for run in (after, resumed)
        ]
        ok = not straight and not again and all(same)
        failures += not ok
        lines.append(
            f"| {preset} | {len(ref)} | {', '.join(straight) or 'none'} | "
            f"{', '.join(again) or 'none'} | "
            f"{'equal' if same[0] else 'DIFFERENT'}, {'equal' if same[1] else 'DIFFERENT'} |"
        )
        print(lines[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)
    lines += ["", "All equal." if not failures else f"{failures} preset(s) differ."]
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    meta = {"before": args.before, "after": head, "failures": failures}
    (work / "summary.json").write_text(json.dumps(meta) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
