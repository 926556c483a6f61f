"""Colour images: `images-dcgan` before and after tuning, with and without DiffAugment, on
Twemoji at 32 x 32, measured by Inception-v3 FID, KID and precision/recall against the test
split, beside the data's own row (training images against the same test images).

    python benchmarks/colour.py --seeds 0,1,2 --runs runs/colour \\
        --out benchmarks/results/colour.md --grids docs/figures

Each run trains on the 2,649 training images (data.source = twemoji): the untuned rows for the
5,000 generator steps `advnets train --data FOLDER` gave before tuning, the tuned ones for the
15,000 it gives now. Rows whose configs differ only in length share one run, trained to the
longest and measured at the checkpoint of each row's length (a checkpoint at step N holds the
weights of an N-step run, bit for bit). Minutes are the time in training steps up to that
length, from the step rates in the run's metrics.jsonl (one process with the machine's threads).

Every measured row is kept as a record in benchmarks/results/colour.json (its config's digest,
seed, steps, metrics, minutes and the advnets commit), and the table is made from the records:
a row whose record matches the config this code would train is not trained again, so the
seeds can be measured on different days and machines. A record whose config no longer matches
(the preset changed) is set aside and that run trained anew. A run already in --runs is kept
(an unfinished one is resumed) and measured again: its rows' records are replaced. Needs the
inception extra and the Twemoji folder under $ADVNETS_DATA.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from advnets.data.sniff import IMAGE_STEPS
from advnets.data.sources import LICENCES

STEPS = 5_000  # the length of a `--data` run of images before tuning
TRAIN_IMAGES = 2_649
BATCH = 64
EPOCHS = math.ceil(STEPS / (TRAIN_IMAGES // BATCH))
STEPS_PER_EPOCH = TRAIN_IMAGES // BATCH
TUNED_EPOCHS = math.ceil(IMAGE_STEPS / STEPS_PER_EPOCH)  # what `--data` gives the set
DIFFAUGMENT = ["--augment.policy", "color,translation,cutout"]
# images-dcgan before tuning, field by field, so that the row stays what it was
UNTUNED = [
    "--generator.hidden", "256,128,64", "--discriminator.hidden", "64,128,256",
    "--discriminator.batch_norm", "true", "--discriminator.spectral_norm", "false",
    "--optim.lr", "0.0002", "--optim.beta1", "0.5", "--optim.beta2", "0.999",
    "--train.objective", "non-saturating", "--train.batch_size", "64",
    "--average.half_life", "500", "--augment.policy", "none", "--train.epochs", str(EPOCHS),
]  # fmt: skip
CONFIGS = {
    "untuned": UNTUNED,
    "untuned + DiffAugment": [*UNTUNED, *DIFFAUGMENT],
    # tried on the way to the tuned preset, and left: worse than untuned + DiffAugment
    "DiffAugment, spectral-norm D, hinge": [
        *UNTUNED,
        *DIFFAUGMENT,
        "--discriminator.batch_norm",
        "false",
        "--discriminator.spectral_norm",
        "true",
        "--train.objective",
        "hinge",
    ],
    "tuned, no augmentation": ["--augment.policy", "none", "--train.epochs", str(TUNED_EPOCHS)],
    "tuned (images-dcgan)": ["--train.epochs", str(TUNED_EPOCHS)],
}
METRICS = "inception-fid,inception-kid,inception-pr"
NAMES = ("FID", "KID x 1000", "precision", "recall")
DIGITS = {"FID": 1, "KID x 1000": 1, "precision": 3, "recall": 3}


BOOK = Path(__file__).parent / "results" / "colour.json"
# fields that say how a run is watched, or how long, not what each step computes: left out of a
# config's digest (a record also names the steps it was measured at, which must be the row's:
# a run's checkpoint at step N holds the same weights as a run of N steps)
WATCHING = ("log_every", "checkpoint_every", "keep_checkpoints", "sample_every", "tensorboard",
            "epochs", "max_steps")  # fmt: skip


def epochs_of(flags: list[str]) -> int:
    return int(flags[flags.index("--train.epochs") + 1])


def slug(name: str) -> str:
    """'untuned + DiffAugment' -> 'untuned-diffaugment'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def command(flags: list[str], seed: int) -> list[str]:
    """The `advnets train` arguments of a run (without --out)."""
    return ["train", "--preset", "images-dcgan", "--data.source", "twemoji",
            "--train.seed", str(seed), *flags]  # fmt: skip


def digest(config: dict) -> str:
    """SHA-256 of a resolved config (Config.to_dict()) without the fields of WATCHING."""
    config = {**config, "train": {k: v for k, v in config["train"].items() if k not in WATCHING}}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def intended(flags: list[str], seed: int) -> str:
    """The digest of the config this code trains for a row and seed, resolved as the CLI does."""
    from advnets.cli import build_parser, resolve_config

    return digest(resolve_config(build_parser().parse_args(command(flags, seed))).to_dict())


