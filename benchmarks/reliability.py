"""Fault injection: SIGKILL a training run again and again, at random moments, during start-up,
training and checkpoint writes, resuming it after each kill; then compare its end with a run that
was never interrupted. tests/test_faults.py runs a short campaign in CI; this script runs a longer
one and writes benchmarks/results/reliability.md and .json.

    python benchmarks/reliability.py --kills 60 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from advnets import checkpoint

# a small run with a checkpoint every 5 steps (of about 1,000), so kills often land mid-write
RUN_ARGS = [
    "--data.source",
    "digits",
    "--generator.noise_dim",
    "8",
    "--generator.hidden",
    "32,32",
    "--discriminator.hidden",
    "16,16",
    "--discriminator.pieces",
    "2",
    "--train.batch_size",
    "100",
    "--train.update",
    "alternating",
    "--optim.name",
    "adam",
    "--optim.lr",
    "0.001",
    "--average.kind",
    "ema",
    "--average.half_life",
    "20",
    "--train.log_every",
    "4",
    "--train.checkpoint_every",
    "5",
    "--train.keep_checkpoints",
    "2",
    "--train.sample_every",
    "20",
    "--no-progress",
]
MOMENTS = ("start-up", "training", "checkpoint write")


def command(run: Path, epochs: int) -> list[str]:
    if (run / "config.json").is_file():
        return [sys.executable, "-m", "advnets", "train", "--resume", str(run), "--no-progress"]
    return [
        sys.executable,
        "-m",
        "advnets",
        "train",
        *RUN_ARGS,
        "--train.epochs",
        str(epochs),
        "--out",
        str(run),
    ]


def writing(run: Path) -> bool:
    """Whether a checkpoint is being written (its temporary folder exists)."""
    try:
        return any(name.startswith(".") for name in os.listdir(run / "checkpoints"))
    except OSError:
        return False


def latest(run: Path) -> str | None:
    try:
        return (run / "checkpoints" / "latest").read_text()
    except OSError:
        return None


def kill_at(
    proc: subprocess.Popen, run: Path, moment: str, rng: random.Random, timeout: float = 60.0
) -> bool | None:
    """SIGKILL `proc` at the chosen kind of moment. Returns whether a checkpoint write was under
    way at the kill, or None when the process had already finished."""
    deadline = time.monotonic() + timeout
    if moment == "start-up":
        time.sleep(rng.uniform(0.0, 2.5))
    else:
        before = latest(run)
        while proc.poll() is None and time.monotonic() < deadline:
            if moment == "checkpoint write" and writing(run):
                break
            if (
                moment == "training" and latest(run) != before
            ):  # training has begun: a checkpoint came
                time.sleep(rng.uniform(0.0, 0.15))
                break
    mid_write = writing(run)
    if proc.poll() is not None:
        return None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return mid_write


def check_after_kill(run: Path) -> str | None:
    """What is wrong with the run folder after a kill, or None: the folder is absent or complete,
    and its newest complete checkpoint loads."""
    if not run.exists():
        return None
    if not (run / "config.json").is_file():
        return f"{run} exists without config.json: a half-made run folder"
    try:
        folder = checkpoint.resolve(run)
    except FileNotFoundError:
        return None  # killed before the first checkpoint: the resume starts from step 0
    try:
        checkpoint.load(folder)
    except Exception as err:  # noqa: BLE001 - any failure to load is the finding
        return f"the newest complete checkpoint {folder.name} does not load: {err}"
    return None


def same_end(a: Path, b: Path) -> list[str]:
    """The differences between two finished runs' final checkpoints and logs (none: identical)."""
    ca, cb = checkpoint.resolve(a), checkpoint.resolve(b)
    if ca.name != cb.name:
        return [f"final checkpoints {ca.name} and {cb.name}"]
    diffs = []
    for name in ("weights.safetensors", "state.safetensors"):
        ta, tb = load_file(str(ca / name)), load_file(str(cb / name))
        diffs += [
            f"{name}:{k}"
            for k in ta.keys() | tb.keys()
            if k not in ta or k not in tb or not torch.equal(ta[k], tb[k])
        ]
    rows = [
        [
            {k: v for k, v in json.loads(line).items() if k != "images_per_s"}
            for line in (r / "metrics.jsonl").read_text().splitlines()
        ]
        for r in (a, b)
    ]
    if rows[0] != rows[1]:
        diffs.append("metrics.jsonl")
    return diffs


