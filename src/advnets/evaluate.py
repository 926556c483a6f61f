"""One entry point for every metric: samples from a run (or training images, for the reference
rows), a named protocol, and a record written to RUN/evaluation.json.

The metrics are the entries of `METRICS`, each one `Metric`: what it measures (its help line),
when it applies, how it is computed from the samples in hand, and how it is printed. Adding a
metric is adding an entry. With ``reference=True`` the first `samples` training images stand in
for the samples: the score of the data itself, the row a generator is compared with.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from advnets.errors import ArgumentError, EvaluationError
from advnets.metrics.parzen import PAPER_SIGMAS

Row = tuple[str, str, str]  # a line of the printed table: name, value, what it means


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
    truncation: float = 1.0  # G is fed psi * z (advnets.sample.check_truncation); 1: G itself

    def check(self) -> None:
        problems = []
        if self.samples < 2:
            problems.append(f"samples = {self.samples}: at least 2 are needed")
        if self.split not in ("train", "valid", "test"):
            problems.append(f"split = {self.split!r}: choose train, valid or test")
        if self.split_start < 0:
            problems.append(f"split_start = {self.split_start}: must be 0 or more")
        if self.split_rows is not None and self.split_rows < 2:
            problems.append(f"split_rows = {self.split_rows}: at least 2, or unset for all")
        if not self.sigmas or any(s <= 0 for s in self.sigmas):
            problems.append(f"sigmas = {list(self.sigmas)}: give one or more positive widths")
        for name in (
            "valid_rows", "kid_subsets", "kid_subset_size", "pr_k", "score_splits", "memory_mb",
            "mode_samples",
        ):  # fmt: skip
            if getattr(self, name) < 1:
                problems.append(f"{name} = {getattr(self, name)}: must be at least 1")
        from advnets.sample import check_truncation

        try:
            check_truncation(self.truncation)
        except ArgumentError as err:
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
    recorded_in: Path | None = field(default=None, repr=False)  # the record it was merged into

    def to_dict(self) -> dict:
        d = asdict(self)
        del d["recorded_in"]
        return d


@dataclass
class Measured:
    """What the metrics of one evaluation share: the samples, the data they are compared with,
    and the features already extracted (each extractor runs once, whichever metrics use it)."""

    x: torch.Tensor  # samples [n, D] (or the reference's training images)
    real: torch.Tensor  # the `split` rows compared with [m, D]
    real_y: torch.Tensor | None  # their labels
    image_shape: tuple[int, ...] | None
    source: str
    protocol: Protocol
    subject: dict
    names: list[str]  # the metrics asked for
    reference: bool
    path: str | Path | None
    last_iterate: bool
    data_dir: str | None
    progress: bool
    data_config: object | None = None  # the run's DataConfig (its folder, image size, ...)
    cache: dict = field(default_factory=dict)

    def load(self, split: str):
        """A split of the data the samples are compared with, shaped as the run's was."""
        return load_split(self.source, self.data_config, split, self.data_dir, self.progress)

    def bar(self, total: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(
            total=total, desc=desc, unit="row", disable=not self.progress, leave=False,
            dynamic_ncols=True,
        )  # fmt: skip

    def once(self, key: str, compute: Callable[[], object]):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@dataclass(frozen=True)
class Metric:
    help: str  # what it measures, for the CLI's help
    compute: Callable[[Measured], dict]  # its record in evaluation.json
    rows: Callable[[dict, dict], list[Row]]  # (its record, the protocol) -> lines of the table
    check: Callable[[Measured], None] = lambda m: None  # refuse before anything is computed
    in_all: bool = False  # one of --metric all


# -- Parzen window (the paper's Table 1) -------------------------------------------------------


def _parzen(m: Measured) -> dict:
    from advnets.metrics.parzen import parzen_protocol

    p = m.protocol
    valid = m.load("valid").x[: p.valid_rows]
    start = time.perf_counter()
    with m.bar(len(valid) + len(m.real), "parzen") as bar:
        res = parzen_protocol(
            m.x, valid, m.real, p.sigmas, memory_bytes=p.memory_mb * 2**20, progress=bar.update
        )
    return {**res.to_dict(), "seconds": round(time.perf_counter() - start, 2)}


def _parzen_rows(r: dict, protocol: dict) -> list[Row]:
    return [
        (
            "parzen",
            f"{r['mean']:.1f} ± {r['stderr']:.1f}",
            f"log-likelihood, sigma {r['sigma']:.3f} of {len(r['valid_means'])} on "
            f"{r['n_valid']} valid rows; {r['n_centres']} centres, {r['n_test']} test rows",
        )
    ]


# -- mode coverage of the 2-D toys (PacGAN's protocol) -----------------------------------------


def _modes_check(m: Measured) -> None:
    from advnets.data.toy import TOYS

    if m.source not in TOYS:
        raise EvaluationError(
            f"the modes metric counts the modes of a toy mixture ({', '.join(TOYS)}); "
            f"{m.source} has no known modes"
        )
    if len(m.x) < m.protocol.mode_samples:
        raise EvaluationError(
            f"modes counts {m.protocol.mode_samples} samples and {len(m.x)} were drawn: raise "
            "--samples or lower --mode-samples"
        )


def _modes(m: Measured) -> dict:
    from advnets.data.toy import TOYS
    from advnets.metrics.modes import mode_coverage

    toy = TOYS[m.source]
    start = time.perf_counter()
    value = mode_coverage(m.x[: m.protocol.mode_samples], toy.means_tensor(), toy.std)
    return {**value, "seconds": round(time.perf_counter() - start, 2)}


def _modes_rows(r: dict, protocol: dict) -> list[Row]:
    radius = f"{r['radius_sd']:g} sd"
    return [
        ("modes", f"{r['modes']} / {r['of']}", f"covered within {radius}, of {r['samples']}"),
        ("high quality", f"{r['high_quality']:.4f}", f"fraction within {radius} of a mode"),
    ]


# -- the shipped classifier's features ---------------------------------------------------------


def _classifier_check(m: Measured) -> None:
    from advnets.metrics.classifier import SHIPPED

    if m.image_shape != (28, 28) or m.source not in SHIPPED:
        shape = "points" if m.image_shape is None else "images of {} x {}".format(*m.image_shape)
        raise EvaluationError(
            f"classifier metrics are for 28 x 28 images of {' or '.join(SHIPPED)}; {m.source} "
            f"has {shape}: use --metric parzen, or inception-fid for other images"
        )


def _pr_check(m: Measured) -> None:
    _classifier_check(m)
    _neighbours_check(m)


def _neighbours_check(m: Measured) -> None:
    k, fewest = m.protocol.pr_k, min(len(m.x), len(m.real))
    if k >= fewest:
        raise EvaluationError(
            f"precision/recall with {k} neighbours needs more than {k} samples and data rows; "
            f"there are {len(m.x)} and {len(m.real)}: lower --pr-k or raise --samples"
        )


def _score_check(m: Measured) -> None:
    _classifier_check(m)
    if m.protocol.score_splits > min(len(m.x), len(m.real)):
        raise EvaluationError(
            f"the classifier score in {m.protocol.score_splits} splits needs at least that many "
            f"samples and data rows; there are {len(m.x)} and {len(m.real)}"
        )


def _classifier_features(m: Measured) -> dict:
    """The classifier's features and class probabilities of the samples and the real rows."""
    from advnets.metrics.classifier import load_classifier

    def extract():
        start = time.perf_counter()
        clf = load_classifier(m.source)
        with m.bar(len(m.x) + len(m.real), "features") as bar:
            feats_x, probs_x = clf(m.x, progress=bar.update)
            feats_r, probs_r = clf(m.real, progress=bar.update)
        extractor = {
            "extractor": f"advnets {m.source} classifier ({clf.file})",
            "sha256": clf.sha256,
            "extractor_test_accuracy": clf.test_accuracy,
        }
        return {"x": feats_x, "px": probs_x, "real": feats_r, "preal": probs_r,
                "extractor": extractor, "seconds": time.perf_counter() - start}  # fmt: skip

    return m.once("classifier", extract)


def _on_features(
    features: Callable[[Measured], dict], values: Callable[[dict, Protocol], dict]
) -> Callable[[Measured], dict]:
    """A metric of extracted features (the classifier's or Inception-v3's): its values, the
    extractor, and the seconds of the features and of the metric itself."""

    def compute(m: Measured) -> dict:
        f = features(m)
        start = time.perf_counter()
        out = values(f, m.protocol)
        seconds = f["seconds"] + time.perf_counter() - start
        return {**out, **f["extractor"], "seconds": round(seconds, 2)}

    return compute


def _fid(f: dict, p: Protocol) -> dict:
    from advnets.metrics.fid import fid

    return {"value": fid(f["x"], f["real"])}


def _kid(f: dict, p: Protocol) -> dict:
    from advnets.metrics.kid import kid

    value, std = kid(f["x"], f["real"], p.kid_subsets, p.kid_subset_size, p.seed)
    return {"value": value, "std": std}


def _pr(f: dict, p: Protocol) -> dict:
    from advnets.metrics.precision_recall import precision_recall

    precision, recall = precision_recall(f["real"], f["x"], p.pr_k)
    return {"precision": precision, "recall": recall}


def _score(f: dict, p: Protocol) -> dict:
    from advnets.metrics.score import classifier_score

    value, std = classifier_score(f["px"], p.score_splits)
    return {
        "value": value,
        "std": std,
        "data_value": classifier_score(f["preal"], p.score_splits)[0],
    }


def _labels(f: dict, p: Protocol) -> dict:
    from advnets.metrics.score import label_histogram, label_total_variation

    return {
        "value": label_total_variation(f["px"], f["preal"]),
        "samples_histogram": [round(v, 5) for v in label_histogram(f["px"]).tolist()],
        "data_histogram": [round(v, 5) for v in label_histogram(f["preal"]).tolist()],
    }


def _value_row(name: str, what: str, digits: int = 4) -> Callable[[dict, dict], list[Row]]:
    return lambda r, protocol: [(name, f"{r['value']:.{digits}f}", what)]


def _kid_rows(name: str) -> Callable[[dict, dict], list[Row]]:
    def rows(r: dict, protocol: dict) -> list[Row]:
        return [(name, f"{r['value']:.5f} ± {r['std']:.5f}", "unbiased MMD², ± std over subsets")]

    return rows


def _pr_rows(r: dict, protocol: dict) -> list[Row]:
    k = f"k = {protocol['pr_k']}"
    return [("precision", f"{r['precision']:.4f}", k), ("recall", f"{r['recall']:.4f}", k)]


def _score_rows(r: dict, protocol: dict) -> list[Row]:
    value = f"{r['value']:.3f} ± {r['std']:.3f}"
    return [("score", value, f"classifier score (data: {r['data_value']:.3f})")]


# -- a conditional G, class by class -----------------------------------------------------------


def _classes_check(m: Measured) -> None:
    if m.reference or not m.subject.get("classes"):
        why = "the data has no G to ask for a class" if m.reference else f"{m.subject['run']} is "
        raise EvaluationError(
            "the classes metric measures a class-conditional run (condition.kind concat or "
            "projection); " + (why if m.reference else why + "unconditional")
        )
    _classifier_check(m)


def _classes(m: Measured) -> dict:
    """For each class c, `samples / classes` samples asked for c (the same noise for every
    class): the fraction the classifier labels c, and their classifier-FID against the `split`
    images of class c."""
    from advnets.metrics.classifier import load_classifier
    from advnets.metrics.fid import fid
    from advnets.sample import load_generator

    p = m.protocol
    start = time.perf_counter()
    trained = load_generator(m.path, average=not m.last_iterate)
    clf = load_classifier(m.source)
    per_class = p.samples // trained.num_classes
    if per_class < 2:
        raise EvaluationError(
            f"samples = {p.samples} gives fewer than 2 per class of {trained.num_classes}"
        )
    feats_real, _ = clf(m.real)
    agreement, fids = [], []
    with m.bar(trained.num_classes * per_class, "classes") as bar:
        for c in range(trained.num_classes):
            x = trained.sample(per_class, seed=p.seed, label=c, truncation=p.truncation)
            feats, probs = clf(x)
            agreement.append(float((probs.argmax(1) == c).double().mean()))
            of_c = feats_real[m.real_y == c]
            fids.append(fid(feats, of_c) if len(of_c) >= 2 else None)
            bar.update(per_class)
    known = [f for f in fids if f is not None]
    return {
        "agreement": sum(agreement) / len(agreement),
        "per_class_agreement": agreement,
        "fid_mean": sum(known) / len(known) if known else None,
        "per_class_fid": fids,
        "samples_per_class": per_class,
        "extractor": f"advnets {m.source} classifier ({clf.file})",
        "sha256": clf.sha256,
        "extractor_test_accuracy": clf.test_accuracy,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _classes_rows(r: dict, protocol: dict) -> list[Row]:
    lowest = min(r["per_class_agreement"])
    rows = [
        (
            "agreement",
            f"{r['agreement']:.4f}",
            f"classifier says the asked-for class; lowest {lowest:.4f}",
        )
    ]
    if r["fid_mean"] is not None:
        each = ", ".join(f"{f:.1f}" if f is not None else "-" for f in r["per_class_fid"])
        rows.append(("class fid", f"{r['fid_mean']:.4f}", "mean per-class FID: " + each))
    return rows


# -- Inception-v3 features ---------------------------------------------------------------------


def _inception_check(m: Measured) -> None:
    from advnets.metrics.inception import check_available

    check_available(m.image_shape)
    if "inception-pr" in m.names:
        _neighbours_check(m)


def _real_inception_features(m: Measured, weights_sha256: str) -> torch.Tensor:
    """The compared rows' features, kept in the cache folder under a hash of the rows and the
    weights: the same test images are compared with every run."""
    import hashlib

    from safetensors.torch import load, save

    from advnets.data.download import cache_dir
    from advnets.io import atomic_write_bytes
    from advnets.metrics.inception import RESIZE, inception_features

    key = hashlib.sha256(m.real.numpy().tobytes())
    key.update(f"{m.image_shape} {weights_sha256} {RESIZE}".encode())
    path = cache_dir() / "inception-features" / f"{key.hexdigest()}.safetensors"
    if path.is_file():
        try:
            features = load(path.read_bytes())["features"]
        except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed and replaced
            features = None
        if features is not None and features.shape == (len(m.real), 2048):
            return features
    with m.bar(len(m.real), "inception (data)") as bar:
        features = inception_features(m.real, m.image_shape, progress=bar.update)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, save({"features": features.contiguous()}))
    return features


def _inception_features(m: Measured) -> dict:
    """Inception-v3 features of the samples and of the compared rows (those from the cache)."""
    from advnets.metrics import inception

    def extract():
        import warnings

        if len(m.x) < inception.FEW_SAMPLES:
            warnings.warn(
                f"Inception metrics of {len(m.x)} samples: below {inception.FEW_SAMPLES} FID's "
                "bias outweighs most differences; compare only numbers of the same sample counts",
                stacklevel=2,
            )
        start = time.perf_counter()
        # the file is verified on load, so its digest is the published one, not computed again
        _, weights = inception.load_network()
        with m.bar(len(m.x), "inception") as bar:
            feats_x = inception.inception_features(m.x, m.image_shape, progress=bar.update)
        feats_r = _real_inception_features(m, inception.WEIGHTS_SHA256)
        extractor = {
            "extractor": "advnets Inception-v3 (the TensorFlow FID graph of 2015-12-05)",
            "weights": str(weights),
            "sha256": inception.WEIGHTS_SHA256,
            "preprocessing": inception.RESIZE,
        }
        return {"x": feats_x, "real": feats_r, "extractor": extractor,
                "seconds": time.perf_counter() - start}  # fmt: skip

    return m.once("inception", extract)


METRICS: dict[str, Metric] = {
    "parzen": Metric(
        "the paper's Parzen-window log-likelihood of the test rows (sigma from validation)",
        _parzen,
        _parzen_rows,
        in_all=True,
    ),
    "modes": Metric(
        "on a 2-D toy mixture: the modes covered and the share of high-quality samples",
        _modes,
        _modes_rows,
        _modes_check,
    ),
    "fid": Metric(
        "Fréchet distance of the shipped classifier's features (MNIST, Fashion-MNIST)",
        _on_features(_classifier_features, _fid),
        _value_row("fid", "Fréchet distance of features"),
        _classifier_check,
        in_all=True,
    ),
    "kid": Metric(
        "kernel distance (unbiased MMD²) of the classifier's features",
        _on_features(_classifier_features, _kid),
        _kid_rows("kid"),
        _classifier_check,
        in_all=True,
    ),
    "pr": Metric(
        "precision and recall of the classifier's features (k nearest neighbours)",
        _on_features(_classifier_features, _pr),
        _pr_rows,
        _pr_check,
        in_all=True,
    ),
    "score": Metric(
        "the classifier score (the Inception score with the shipped classifier)",
        _on_features(_classifier_features, _score),
        _score_rows,
        _score_check,
        in_all=True,
    ),
    "labels": Metric(
        "total variation between the predicted-label histograms of samples and data",
        _on_features(_classifier_features, _labels),
        _value_row("labels", "total variation of predicted-label histograms"),
        _classifier_check,
        in_all=True,
    ),
    "classes": Metric(
        "a conditional run: the classifier's agreement with the asked-for class, per-class FID",
        _classes,
        _classes_rows,
        _classes_check,
    ),
    "inception-fid": Metric(
        "FID of Inception-v3 features (the inception extra), colour or grey images of any size",
        _on_features(_inception_features, _fid),
        _value_row("inception-fid", "Fréchet distance of Inception-v3 features", 3),
        _inception_check,
    ),
    "inception-kid": Metric(
        "KID of Inception-v3 features (the inception extra)",
        _on_features(_inception_features, _kid),
        _kid_rows("inception-kid"),
        _inception_check,
    ),
    "inception-pr": Metric(
        "precision and recall of Inception-v3 features (k nearest neighbours)",
        _on_features(_inception_features, _pr),
        _pr_rows,
        _inception_check,
    ),
}


def parse_metrics(text: str | list[str]) -> list[str]:
    """The metrics named in 'parzen,fid' (or a list), in the registry's order; 'all' for the
    metrics marked in_all."""
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if names == ["all"]:
        return [name for name, metric in METRICS.items() if metric.in_all]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        everything = ", ".join(name for name, metric in METRICS.items() if metric.in_all)
        raise EvaluationError(
            f"unknown metric {', '.join(unknown) or '(none given)'}; valid metrics: "
            f"{', '.join(METRICS)}, or all ({everything})"
        )
    return [name for name in METRICS if name in names]


def load_split(source: str, data_config, split: str, data_dir, progress: bool):
    """One split of `source`, read as `data_config` (a run's DataConfig) says when given: a
    folder's images at the run's size, Twemoji on the run's background."""
    from advnets.data import from_config, load

    if data_config is not None:
        return from_config(data_config, split, data_dir, progress=progress)
    return load(source, split, data_dir, progress=progress)


def _samples(
    path, source, data_config, protocol: Protocol, reference: bool, data_dir, progress,
    last_iterate,
):  # fmt: skip
    """(samples [n, D], image_shape, data source, subject record)."""
    if reference:
        if protocol.truncation != 1:
            raise EvaluationError(
                "truncation shrinks the noise of G; the reference rows are training images: drop it"
            )
        if source is None:
            raise EvaluationError(
                "--reference needs a data source: give a run folder or --data SOURCE"
            )
        train = load_split(source, data_config, "train", data_dir, progress)
        if len(train) < protocol.samples:
            raise EvaluationError(
                f"{source} has {len(train)} training rows, fewer than samples = {protocol.samples}"
            )
        subject = {"reference": f"{source} training rows 0-{protocol.samples - 1}"}
        return train.x[: protocol.samples], train.image_shape, source, subject
    from advnets.sample import load_generator

    trained = load_generator(path, average=not last_iterate)
    from tqdm.auto import tqdm

    with tqdm(total=protocol.samples, desc="sampling", disable=not progress, leave=False) as bar:
        x = trained.sample(protocol.samples, seed=protocol.seed, truncation=protocol.truncation)
        bar.update(protocol.samples)
    subject = {
        "run": str(trained.run.root),
        "checkpoint": trained.checkpoint.name,
        "step": trained.step,
        "weights": "average" if trained.averaged else "last iterate",
        "classes": trained.num_classes,
    }
    if last_iterate and trained.config.average.kind != "none":
        subject["checkpoint"] += ":last-iterate"  # filed apart from the run's model, its average
    if protocol.truncation != 1:
        subject["checkpoint"] += f":truncation-{protocol.truncation:g}"  # and from G itself
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
    names = parse_metrics(metrics)
    protocol = protocol or Protocol()
    protocol.check()
    if path is None and not reference:
        raise EvaluationError(
            "nothing to evaluate: give a run folder (or --reference with --data SOURCE)"
        )
    run, data_config = None, None
    if path is not None:
        from advnets import checkpoint
        from advnets import config as cfgmod
        from advnets.run import open_checkpoint

        run, folder = open_checkpoint(path)
        data_config = cfgmod.from_dict(checkpoint.read_state(folder)["config"]).data
        if source is None:
            source = data_config.source
        elif source != data_config.source:
            raise EvaluationError(
                f"the run was trained on {data_config.source}, not {source}: drop --data"
            )
    x, image_shape, source, subject = _samples(
        path, source, data_config, protocol, reference, data_dir, progress, last_iterate
    )
    data = load_split(source, data_config, protocol.split, data_dir, progress)
    stop = protocol.split_start + protocol.split_rows if protocol.split_rows else None
    real = data.x[protocol.split_start : stop]
    if len(real) < 2:
        raise EvaluationError(
            f"{source} {protocol.split} has {len(data)} rows: split_start = "
            f"{protocol.split_start} leaves {len(real)}, at least 2 are needed"
        )
    subject |= {
        "data": source,
        "split": protocol.split,
        "split_range": [protocol.split_start, protocol.split_start + len(real)],
        "split_rows": len(real),
        "samples": len(x),
    }
    real_y = data.y[protocol.split_start : stop] if data.y is not None else None
    measured = Measured(
        x, real, real_y, image_shape, source, protocol, subject, names, reference, path,
        last_iterate, data_dir, progress, data_config,
    )  # fmt: skip
    for name in names:  # refuse what cannot be computed before spending time on the rest
        METRICS[name].check(measured)
    result = Evaluation(subject, json.loads(json.dumps(asdict(protocol))))  # as read back
    for name in names:
        result.metrics[name] = METRICS[name].compute(measured)
    result.environment = {
        "advnets": _version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if write and run is not None:
        key = "reference" if reference else subject["checkpoint"]
        result.recorded_in = record(run.evaluation_path, result, key=key)
    return result


def _version() -> str:
    from advnets import __version__

    return __version__


def record(target: Path, result: Evaluation, key: str) -> Path:
    """Merge `result` into the evaluation record `target` (RUN/evaluation.json) under `key`,
    atomically; other keys are kept."""
    from advnets.io import atomic_write_text

    book = {}
    if target.is_file():
        try:
            book = json.loads(target.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            book = None
        if not isinstance(book, dict):  # damaged: kept aside, so no earlier record is lost
            import warnings

            aside = target.with_name(f"{target.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            target.rename(aside)
            warnings.warn(
                f"{target} was not a JSON object of records: moved to {aside.name}, and a new "
                "record begun",
                stacklevel=2,
            )
            book = {}
    entry = book.get(key, {})
    same_protocol = entry.get("protocol") == result.protocol
    metrics = {**(entry.get("metrics", {}) if same_protocol else {}), **result.metrics}
    book[key] = {**result.to_dict(), "metrics": metrics}
    atomic_write_text(target, json.dumps(book, indent=2, sort_keys=True) + "\n")
    return target


def format_table(result: Evaluation) -> str:
    """The metrics of one evaluation as an aligned text table."""
    rows = [
        row for name, m in result.metrics.items() for row in METRICS[name].rows(m, result.protocol)
    ]
    s = result.subject
    what = s.get("reference") or f"{s['run']} @ {s['checkpoint']}"
    head = f"{what}: {s['samples']} samples vs {s['split_rows']} {s['data']} {s['split']} rows"
    width = max((len(r[0]) for r in rows), default=0)
    vwidth = max((len(r[1]) for r in rows), default=0)
    return "\n".join([head] + [f"  {n:<{width}}  {v:>{vwidth}}  {note}" for n, v, note in rows])