def commit() -> str:
    """The advnets commit the runs are measured at (with '+changes' when the tree is not clean)."""

    def git(*a):
        done = subprocess.run(
            ["git", *a], check=False, capture_output=True, text=True, cwd=BOOK.parent
        )
        return done.stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--", "../../src").strip() else "")


def train(run: Path, flags: list[str], seed: int, every: int) -> None:
    """Train (or resume) a run, keeping a checkpoint every `every` steps to its end."""
    base = [sys.executable, "-m", "advnets"]
    if run.is_dir():
        args = [*base, "train", "--no-progress", "--resume", str(run)]
    else:
        keep = math.ceil(STEPS_PER_EPOCH * epochs_of(flags) / every) + 1
        watch = ["--train.checkpoint_every", str(every), "--train.keep_checkpoints", str(keep)]
        args = [*base, *command(flags, seed), *watch, "--no-progress", "--out", str(run)]
    subprocess.run(args, check=True)


def checkpoint_at(run: Path, step: int) -> Path | None:
    """The run's complete checkpoint of `step`, if it has one."""
    from advnets.run import Run

    folder = Run(run).checkpoint_path(step)
    return folder if folder in Run(run).checkpoints() else None


def training_minutes(run: Path, step: int) -> float:
    """Minutes the run spent in its training steps up to `step`, from the step rates of its
    metrics.jsonl (each row: the mean rate of the steps since the row before), so that a row
    measured at a checkpoint of a longer run gets the time of its own length."""
    from advnets.run import Run

    t = Run(run).config().train
    seconds, before = 0.0, 0
    for row in Run(run).metrics(complete=True):
        steps = min(row["step"], step) - before
        if steps <= 0:
            break
        seconds += steps * t.batch_size * t.k / row["images_per_s"]
        before = row["step"]
    return seconds / 60


def evaluated(folder: Path | None, samples: int) -> dict:
    """The evaluation record (subject, metrics) of a checkpoint folder, or of the data; one
    already recorded in its run with these metrics and sample count is reused."""
    from advnets.evaluate import Protocol, evaluate

    protocol = Protocol(samples=samples)
    if folder is None:
        return evaluate(None, METRICS, protocol, reference=True, source="twemoji").to_dict()
    from advnets.run import run_of

    book = run_of(folder).evaluation_path
    if book.is_file():
        entry = json.loads(book.read_text()).get(folder.name, {})
        same = entry.get("protocol", {}).get("samples") == samples
        if same and set(METRICS.split(",")) <= set(entry.get("metrics", {})):
            return entry
    return evaluate(folder, METRICS, protocol).to_dict()


def values(record: dict) -> dict[str, float]:
    metrics = record["metrics"]
    return {
        "FID": metrics["inception-fid"]["value"],
        "KID x 1000": 1000 * metrics["inception-kid"]["value"],
        "precision": metrics["inception-pr"]["precision"],
        "recall": metrics["inception-pr"]["recall"],
    }


def spread(xs: list[float], digits: int) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def grid(folder: Path | None, path: Path) -> None:
    """64 samples of a checkpoint (noise seed 0, not picked), or 64 test images."""
    from advnets.figures.grid import save_grid

    if folder is None:
        from advnets.data import load

        x = load("twemoji", "test").x[:64]
    else:
        from advnets.sample import load_generator

        x = load_generator(folder).sample(64, seed=0)
    save_grid(x.reshape(64, 3, 32, 32), path)


def table(rows: dict[str, list[dict]], floor: dict, args) -> str:
    cols = " | ".join(NAMES)
    lines = [
        "# Colour images: images-dcgan on Twemoji at 32 x 32",
        "",
        f"`python benchmarks/colour.py --seeds {args.seeds}`: {args.samples} samples (the first "
        f"{args.samples} training images for the data's row) against the 947 Twemoji test images, "
        "Inception-v3 features (advnets' network, the FID weights), precision/recall with k = 3, "
        "each run through its average of G. The runs train on the 2,649 training images in "
        f"batches of {BATCH}; minutes: the time in training steps to the row's length on "
        f"{os.cpu_count()} cores, from the run's logged step rates (the records of 83668c4 and "
        "4312fb7: wall time of the whole run, with the machine shared). Each run's record, "
        "with the commit it was measured at, is in colour.json. Mean ± standard deviation over "
        f"the seeds. {LICENCES['twemoji']}.",
        "",
        f"| model | seeds | steps | {cols} | minutes |",
        "|---|---|---|" + "---|" * (len(NAMES) + 1),
        "| the data (training images) | - | - | "
        + " | ".join(f"{floor[n]:.{DIGITS[n]}f}" for n in NAMES)
        + " | - |",
    ]
    for name, results in rows.items():
        cells = " | ".join(spread([r[n] for r in results], DIGITS[n]) for n in NAMES)
        minutes = spread([r["minutes"] for r in results], 0)
        steps = results[0]["steps"]
        lines.append(f"| {name} | {len(results)} | {steps} | {cells} | {minutes} |")
    lines += ["", "Per run:", "", f"| model | seed | {cols} | minutes | commit |"]
    lines.append("|---|---|" + "---|" * (len(NAMES) + 2))
    for name, results in rows.items():
        for r in results:
            cells = " | ".join(f"{r[n]:.{DIGITS[n]}f}" for n in NAMES)
            lines.append(f"| {name} | {r['seed']} | {cells} | {r['minutes']:.0f} | {r['commit']} |")
    if "untuned" in rows and "tuned (images-dcgan)" in rows:
        before = statistics.mean(r["FID"] for r in rows["untuned"])
        after = statistics.mean(r["FID"] for r in rows["tuned (images-dcgan)"])
        lines += [
            "",
            f"Tuned against untuned, mean FID over the seeds: {100 * (1 - after / before):.0f}% "
            "lower.",
        ]
    return "\n".join(lines) + "\n"