def campaign(folder: Path, kills: int, seed: int, epochs: int = 60) -> dict:
    """`kills` SIGKILLs of one run, cycling through the kinds of moment; then the comparison."""
    rng = random.Random(seed)
    straight, run = folder / "straight", folder / "killed"
    subprocess.run(command(straight, epochs), check=True, capture_output=True)
    tries = dict.fromkeys(MOMENTS, 0)
    mid_write, problems, launches = 0, [], 0
    done = 0
    while done < kills:
        moment = MOMENTS[launches % len(MOMENTS)]
        launches += 1
        proc = subprocess.Popen(
            command(run, epochs), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        during_write = kill_at(proc, run, moment, rng)
        if during_write is None:  # it finished first: start the run again from the beginning
            if proc.returncode != 0:
                problems.append(f"a resume failed: {proc.stderr.read().decode()[-500:]}")
            proc.stderr.close()
            shutil.rmtree(run)
            continue
        proc.stderr.close()
        done += 1
        tries[moment] += 1
        mid_write += during_write
        problem = check_after_kill(run)
        if problem:
            problems.append(problem)
    final = subprocess.run(command(run, epochs), capture_output=True, text=True, check=False)
    if final.returncode != 0:
        problems.append(f"the final resume failed: {final.stderr[-500:]}")
    differences = same_end(straight, run) if final.returncode == 0 else ["no final checkpoint"]
    return {
        "kills": done,
        "by_moment": tries,
        "during_checkpoint_write": mid_write,
        "launches": launches,
        "problems": problems,
        "final_differences": differences,
        "passes": done - len(problems),
        "identical_to_uninterrupted": not differences,
    }


FAULT_TESTS = {  # test name prefix in tests/test_faults.py -> what it injects
    "test_nan_at_step_k": "NaN injected at step k (stop)",
    "test_nan_with_skip": "NaN injected at step k (skip and count)",
    "test_sigterm": "SIGTERM mid-run",
    "test_full_disk": "ENOSPC during a checkpoint write",
    "test_retention": "corrupted write under keep_last = 1",
    "test_truncated": "truncated checkpoint",
    "test_byte_flipped": "byte-flipped checkpoint",
    "test_checkpoint_of_another_architecture": "checkpoint of another architecture",
    "test_pickle_payload": "pickle with a code-executing payload",
    "test_safetensors_file_with_a_lying_header": "safetensors with a lying header",
}


REFUSAL_TESTS = {  # (test file, test name prefix) -> the bad input it gives
    ("test_refusals.py", "test_integer_images"): "integer images of any dtype: read as pixels",
    ("test_refusals.py", "test_images_out_of_their_range"): "images out of range, NaN: refused",
    ("test_refusals.py", "test_points_beyond_float32"): "points beyond float32: refused",
    (
        "test_refusals.py",
        "test_a_file_that_is_not_numpy",
    ): "a text file named .npz; pickled objects",
    ("test_refusals.py", "test_transparent_pixels"): "transparent images: composited, said once",
    ("test_refusals.py", "test_float_fields_must_be_finite"): "inf and NaN config values",
    ("test_refusals.py", "test_train_checks_a_config"): "a config edited in Python",
    ("test_refusals.py", "test_a_checkpoint_without_its_manifest"): "a checkpoint without manifest",
    ("test_refusals.py", "test_a_replaced_file"): "a replaced state.json, not 'truncated'",
    ("test_refusals.py", "test_npy_samples_stream"): "-n 25,000 --npy: streamed in blocks",
    ("test_refusals.py", "test_a_png_grid_has_a_size_limit"): "-n beyond a PNG grid's size",
    ("test_refusals.py", "test_resume_refuses_out"): "--resume with --out; --data MISSING",
    ("test_refusals.py", "test_a_used_folder"): "a used folder that is not a run",
    ("test_refusals.py", "test_a_closed_pipe"): "output piped into a closed reader",
    (
        "test_refusals.py",
        "test_progress_to_a_file",
    ): "progress into a file; a run shorter than an epoch",
    ("test_refusals.py", "test_ctrl_c_at_any_moment"): "Ctrl-C at moments of start-up",
    ("test_errors.py", "test_abbreviated_flags"): "abbreviated flags (--train.epoch)",
    ("test_properties.py", "test_config_values"): "random config values (Hypothesis, 60 each)",
    ("test_properties.py", "test_float_fields"): "random float values (Hypothesis)",
    ("test_properties.py", "test_toml_documents"): "random TOML documents (Hypothesis)",
    ("test_properties.py", "test_arrays_load"): "random arrays: dtypes, shapes, NaN (Hypothesis)",
    ("test_properties.py", "test_image_folders"): "random image folders in 9 modes (Hypothesis)",
    ("test_properties.py", "test_a_config_file_that_is_not"): "a binary or repeated-table TOML",
    ("test_run.py", "test_a_run_is_trained_by_one_process"): "two processes on one run; SIGKILL",
    ("test_run.py", "test_the_lock_is_held"): "two Trainers on one run in one process",
}


def count_tests(file: str, kinds: dict[str, str], exclude: str | None = None):
    """Run the tests of `file` (pytest) and count tries and passes per kind of case."""
    import xml.etree.ElementTree as ET

    tests = Path(__file__).parents[1] / "tests" / file
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "faults.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                str(tests),
                *(["-k", f"not {exclude}"] if exclude else []),
                f"--junitxml={xml}",
            ],
            capture_output=True,
            check=False,
        )
        cases = ET.parse(xml).getroot().iter("testcase")
        outcomes = [
            (c.get("name"), not any(child.tag in ("failure", "error", "skipped") for child in c))
            for c in cases
        ]
    counts = []
    for prefix, label in kinds.items():
        mine = [ok for name, ok in outcomes if name.startswith(prefix)]
        counts.append((label, len(mine), sum(mine)))
    return counts


