"""The data's own scores: training images in place of samples, every metric, MNIST and
Fashion-MNIST.

    python benchmarks/reference_rows.py      # writes benchmarks/results/reference_rows.md (+ .json)

Each row is `advnets evaluate --reference --data SOURCE --metric all` with the default protocol:
the first 10,000 training images against the 10,000 test images (Parzen: sigma chosen on
validation images 50,000-50,999). These are the floors a generator is compared with; a data set
whose files are absent is reported as skipped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from advnets.data.download import DataNotFoundError
from advnets.evaluate import Protocol, evaluate

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    rows, records = [], {}
    for source in ("mnist", "fashion-mnist"):
        try:
            result = evaluate(
                None, "all", Protocol(), reference=True, source=source, progress=False
            )
        except DataNotFoundError as err:
            rows.append(f"| {source} | skipped: {err} |||||||||")
            continue
        m = result.metrics
        records[source] = result.to_dict()
        rows.append(
            f"| {source} | {m['parzen']['mean']:.1f} ± {m['parzen']['stderr']:.1f} (σ "
            f"{m['parzen']['sigma']:.3f}) "
            f"| {m['fid']['value']:.3f} | {m['kid']['value']:.4f} ± {m['kid']['std']:.4f} "
            f"| {m['pr']['precision']:.4f} | {m['pr']['recall']:.4f} "
            f"| {m['score']['value']:.3f} ± {m['score']['std']:.3f} | {m['labels']['value']:.4f} "
            f"| {m['fid']['extractor_test_accuracy']:.4f} |"
        )
    lines = [
        "# Reference rows: the training data scored as if it were samples",
        "",
        f"Command: `python benchmarks/reference_rows.py` ({time.strftime('%Y-%m-%d')}, torch "
        f"{torch.__version__}).",
        "Training images 0-9,999 against the 10,000 test images; classifier metrics on the "
        "shipped classifier",
        "of each data set (its test accuracy in the last column); KID and score: mean ± std over "
        "subsets/splits.",
        "",
        "| data | Parzen log-likelihood | FID | KID | precision | recall | classifier score | "
        "label TV | classifier acc. |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    (RESULTS / "reference_rows.md").write_text("\n".join(lines))
    (RESULTS / "reference_rows.json").write_text(
        json.dumps(records, indent=2, sort_keys=True) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