def read_book(samples: int) -> dict:
    book = json.loads(BOOK.read_text()) if BOOK.is_file() else {}
    if book.get("samples", samples) != samples:
        raise SystemExit(f"{BOOK} holds records of {book['samples']} samples, not {samples}")
    return {"samples": samples, "data": book.get("data"), "runs": book.get("runs", [])}


def write_book(book: dict) -> None:
    book["runs"].sort(key=lambda r: (r["model"], r["seed"]))
    staging = BOOK.with_suffix(".json.tmp")
    staging.write_text(json.dumps(book, indent=1) + "\n")
    staging.replace(BOOK)  # never a half-written book


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--configs", default=",".join(slug(c) for c in CONFIGS))
    ap.add_argument("--runs", default="runs/colour")
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--out", default=None)
    ap.add_argument("--grids", default=None, help="folder for a sample grid of each seed-0 row")
    ap.add_argument("--no-train", action="store_true", help="report the runs already recorded")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = [name for name in CONFIGS if slug(name) in args.configs.split(",")]
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    book = read_book(args.samples)

    found: dict[tuple[str, int], dict] = {}
    for seed in seeds:
        # rows that differ only in length share one run, measured at each row's checkpoint
        shared: dict[str, list[str]] = {}
        for name in CONFIGS:  # the run is named for the longest of all its rows
            shared.setdefault(intended(CONFIGS[name], seed), []).append(name)
        for want, group in shared.items():
            steps = {name: STEPS_PER_EPOCH * epochs_of(CONFIGS[name]) for name in group}
            longest = max(group, key=steps.get)
            run = runs / f"{slug(longest)}-s{seed}"
            names = [name for name in group if name in wanted]
            if not names:
                continue
            for name in names:
                mine = [r for r in book["runs"] if (r["model"], r["seed"]) == (name, seed)]
                for r in mine:
                    if (r["config"], r["steps"]) == (want, steps[name]):
                        found[name, seed] = r
                    else:
                        print(f"{name}, seed {seed}: the recorded config is not this code's")
                        book["runs"].remove(r)
            trained = run.is_dir() and json.loads((run / "config.json").read_text())
            if trained and (digest(trained), trained["train"]["epochs"]) != (
                    want, epochs_of(CONFIGS[longest])):  # fmt: skip
                raise SystemExit(f"{run} was trained with another config: move it away")
            unfinished = not all(checkpoint_at(run, steps[name]) for name in names)
            missing = any((name, seed) not in found for name in names)
            if not args.no_train and unfinished and (trained or missing):
                train(run, CONFIGS[longest], seed, math.gcd(*steps.values()))
            for name in names:  # a run in --runs is the source of its rows' records
                folder = run.is_dir() and checkpoint_at(run, steps[name])
                if not folder:
                    continue
                measured = evaluated(folder, args.samples)
                minutes = training_minutes(run, steps[name])
                record = {"model": name, "seed": seed, "config": want,
                          "steps": measured["subject"]["step"], **values(measured),
                          "minutes": minutes, "commit": commit()}  # fmt: skip
                if (name, seed) in found:
                    book["runs"].remove(found[name, seed])
                found[name, seed] = record
                book["runs"].append(record)
                write_book(book)
                if args.grids and seed == 0:
                    grid(folder, Path(args.grids) / f"colour-{slug(name)}.png")
    rows: dict[str, list[dict]] = {}
    for name in wanted:
        for seed in seeds:
            if (name, seed) in found:
                rows.setdefault(name, []).append(found[name, seed])
    if book["data"] is None:
        book["data"] = values(evaluated(None, args.samples))
        write_book(book)
    if args.grids:
        grid(None, Path(args.grids) / "colour-data.png")
    text = table(rows, book["data"], args)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
