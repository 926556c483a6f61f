"""One entry point for every metric: samples from a run (or training images, for the reference
rows), a named protocol, and a record written to RUN/evaluation.json.

Metrics (`METRICS`):
- ``parzen``: the paper's Parzen-window log-likelihood (`advnets.metrics.parzen`): sigma chosen
  from a grid on the first `valid_rows` validation images, the test mean +- standard error.
- ``fid``, ``kid``, ``pr``, ``score``, ``labels``: on the shipped classifier of the data set
  (`advnets.metrics.classifier`): Fréchet distance and kernel distance of penultimate features,
  precision and recall, the classifier score, and the label histogram's total variation
  distance, all against the `split` images (the test set by default).
- ``classes``: for a class-conditional run (config.condition), `samples / classes` samples asked
  for each class c (the same noise for every class): the fraction the classifier labels c, per
  class and overall, and the classifier-FID of each class's samples against the `split` images
  of that class.
- ``modes``: on a Gaussian-mixture toy (ring-2d, grid-2d), the modes covered and the fraction of
  high-quality samples among the first `mode_samples` samples (`advnets.metrics.modes`, the
  PacGAN protocol).
- ``inception-fid``, ``inception-kid``: Inception-v3 features through torch-fidelity (the
  ``inception`` extra), for RGB or grey images of any size.

With ``reference=True`` the first `samples` training images stand in for the samples: the score
of the data itself, the row a generator is compared with.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from advnets.metrics.parzen import PAPER_SIGMAS

CLASSIFIER_METRICS = ("fid", "kid", "pr", "score", "labels", "classes")
INCEPTION_METRICS = ("inception-fid", "inception-kid")
METRICS = ("parzen", "modes") + CLASSIFIER_METRICS + INCEPTION_METRICS


class EvaluationError(ValueError):
    pass


@dataclass
class Protocol:
    """Every choice an evaluation makes; the defaults are the paper's Parzen protocol and the
    customary 10k-sample settings of the feature metrics."""

    samples: int = 10_000  # samples drawn from G (or training images, for the reference)
    seed: int = 0  # noise seed of the samples; also seeds KID's subsets
    split: str = "test"  # the images the samples are compared with
    split_start: int = 0  # first row of `split` used
    split_rows: int | None = None  # rows of `split` used from there (None: to the end)
    sigmas: tuple[float, ...] = PAPER_SIGMAS  # Parzen widths tried
    valid_rows: int = 1000  # first validation images that choose sigma
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3  # neighbours defining the manifolds of precision/recall
    score_splits: int = 10
    mode_samples: int = 2500  # samples whose mode coverage is counted (PacGAN's protocol)
    memory_mb: int = 256  # budget of the Parzen blocks
    truncation: float = (
        1.0  # G is fed psi * z (advnets.sample.check_truncation); 1: the model itself
    )

    def check(self) -> None:
        problems = []
        if self.samples < 2:
            problems.append(f"samples = {self.samples}: at least 2 are needed")
        if self.split not in ("train", "valid", "test"):
            problems.append(f"split = {self.split!r}: choose train, valid or test")
        if self.split_start < 0:
            problems.append(f"split_start = {self.split_start}: must be 0 or more")
        if self.split_rows is not None and self.split_rows < 2:
            problems.append(
                f"split_rows = {self.split_rows}: at least 2, or unset for the whole split"
            )
        if not self.sigmas or any(s <= 0 for s in self.sigmas):
            problems.append(f"sigmas = {list(self.sigmas)}: give one or more positive widths")
        for name in (
            "valid_rows",
            "kid_subsets",
            "kid_subset_size",
            "pr_k",
            "score_splits",
            "memory_mb",
            "mode_samples",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} = {getattr(self, name)}: must be at least 1")
        from advnets.sample import check_truncation

        try:
            check_truncation(self.truncation)
        except ValueError as err:
            problems.append(str(err))
        if problems:
            raise EvaluationError("bad evaluation protocol: " + "; ".join(problems))


@dataclass
class Evaluation:
    """What one call measured, as written to evaluation.json."""

    subject: dict  # run, checkpoint and step, or the reference images
    protocol: dict
    metrics: dict = field(default_factory=dict)  # name -> values and the details of that metric
    environment: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_metrics(text: str | list[str]) -> list[str]:
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if names == ["all"]:
        return ["parzen", *(m for m in CLASSIFIER_METRICS if m != "classes")]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise EvaluationError(
            f"unknown metric {', '.join(unknown) or '(none given)'}; "
            f"valid metrics: {', '.join(METRICS)}, or all (parzen and the classifier metrics but classes)"
        )
    return list(dict.fromkeys(names))


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=desc, unit="row", disable=not enabled, leave=False, dynamic_ncols=True
    )


def _samples(
    path, source, protocol: Protocol, reference: bool, data_dir, progress: bool, last_iterate: bool
):
    """(samples [n, D], image_shape, data source, subject record)."""
    from advnets.data import load

    if reference:
        if protocol.truncation != 1:
            raise EvaluationError(
                "truncation shrinks the noise of G; the reference rows are training images: drop it"
            )
        if source is None:
            raise EvaluationError(
                "--reference needs a data source: give a run folder or --data SOURCE"
            )
        train = load(source, "train", data_dir, progress=progress)
        if len(train) < protocol.samples:
            raise EvaluationError(
                f"{source} has {len(train)} training rows, fewer than samples = {protocol.samples}"
            )
        subject = {"reference": f"{source} training rows 0-{protocol.samples - 1}"}
        return train.x[: protocol.samples], train.image_shape, source, subject
    from advnets.sample import load_generator

    trained = load_generator(path, average=not last_iterate)
    if source is not None and source != trained.config.data.source:
        raise EvaluationError(
            f"the run was trained on {trained.config.data.source}, not {source}: drop --data"
        )
    with _bar(protocol.samples, "sampling", progress) as bar:
        x = trained.sample(protocol.samples, seed=protocol.seed, truncation=protocol.truncation)
        bar.update(protocol.samples)
    subject = {
        "run": str(trained.checkpoint.parent.parent),
        "checkpoint": trained.checkpoint.name,
        "step": trained.step,
        "weights": "average" if trained.averaged else "last iterate",
        "classes": trained.num_classes,
    }
    if last_iterate and trained.config.average.kind != "none":
        subject["checkpoint"] += ":last-iterate"  # filed apart from the run's model, its average
    if protocol.truncation != 1:
        subject["checkpoint"] += (
            f":truncation-{protocol.truncation:g}"  # and apart from the model itself
        )
    return x, trained.image_shape, trained.config.data.source, subject


def evaluate(
    path: str | Path | None = None,
    metrics: str | list[str] = "parzen",
    protocol: Protocol | None = None,
    *,
    reference: bool = False,
    source: str | None = None,
    data_dir=None,
    progress: bool = True,
    write: bool = True,
    last_iterate: bool = False,
) -> Evaluation:
    """Measure a run's latest checkpoint (or a checkpoint folder, or the data itself).

    Returns the `Evaluation`; with `write`, also merges it into RUN/evaluation.json under the
    checkpoint's name (a reference evaluation of a run is filed under "reference"). A run that
    averages G's weights (config.average) is measured through that average, unless `last_iterate`.
    """
    from advnets.data import load

    names = parse_metrics(metrics)
    protocol = protocol or Protocol()
    protocol.check()
    if path is None and not reference:
        raise EvaluationError(
            "nothing to evaluate: give a run folder (or --reference with --data SOURCE)"
        )
    run_root = None
    if path is not None:
        from advnets.train import checkpoint

        folder = checkpoint.resolve(path)
        run_root = folder.parent.parent
        if reference and source is None:
            source = json.loads((folder / "state.json").read_text())["config"]["data"]["source"]
    x, image_shape, source, subject = _samples(
        path, source, protocol, reference, data_dir, progress, last_iterate
    )
    data = load(source, protocol.split, data_dir, progress=progress)
    stop = protocol.split_start + protocol.split_rows if protocol.split_rows else None
    real = data.x[protocol.split_start : stop]
    if len(real) < 2:
        raise EvaluationError(
            f"{source} {protocol.split} has {len(data)} rows: split_start = {protocol.split_start} "
            f"leaves {len(real)}, at least 2 are needed"
        )
    result = Evaluation(
        subject={
            **subject,
            "data": source,
            "split": protocol.split,
            "split_range": [protocol.split_start, protocol.split_start + len(real)],
            "split_rows": len(real),
            "samples": len(x),
        },
        protocol=json.loads(json.dumps(asdict(protocol))),
    )  # as it reads back from JSON

    classifier_wanted = [m for m in names if m in CLASSIFIER_METRICS]
    inception_wanted = [m for m in names if m in INCEPTION_METRICS]
    # refuse what cannot be computed before spending time on the rest
    if "classes" in names and (reference or not subject.get("classes")):
        raise EvaluationError(
            "the classes metric measures a class-conditional run (condition.kind concat or "
            "projection); "
            + (
                "the data has no G to ask for a class"
                if reference
                else f"{subject['run']} is unconditional"
            )
        )
    if classifier_wanted:
        _check_classifier_applies(source, image_shape)
    if inception_wanted:
        from advnets.metrics.inception import check_available

        check_available(image_shape)
    if "modes" in names:
        result.metrics["modes"] = _modes(x, source, protocol)
    if "parzen" in names:
        valid = (
            data
            if protocol.split == "valid"
            else load(source, "valid", data_dir, progress=progress)
        )
        result.metrics["parzen"] = _parzen(x, valid.x, real, protocol, progress)
    if set(classifier_wanted) - {"classes"}:
        result.metrics.update(
            _classifier_metrics(x, real, source, classifier_wanted, protocol, progress)
        )
    if "classes" in names:
        real_y = data.y[protocol.split_start : stop]
        result.metrics["classes"] = _class_metrics(
            path, last_iterate, real, real_y, source, protocol, progress
        )
    if inception_wanted:
        from advnets.metrics.inception import inception_metrics

        start = time.perf_counter()
        values = inception_metrics(
            x, real, image_shape, inception_wanted, protocol, progress=progress
        )
        for name, value in values.items():
            result.metrics[name] = {**value, "seconds": round(time.perf_counter() - start, 2)}
    result.environment = {
        "advnets": _version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    result.recorded_in = None
    if write and run_root is not None:
        result.recorded_in = record(
            run_root, result, key="reference" if reference else subject["checkpoint"]
        )
    return result


def _version() -> str:
    from advnets import __version__

    return __version__


def _parzen(x, valid, real, protocol: Protocol, progress: bool) -> dict:
    from advnets.metrics.parzen import parzen_protocol

    valid = valid[: protocol.valid_rows]
    start = time.perf_counter()
    with _bar(len(valid) + len(real), "parzen", progress) as bar:
        res = parzen_protocol(
            x,
            valid,
            real,
            protocol.sigmas,
            memory_bytes=protocol.memory_mb * 2**20,
            progress=bar.update,
        )
    return {**res.to_dict(), "seconds": round(time.perf_counter() - start, 2)}


def _modes(x: torch.Tensor, source: str, protocol: Protocol) -> dict:
    from advnets.data.toy import TOYS
    from advnets.metrics.modes import mode_coverage

    if source not in TOYS:
        raise EvaluationError(
            f"the modes metric counts the modes of a toy mixture ({', '.join(TOYS)}); "
            f"{source} has no known modes"
        )
    if len(x) < protocol.mode_samples:
        raise EvaluationError(
            f"modes counts {protocol.mode_samples} samples and {len(x)} were drawn: raise "
            "--samples or lower --mode-samples"
        )
    toy = TOYS[source]
    start = time.perf_counter()
    value = mode_coverage(x[: protocol.mode_samples], toy.means_tensor(), toy.std)
    return {**value, "seconds": round(time.perf_counter() - start, 2)}


def _check_classifier_applies(source: str, image_shape) -> None:
    from advnets.metrics.classifier import SHIPPED

    if image_shape != (28, 28) or source not in SHIPPED:
        shape = "points" if image_shape is None else "images of {} x {}".format(*image_shape)
        raise EvaluationError(
            f"classifier metrics are for 28 x 28 images of {' or '.join(SHIPPED)}; {source} has "
            f"{shape}: use --metric parzen, or inception-fid for other images"
        )


def _classifier_metrics(x, real, source, wanted, protocol: Protocol, progress: bool) -> dict:
    from advnets.metrics.classifier import load_classifier
    from advnets.metrics.fid import fid
    from advnets.metrics.kid import kid
    from advnets.metrics.precision_recall import precision_recall
    from advnets.metrics.score import (
        classifier_score,
        label_histogram,
        label_total_variation,
    )

    start = time.perf_counter()
    clf = load_classifier(source)
    with _bar(len(x) + len(real), "features", progress) as bar:
        feats_x, probs_x = clf(x, progress=bar.update)
        feats_r, probs_r = clf(real, progress=bar.update)
    extractor = {
        "extractor": f"advnets {source} classifier ({clf.file})",
        "sha256": clf.sha256,
        "extractor_test_accuracy": clf.test_accuracy,
    }
    seconds = time.perf_counter() - start
    out = {}

    def timed(name, fn):
        t = time.perf_counter()
        values = fn()
        out[name] = {**values, **extractor, "seconds": round(seconds + time.perf_counter() - t, 2)}

    if "fid" in wanted:
        timed("fid", lambda: {"value": fid(feats_x, feats_r)})
    if "kid" in wanted:
        timed(
            "kid",
            lambda: dict(
                zip(
                    ("value", "std"),
                    kid(
                        feats_x,
                        feats_r,
                        protocol.kid_subsets,
                        protocol.kid_subset_size,
                        protocol.seed,
                    ),
                )
            ),
        )
    if "pr" in wanted:
        timed(
            "pr",
            lambda: dict(
                zip(("precision", "recall"), precision_recall(feats_r, feats_x, protocol.pr_k))
            ),
        )
    if "score" in wanted:
        timed(
            "score",
            lambda: {
                **dict(zip(("value", "std"), classifier_score(probs_x, protocol.score_splits))),
                "data_value": classifier_score(probs_r, protocol.score_splits)[0],
            },
        )
    if "labels" in wanted:
        timed(
            "labels",
            lambda: {
                "value": label_total_variation(probs_x, probs_r),
                "samples_histogram": [round(v, 5) for v in label_histogram(probs_x).tolist()],
                "data_histogram": [round(v, 5) for v in label_histogram(probs_r).tolist()],
            },
        )
    return out


def _class_metrics(
    path, last_iterate: bool, real, real_y, source, protocol: Protocol, progress: bool
) -> dict:
    """Label agreement and per-class FID of a conditional G (see the module docstring)."""
    from advnets.metrics.classifier import load_classifier
    from advnets.metrics.fid import fid
    from advnets.sample import load_generator

    start = time.perf_counter()
    trained = load_generator(path, average=not last_iterate)
    clf = load_classifier(source)
    per_class = protocol.samples // trained.num_classes
    if per_class < 2:
        raise EvaluationError(
            f"samples = {protocol.samples} gives fewer than 2 per class of {trained.num_classes}"
        )
    feats_real, _ = clf(real)
    agreement, fids = [], []
    with _bar(trained.num_classes * per_class, "classes", progress) as bar:
        for c in range(trained.num_classes):
            feats, probs = clf(
                trained.sample(
                    per_class, seed=protocol.seed, label=c, truncation=protocol.truncation
                )
            )
            agreement.append(float((probs.argmax(1) == c).double().mean()))
            of_c = feats_real[real_y == c]
            fids.append(fid(feats, of_c) if len(of_c) >= 2 else None)
            bar.update(per_class)
    known = [f for f in fids if f is not None]
    return {
        "agreement": sum(agreement) / len(agreement),
        "per_class_agreement": agreement,
        "fid_mean": sum(known) / len(known) if known else None,
        "per_class_fid": fids,
        "samples_per_class": per_class,
        "extractor": f"advnets {source} classifier ({clf.file})",
        "sha256": clf.sha256,
        "extractor_test_accuracy": clf.test_accuracy,
        "seconds": round(time.perf_counter() - start, 2),
    }


def record(run: Path, result: Evaluation, key: str) -> Path:
    """Merge `result` into RUN/evaluation.json under `key`, atomically; other keys are kept."""
    from advnets.io import atomic_write_text

    target = run / "evaluation.json"
    book = {}
    if target.is_file():
        try:
            book = json.loads(target.read_text())
        except json.JSONDecodeError:
            book = {}  # a damaged file is replaced rather than blocking every later evaluation
    entry = book.get(key, {})
    same_protocol = entry.get("protocol") == result.protocol
    metrics = {**(entry.get("metrics", {}) if same_protocol else {}), **result.metrics}
    book[key] = {**result.to_dict(), "metrics": metrics}
    atomic_write_text(target, json.dumps(book, indent=2, sort_keys=True) + "\n")
    return target


def format_table(result: Evaluation) -> str:
    """The metrics of one evaluation as an aligned text table."""
    rows = []
    for name, m in result.metrics.items():
        if name == "parzen":
            rows.append(
                (
                    name,
                    f"{m['mean']:.1f} ± {m['stderr']:.1f}",
                    f"log-likelihood, sigma {m['sigma']:.3f} of {len(m['valid_means'])} on {m['n_valid']} valid rows; "
                    f"{m['n_centres']} centres, {m['n_test']} test rows",
                )
            )
        elif name in ("kid", "inception-kid"):
            rows.append(
                (name, f"{m['value']:.5f} ± {m['std']:.5f}", "unbiased MMD², ± std over subsets")
            )
        elif name == "pr":
            rows.append(("precision", f"{m['precision']:.4f}", f"k = {result.protocol['pr_k']}"))
            rows.append(("recall", f"{m['recall']:.4f}", f"k = {result.protocol['pr_k']}"))
        elif name == "score":
            rows.append(
                (
                    name,
                    f"{m['value']:.3f} ± {m['std']:.3f}",
                    f"classifier score (data: {m['data_value']:.3f})",
                )
            )
        elif name == "labels":
            rows.append(
                (name, f"{m['value']:.4f}", "total variation of predicted-label histograms")
            )
        elif name == "classes":
            rows.append(
                (
                    "agreement",
                    f"{m['agreement']:.4f}",
                    f"classifier says the asked-for class; lowest {min(m['per_class_agreement']):.4f}",
                )
            )
            if m["fid_mean"] is not None:
                rows.append(
                    (
                        "class fid",
                        f"{m['fid_mean']:.4f}",
                        "mean per-class FID: "
                        + ", ".join(
                            f"{f:.1f}" if f is not None else "-" for f in m["per_class_fid"]
                        ),
                    )
                )
        elif name == "modes":
            rows.append(
                (
                    "modes",
                    f"{m['modes']} / {m['of']}",
                    f"covered by a sample within {m['radius_sd']:g} sd, of {m['samples']} samples",
                )
            )
            rows.append(
                (
                    "high quality",
                    f"{m['high_quality']:.4f}",
                    f"fraction within {m['radius_sd']:g} sd of a mode",
                )
            )
        else:
            rows.append((name, f"{m['value']:.4f}", "Fréchet distance of features"))
    subject = result.subject
    head = (
        f"{subject.get('reference') or subject['run'] + ' @ ' + subject['checkpoint']}: "
        f"{subject['samples']} samples vs {subject['split_rows']} {subject['data']} {subject['split']} rows"
    )
    width = max(len(r[0]) for r in rows) if rows else 0
    vwidth = max(len(r[1]) for r in rows) if rows else 0
    return "\n".join([head] + [f"  {n:<{width}}  {v:>{vwidth}}  {note}" for n, v, note in rows])
