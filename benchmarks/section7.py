"""The paper's section 7 extensions: a table of what the commands measured on trained runs;
writes benchmarks/results/section7.md and section7.json. It reads the files those commands
write in the run folders (each command is in docs/recipes.md):

    python benchmarks/section7.py --conditional RUN ... --encoder RUN ... --semi RUN ... \\
        --inpaint RUN ...

- conditional: `advnets evaluate RUN --metric classes,fid,pr` (RUN/evaluation.json): the shipped
  MNIST classifier's agreement with the asked-for class, per-class classifier-FID, and FID and
  precision/recall of samples whose classes are drawn as in the training data;
- encoder: `advnets encoder RUN` (RUN/encoder/encoder.json): R^2 of z from G(z), and the
  1-nearest-neighbour label accuracy of E(x) on the test images;
- semi: `advnets classify RUN` (RUN/classify/CHECKPOINT-*.json): the semi-supervised D's test error,
  logistic regression on D's features, and D's architecture trained on the labelled images alone;
- inpaint: `advnets inpaint RUN --mask M` (RUN/inpaint/*.json): the classifier's accuracy on the
  test images whole, as seen, and completed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from advnets import checkpoint
from advnets.io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def _run(path: str) -> Path:
    return checkpoint.resolve(path).parent.parent


def conditional(run: str) -> dict:
    latest = checkpoint.resolve(run).name
    book = json.loads((_run(run) / "evaluation.json").read_text())
    m = book[latest]["metrics"]
    if not {"classes", "fid", "pr"} <= m.keys():
        raise SystemExit(f"{run}: run 'advnets evaluate {run} --metric classes,fid,pr' first")
    c = m["classes"]
    return {
        "run": run,
        "checkpoint": latest,
        "agreement": c["agreement"],
        "lowest_class_agreement": min(c["per_class_agreement"]),
        "per_class_agreement": c["per_class_agreement"],
        "class_fid_mean": c["fid_mean"],
        "per_class_fid": c["per_class_fid"],
        "fid": m["fid"]["value"],
        "precision": m["pr"]["precision"],
        "recall": m["pr"]["recall"],
    }


def encoder(run: str) -> dict:
    record = json.loads((_run(run) / "encoder" / "encoder.json").read_text())
    keys = (
        "trained",
        "r2_generated",
        "nn1_accuracy_euclidean",
        "nn1_accuracy_cosine",
        "nn1_accuracy_pixels_euclidean",
    )
    return {"run": run, **{k: record.get(k) for k in keys}}


def semi(run: str) -> list[dict]:
    latest = checkpoint.resolve(run).name
    return [
        {**json.loads(p.read_text()), "run": run}
        for p in sorted((_run(run) / "classify").glob(f"{latest}-*.json"))
    ]


def inpaint(run: str) -> list[dict]:
    return [
        {**json.loads(p.read_text()), "run": run}
        for p in sorted((_run(run) / "inpaint").glob("*.json"))
    ]


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.2f}%"


def write(results: dict, name: str) -> None:
    lines = [
        "# The paper's section 7 extensions, measured",
        "",
        "Written by `benchmarks/section7.py` (commands in docs/recipes.md).",
        "",
    ]
    if results.get("conditional"):
        lines += [
            "## Conditional generation p(x | c): the shipped MNIST classifier on 1,000 samples "
            "per class",
            "",
            "| run | agreement | lowest class | mean per-class FID | FID (c ~ p(c)) | precision | "
            "recall |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in results["conditional"]:
            lines.append(
                f"| {r['run']} | {pct(r['agreement'])} | {pct(r['lowest_class_agreement'])} | "
                f"{r['class_fid_mean']:.1f} | {r['fid']:.1f} | {r['precision']:.3f} | "
                f"{r['recall']:.3f} |"
            )
        per_class = "; ".join(
            f"{r['run']}: " + ", ".join(f"{f:.1f}" for f in r["per_class_fid"])
            for r in results["conditional"]
        )
        lines += ["", f"Per-class FID, classes 0 to 9: {per_class}", ""]
    if results.get("encoder"):
        lines += [
            "## Learned approximate inference E(x) -> z",
            "",
            "| run | E trained | R² of z from G(z) | 1-NN accuracy of E(x), euclidean | cosine | "
            "pixels |",
            "|---|---|---|---|---|---|",
        ]
        for r in results["encoder"]:
            lines.append(
                f"| {r['run']} | {r['trained']} | {r['r2_generated']:.3f} | "
                f"{pct(r['nn1_accuracy_euclidean'])} | "
                f"{pct(r['nn1_accuracy_cosine'])} | {pct(r['nn1_accuracy_pixels_euclidean'])} |"
            )
        lines += [""]
    if results.get("semi"):
        lines += [
            "## Semi-supervised classification of the MNIST test set",
            "",
            (
                "| run | labelled | label seed | D scored | semi-supervised D | the trained D | "
                "logistic regression "
                "on D features | supervised only |"
            ),
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in results["semi"]:
            lines.append(
                f"| {r['run']} | {r['labelled']} | {r['label_seed']} | "
                f"{r.get('discriminator', 'trained')} | "
                f"{pct(r.get('discriminator_error'))} | "
                f"{pct(r.get('trained_discriminator_error', r.get('discriminator_error')))} | "
                f"{pct(r['features_error'])} | {pct(r.get('supervised_error'))} |"
            )
        lines += [
            "",
            'Test error on the 10,000 test images. "D scored": the average of D\'s weights '
            "(average.discriminator) or the trained D; the features are those of the D scored.",
            "",
        ]
    if results.get("inpaint"):
        lines += [
            "## Completing hidden pixels by searching z",
            "",
            (
                "| run | hidden | images | accuracy whole | as seen | completed by G | from the "
                "nearest training "
                "image | hidden-pixel MSE (mean fill) |"
            ),
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in results["inpaint"]:
            lines.append(
                f"| {r['run']} | {r['mask_meaning']} | {r['images']} | "
                f"{pct(r.get('accuracy_whole'))} | "
                f"{pct(r.get('accuracy_seen'))} | {pct(r.get('accuracy_completed'))} | "
                f"{pct(r.get('accuracy_nearest_fill'))} | "
                f"{r['hidden_mse']:.4f} ({r['hidden_mse_mean_fill']:.4f}) |"
            )
        lines += [""]
    atomic_write_text(RESULTS / f"{name}.md", "\n".join(lines))
    atomic_write_text(RESULTS / f"{name}.json", json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for part in ("conditional", "encoder", "semi", "inpaint"):
        p.add_argument(f"--{part}", action="append", default=[], metavar="RUN")
    p.add_argument("--out-name", default="section7")
    args = p.parse_args()
    results = {
        "conditional": [conditional(r) for r in args.conditional],
        "encoder": [encoder(r) for r in args.encoder],
        "semi": [row for r in args.semi for row in semi(r)],
        "inpaint": [row for r in args.inpaint for row in inpaint(r)],
    }
    write(results, args.out_name)


if __name__ == "__main__":
    main()