def fault_tests() -> list[tuple[str, int, int]]:
    return count_tests("test_faults.py", FAULT_TESTS, exclude="sigkills")


def refusal_tests() -> list[tuple[str, int, int]]:
    counts = []
    for file in dict.fromkeys(f for f, _ in REFUSAL_TESTS):
        cases = {prefix: label for (f, prefix), label in REFUSAL_TESTS.items() if f == file}
        counts += [(f"{label} ({file})", t, p) for label, t, p in count_tests(file, cases)]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="runs/reliability")
    parser.add_argument("--results", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    start = time.perf_counter()
    report = campaign(work, args.kills, args.seed)
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["fault_tests"] = [{"fault": f, "tries": t, "passes": p} for f, t, p in fault_tests()]
    report["refusal_tests"] = [{"input": f, "tries": t, "passes": p} for f, t, p in refusal_tests()]
    results = Path(args.results)
    (results / "reliability.json").write_text(json.dumps(report, indent=1) + "\n")
    kills = report["by_moment"]
    identical = (
        "yes"
        if report["identical_to_uninterrupted"]
        else "NO: " + ", ".join(report["final_differences"])
    )
    lines = [
        "# Reliability: fault injection",
        "",
        f"Command: `python benchmarks/reliability.py --kills {args.kills} --seed {args.seed}` "
        f"({report['seconds']} s)  ",
        f"Machine: {os.cpu_count()} cores, torch {torch.__version__}  ",
        f"Date: {time.strftime('%Y-%m-%d')}",
        "",
        "## SIGKILL at random moments, resuming after each",
        "",
        "A run of about 1,000 steps (digits, a checkpoint every 5 steps, keep the last 2, an "
        "average of G) is killed with SIGKILL, resumed, killed again, until the count is reached, "
        "then resumed to its end and compared with the same run trained without interruption.",
        "",
        "| moment of the kill | kills |",
        "|---|---|",
        *[f"| {moment} | {count} |" for moment, count in kills.items()],
        f"| all (of which inside a checkpoint write) | {report['kills']} "
        f"({report['during_checkpoint_write']}) |",
        "",
        "- After every kill, the run folder was absent or complete and its newest complete "
        f"checkpoint loaded: **{report['passes']} of {report['kills']}**.",
        f"- Launches: {report['launches']} (a launch whose run ended before its kill starts the "
        "run again).",
        "- The resumed run's final weights, optimiser and random states and log equal the "
        f"uninterrupted run's bit for bit: **{identical}**.",
        *[f"- Problem: {p}" for p in report["problems"]],
        "",
        "## The other faults (tests/test_faults.py)",
        "",
        "| fault | tries | passes |",
        "|---|---|---|",
        *[f"| {f['fault']} | {f['tries']} | {f['passes']} |" for f in report["fault_tests"]],
        "",
        "## Bad input and misuse, refused or handled as documented",
        "",
        "| case | tries | passes |",
        "|---|---|---|",
        *[f"| {f['input']} | {f['tries']} | {f['passes']} |" for f in report["refusal_tests"]],
    ]
    (results / "reliability.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
