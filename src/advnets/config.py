"""Typed run configuration: the single source of truth for a run.

A `Config` is a tree of dataclasses. Presets are TOML files in `advnets/presets/`; a TOML file of
the user's is merged over a preset; each field can then be overridden on the command line as
``--section.field value``. The resolved config is printed by ``--dry-run`` and saved in every run
and checkpoint. Unknown keys and bad values are rejected with the list of what would be valid.

The defaults are the reference code's MNIST setting (goodfeli/adversarial, mnist.yaml).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union

from advnets.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _bounds(lo=None, hi=None, *, lo_open=False):
    return {"lo": lo, "hi": hi, "lo_open": lo_open}


@dataclass
class DataConfig:
    # images: a folder of your images; array: a .npy/.npz file of yours; cifar10: CIFAR-10's
    # binary files; twemoji: 3,786 colour emoji (advnets.data.sources).
    source: Literal[
        "mnist",
        "fashion-mnist",
        "digits",
        "cifar10",
        "twemoji",
        "gaussian-1d",
        "ring-2d",
        "grid-2d",
        "images",
        "array",
    ] = "mnist"
    # Folder holding the IDX files; else $ADVNETS_DATA, else the per-user cache folder.
    dir: str | None = None
    # The folder of images or the array file (images, array); CIFAR-10's folder of .bin files
    # (else dir/cifar-10-batches-bin); Twemoji's folder of PNGs (else dir/twemoji).
    path: str | None = None
    # A folder's images are resized (shorter side) and centre-cropped to image_size x image_size,
    # or with resize = false must already be that size.
    image_size: int = field(default=32, metadata=_bounds(2))
    resize: bool = True
    # auto: grayscale when every image's three channels are equal, else RGB.
    color: Literal["auto", "grayscale", "rgb"] = "auto"
    # What a folder's transparent pixels show: white, black, or a colour #rrggbb.
    background: str = "white"
    # Fetch missing IDX files from the public mirrors (checksummed).
    download: bool = True
    # Number of training points drawn from a toy distribution (its fixed training set).
    toy_size: int = field(default=50_000, metadata=_bounds(1))


@dataclass
class GeneratorConfig:
    # mlp: the paper's multilayer perceptron, `hidden` its layer widths; dcgan: a convolutional
    # generator (Radford et al., 2016) for images, `hidden` its channel widths, one per doubling
    # of the image side (advnets.nn.conv).
    kind: Literal["mlp", "dcgan"] = "mlp"
    noise_dim: int = field(default=100, metadata=_bounds(1))
    # uniform: U[-sqrt(3), sqrt(3)] (unit variance, as the reference code); gaussian: N(0, 1).
    prior: Literal["uniform", "gaussian"] = "uniform"
    hidden: list[int] = field(default_factory=lambda: [1200, 1200])
    activation: Literal["relu", "leaky_relu", "tanh", "softplus"] = "relu"
    # Batch normalisation of every hidden layer before its activation (Ioffe & Szegedy, 2015):
    # batch statistics in training, running ones when sampling.
    batch_norm: bool = False
    # sigmoid for pixels in [0, 1]; linear for real-valued data (the toy distributions).
    output: Literal["sigmoid", "linear"] = "sigmoid"
    # paper: weights uniform in +-init_range, biases zero; pytorch: PyTorch's default init.
    init: Literal["paper", "pytorch"] = "paper"
    init_range: float = field(default=0.05, metadata=_bounds(0.0, lo_open=True))
    # Output bias from the training data: for a sigmoid output the logit of the pixel means,
    # clipped to [1e-3, 1 - 1e-3] (the reference code); for a linear output the data mean.
    output_bias_from_data: bool = True


@dataclass
class DiscriminatorConfig:
    # mlp: the paper's perceptron; dcgan: strided convolutions for images, `hidden` their channel
    # widths, one per halving of the image side (advnets.nn.conv).
    kind: Literal["mlp", "dcgan"] = "mlp"
    # maxout: the paper's units (`pieces` affine maps each); relu, leaky_relu (slope 0.2).
    unit: Literal["maxout", "relu", "leaky_relu"] = "maxout"
    hidden: list[int] = field(default_factory=lambda: [240, 240])
    pieces: int = field(default=5, metadata=_bounds(1))
    # Dropout keep probabilities on the input of the first layer and of every later layer.
    input_keep: float = field(default=0.8, metadata=_bounds(0.0, 1.0, lo_open=True))
    hidden_keep: float = field(default=0.5, metadata=_bounds(0.0, 1.0, lo_open=True))
    # Gaussian noise of this standard deviation added, in training, to the input of the first
    # layer and of every later layer (Salimans et al., 2016); 0: none.
    input_noise: float = field(default=0.0, metadata=_bounds(0.0))
    hidden_noise: float = field(default=0.0, metadata=_bounds(0.0))
    # Weight normalisation of every layer: w = g v / ||v|| (Salimans & Kingma, 2016).
    weight_norm: bool = False
    # paper: uniform in +-init_range, biases zero; pytorch: PyTorch's default; data: PyTorch's
    # default, then every layer scaled and shifted so that its outputs on a batch of training
    # images have mean 0 and variance 1 (data-dependent init, Salimans & Kingma 2016).
    init: Literal["paper", "pytorch", "data"] = "paper"
    init_range: float = field(default=0.005, metadata=_bounds(0.0, lo_open=True))
    # Shift and scale D's input by the training data's mean and standard deviation (fixed, saved
    # with the weights). For data far from the origin, such as the 1-D toy at mean 4: otherwise
    # every maxout unit's kinks lie outside the data and D starts, and stays, nearly linear.
    standardize_input: bool = False
    # Spectral normalisation of every layer: w / sigma_max(w), sigma by one power iteration per
    # training forward pass (Miyato et al., 2018).
    spectral_norm: bool = False
    # dcgan only: batch normalisation in every convolutional block but the first (DCGAN's D). D sees
    # real and generated batches separately, so each is normalised by its own statistics.
    batch_norm: bool = False
    # PacGAN (Lin et al., 2018): D judges `pack` examples at once, concatenated into one input, all
    # real or all generated; it then sees the diversity of a set, which penalises mode collapse.
    pack: int = field(default=1, metadata=_bounds(1))


@dataclass
class PenaltyConfig:
    """Penalties on D's input gradient, added to D's loss (advnets.penalties); 0 turns one off."""

    # lambda of WGAN-GP's (||grad D(x_hat)|| - 1)^2 at points between real and generated images
    gradient: float = field(default=0.0, metadata=_bounds(0.0))
    # gamma of R1's (gamma / 2) ||grad D(x)||^2 on real images
    r1: float = field(default=0.0, metadata=_bounds(0.0))


AUGMENT_TRANSFORMS = ("color", "translation", "cutout")  # DiffAugment's, in the order applied


def augment_policy(text: str) -> tuple[str, ...]:
    """augment.policy as the transforms it names, in the order applied; () for 'none'."""
    if text.strip() == "none":
        return ()
    names = [part.strip() for part in text.split(",")]
    if not set(names) <= set(AUGMENT_TRANSFORMS) or len(set(names)) != len(names):
        raise ConfigError(
            f"augment.policy = {text!r} is not valid: give 'none', or transforms from "
            f"{', '.join(AUGMENT_TRANSFORMS)} separated by commas, each once"
        )
    return tuple(n for n in AUGMENT_TRANSFORMS if n in names)


@dataclass
class AugmentConfig:
    """Differentiable augmentation of every image D sees, real and generated, in D's updates and
    G's (DiffAugment, Zhao et al. 2020; advnets.augment): for small data sets."""

    # none, or transforms from color, translation, cutout separated by commas
    policy: str = "none"


@dataclass
class OptimConfig:
    name: Literal["sgd", "adam"] = "sgd"
    lr: float = field(default=0.1, metadata=_bounds(0.0, lo_open=True))
    # G's own learning rate (two time-scale updates); unset: G uses lr, as in the paper.
    lr_g: float | None = field(default=None, metadata=_bounds(0.0, lo_open=True))
    # The learning rate is divided by lr_decay after every update of that player, down to lr_min.
    lr_decay: float = field(default=1.000004, metadata=_bounds(1.0))
    lr_min: float = field(default=1e-6, metadata=_bounds(0.0))
    # SGD momentum: momentum_start in epoch 1, linear to momentum_end at epoch momentum_ramp_epochs.
    momentum_start: float = field(default=0.5, metadata=_bounds(0.0, 1.0))
    momentum_end: float = field(default=0.7, metadata=_bounds(0.0, 1.0))
    momentum_ramp_epochs: int = field(default=250, metadata=_bounds(1))
    beta1: float = field(default=0.5, metadata=_bounds(0.0, 1.0))
    beta2: float = field(default=0.999, metadata=_bounds(0.0, 1.0))


@dataclass
class TrainConfig:
    seed: int = 0
    batch_size: int = field(default=100, metadata=_bounds(1))
    epochs: int = field(default=300, metadata=_bounds(1))
    # Stop after this many generator updates in all (counting from the start of the run).
    max_steps: int | None = field(default=None, metadata=_bounds(1))
    # Discriminator steps per generator step (Algorithm 1's k).
    k: int = field(default=1, metadata=_bounds(1))
    # non-saturating: G maximises log D(G(z)); minimax: G minimises log(1 - D(G(z)));
    # feature-matching: G matches the mean of D's last hidden layer on real data (Salimans et al.,
    # 2016);
    # hinge, least-squares, wasserstein: those games' D and G losses (advnets.losses).
    objective: Literal[
        "non-saturating", "minimax", "feature-matching", "hinge", "least-squares", "wasserstein"
    ] = "non-saturating"
    # simultaneous: both gradients from one minibatch, applied together (the reference code);
    # alternating: Algorithm 1 as printed, k D updates then one G update on fresh noise.
    update: Literal["simultaneous", "alternating"] = "simultaneous"
    # cpu, cuda, cuda:N or mps. Under torchrun each process takes cuda:LOCAL_RANK when this is cuda.
    device: str = "cpu"
    # fp32: full precision (the CPU default; results bit-identical run to run). bf16, fp16: the
    # forward passes under autocast at that precision; fp16 adds a gradient scaler.
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    # A loss or gradient that is not finite: stop (an error naming the step and the tensor; the
    # last checkpoint stays as it was), or skip that update and count it (logged as `skipped`).
    nonfinite: Literal["stop", "skip"] = "stop"
    # Treat subnormal floats as zero on the CPU. Once D saturates, its gradients underflow into
    # the subnormal range, where x86 arithmetic is slow: the paper's MNIST setting trained 1.49x
    # slower without it (docs/recipes.md).
    flush_denormal: bool = True
    log_every: int = field(default=100, metadata=_bounds(1))
    # Checkpoint every this many steps; none: at the end of every epoch.
    checkpoint_every: int | None = field(default=None, metadata=_bounds(1))
    # Keep the newest this many checkpoints; the one just written (and verified) is never deleted.
    keep_checkpoints: int = field(default=2, metadata=_bounds(1))
    # Write a sample grid every this many epochs (from a fixed noise batch).
    sample_every: int = field(default=1, metadata=_bounds(1))
    # Also write the logged scalars and the sample grids for TensorBoard, to RUN/tensorboard/
    # (needs the tensorboard package: pip install 'advnets[tensorboard]').
    tensorboard: bool = False


@dataclass
class AverageConfig:
    """A running average of G's weights, used for sampling and evaluation (advnets.train.average).
    Training itself is unchanged: D always plays against the current G."""

    # none: sample from G as trained; ema: an exponential moving average of G's iterates.
    kind: Literal["none", "ema"] = "none"
    # After the n-th generator step averaged: avg <- avg + w (G - avg), w = max(1 - decay, 1/n).
    # So the first 1/(1 - decay) iterates get the plain mean (no pull towards the first one),
    # later ones the moving average; decay = 1 keeps the plain mean throughout (Polyak-Ruppert).
    decay: float = field(default=0.9999, metadata=_bounds(0.0, 1.0))
    # The same set as a half-life: the weight of an iterate halves every `half_life` generator
    # steps, i.e. decay = 0.5 ** (1 / half_life); setting either one sets the other.
    half_life: float | None = field(default=None, metadata=_bounds(0.0, lo_open=True))
    # The first epoch (0-based) whose iterates are averaged: early ones are far from any good G.
    start_epoch: int = field(default=0, metadata=_bounds(0))
    # Also average D's weights in the same way, after every step: `advnets classify` then scores
    # the averaged D. Salimans et al.'s code tests its semi-supervised D so; the trained D's test
    # error jumps by a point from one checkpoint to the next.
    discriminator: bool = False


@dataclass
class ConditionConfig:
    """A class-conditional model p(x | c), the paper's section 7, extension 1 (advnets.nn.mlp).
    The class c is drawn from the training labels' frequencies for G's samples."""

    # none: p(x). concat: the one-hot class joins G's noise and D's input (after D's input
    # dropout, so the class is never dropped). projection: G as concat; D adds the inner product
    # of a learned class embedding with its last hidden layer to its logit (Miyato & Koyama, 2018).
    kind: Literal["none", "concat", "projection"] = "none"
    # > 0: D also classifies x with a K-way head on its last hidden layer; D learns it on the real
    # images' labels, and G is asked for samples it classifies as c, each weighted by this
    # (an auxiliary classifier, Odena et al. 2017, learned from real images only). 0: no head.
    auxiliary_weight: float = field(default=0.0, metadata=_bounds(0.0))


@dataclass
class EncoderConfig:
    """An inference network E(x) -> z trained jointly with G, the paper's section 7, extension 2, as
    BiGAN / ALI (Donahue et al.; Dumoulin et al., 2017): D judges pairs, (x, E(x)) from the data
    against (G(z), z), and G and E play together against it. (To fit E to a finished G instead, by
    regression on (G(z), z): `advnets encoder RUN`.)"""

    kind: Literal["none", "bigan"] = "none"
    hidden: list[int] = field(default_factory=lambda: [1200, 1200])


@dataclass
class SemiConfig:
    """Semi-supervised learning, the paper's section 7, extension 4 (advnets.train.semi): D is a
    classifier over the K classes, its "real" logit log sum_k exp(l_k) (Salimans et al., 2016);
    it learns the classes from a few labelled training images and real-vs-generated from all."""

    # labelled training images per class (class-balanced); 0: an ordinary, unsupervised GAN
    labels_per_class: int = field(default=0, metadata=_bounds(0))
    # the draw of the labelled images from the training split
    label_seed: int = 0
    # weight of the real-vs-generated part of D's loss beside the labelled images' cross-entropy
    unsupervised_weight: float = field(default=1.0, metadata=_bounds(0.0))


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    average: AverageConfig = field(default_factory=AverageConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    semi: SemiConfig = field(default_factory=SemiConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return to_toml(self.to_dict())


# Fields that may change when a run is resumed: they decide when to stop and what to write,
# not the mathematics of the steps already taken or still to take.
RESUMABLE_FIELDS = frozenset(
    {
        "train.epochs",
        "train.max_steps",
        "train.log_every",
        "train.checkpoint_every",
        "train.keep_checkpoints",
        "train.sample_every",
        "train.device",
        "train.nonfinite",
        "train.tensorboard",
        "data.dir",
        "data.download",
        "data.path",
    }
)


# ---------------------------------------------------------------------------------------------
# Field introspection


def sections() -> dict[str, type]:
    hints = _hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config)}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def field_paths() -> dict[str, tuple[Any, dataclasses.Field]]:
    """Every leaf field as 'section.name' -> (type, dataclass field)."""
    out = {}
    for sec, sec_cls in sections().items():
        hints = _hints(sec_cls)
        for f in dataclasses.fields(sec_cls):
            out[f"{sec}.{f.name}"] = (hints[f.name], f)
    return out


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, getattr(types, "UnionType", Union)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def describe_type(tp: Any) -> str:
    inner, optional = _unwrap_optional(tp)
    if typing.get_origin(inner) is Literal:
        text = "one of " + ", ".join(repr(a) for a in typing.get_args(inner))
    elif typing.get_origin(inner) is list:
        text = "a list of " + typing.get_args(inner)[0].__name__ + " (e.g. 1200,1200)"
    elif inner is bool:
        text = "true or false"
    else:
        text = {"int": "an integer", "float": "a number", "str": "a string"}.get(
            inner.__name__, inner.__name__
        )
    return text + (" or none" if optional else "")


def _check_bounds(path: str, value: Any, meta: Any) -> None:
    if value is None or not meta:
        return
    lo, hi, lo_open = meta.get("lo"), meta.get("hi"), meta.get("lo_open")
    bad = (lo is not None and (value < lo or (lo_open and value == lo))) or (
        hi is not None and value > hi
    )
    if bad:
        left = "(" if lo_open else "["
        rng = f"{left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise ConfigError(f"{path} = {value!r} is out of range: expected a value in {rng}")


def coerce(path: str, value: Any, tp: Any, *, from_text: bool) -> Any:
    """Check (TOML) or parse (command line) one value against its declared type."""
    inner, optional = _unwrap_optional(tp)
    expected = describe_type(tp)

    def fail() -> typing.NoReturn:
        raise ConfigError(f"{path} = {value!r} is not valid: expected {expected}")

    if (
        from_text
        and isinstance(value, str)
        and optional
        and value.strip().lower() in ("none", "null")
    ):
        return None
    if value is None:
        if optional:
            return None
        fail()
    if typing.get_origin(inner) is Literal:
        choices = typing.get_args(inner)
        if value not in choices:
            fail()
        return value
    if typing.get_origin(inner) is list:
        item_tp = typing.get_args(inner)[0]
        text_form = from_text and isinstance(value, str)
        if not text_form and not isinstance(value, list):
            fail()
        items = (
            [t.strip() for t in value.strip().strip("[]").split(",") if t.strip()]
            if text_form
            else value
        )
        try:
            return [coerce(path, v, item_tp, from_text=text_form) for v in items]
        except ConfigError:
            fail()
    if inner is bool:
        if from_text and isinstance(value, str):
            low = value.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            fail()
        if not isinstance(value, bool):
            fail()
        return value
    if inner is int:
        if from_text and isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                fail()
        if isinstance(value, bool) or not isinstance(value, int):
            fail()
        return value
    if inner is float:
        if from_text and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                fail()
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        else:
            number = float(value)
        if not math.isfinite(number):  # NaN slips through every range check; inf is no rate
            finite = "a finite number" + (" or none" if optional else "")
            raise ConfigError(f"{path} = {value!r} is not valid: expected {finite}")
        return number
    if inner is str:
        if not isinstance(value, str):
            fail()
        return value
    raise TypeError(f"unsupported config type {tp!r} for {path}")  # a bug in this module


# ---------------------------------------------------------------------------------------------
# Building configs


def apply(
    config: Config, values: dict[str, Any], *, source: str, from_text: bool = False
) -> Config:
    """Return a copy of `config` with nested `values` ({section: {field: value}}) merged in."""
    known = field_paths()
    secs = sections()
    new = {name: dataclasses.replace(getattr(config, name)) for name in secs}
    for sec, sub in values.items():
        if sec not in secs:
            raise ConfigError(
                f"{source}: unknown section [{sec}]; valid sections: {', '.join(secs)}"
            )
        if not isinstance(sub, dict):
            raise ConfigError(f"{source}: [{sec}] must be a table of fields, got {sub!r}")
        for name, value in sub.items():
            path = f"{sec}.{name}"
            if path not in known:
                valid = [p.split(".", 1)[1] for p in known if p.startswith(sec + ".")]
                raise ConfigError(
                    f"{source}: unknown key {path!r}; valid keys of [{sec}]: {', '.join(valid)}"
                )
            tp, f = known[path]
            parsed = coerce(path, value, tp, from_text=from_text)
            _check_bounds(path, parsed, f.metadata)
            setattr(new[sec], name, parsed)
    # The average's decay and half-life are one setting: whichever of them this source sets
    # decides the other (one set over a preset that set the other replaces it).
    avg = values.get("average", {})
    if avg.get("half_life") is not None and "decay" not in avg:
        new["average"].decay = 0.5 ** (1.0 / new["average"].half_life)
    elif "decay" in avg and "half_life" not in avg:
        new["average"].half_life = None
    out = Config(**new)
    validate(out)
    return out


TOY_SOURCES = ("gaussian-1d", "ring-2d", "grid-2d")  # points, no labels, no images
# The objectives of the paper's game, whose D is a probability sigmoid(l): what the semi-supervised
# D's log-sum-exp logit and BiGAN's flipped-logit encoder objective are defined for.
PAPER_OBJECTIVES = ("non-saturating", "minimax", "feature-matching")


def validate(config: Config) -> None:
    """Rules that involve more than one field."""
    t = config.train
    background = config.data.background
    if background not in ("white", "black") and not re.fullmatch(r"#[0-9a-fA-F]{6}", background):
        raise ConfigError(
            f"data.background = {background!r} is not valid: expected white, black or a "
            "colour #rrggbb"
        )
    if augment_policy(config.augment.policy):
        if config.data.source in TOY_SOURCES:
            raise ConfigError(
                f"augment.policy = {config.augment.policy!r} transforms images, and data.source = "
                f"{config.data.source!r} is points: use augment.policy = 'none'"
            )
        if config.encoder.kind != "none":
            raise ConfigError(
                "augment.policy transforms the images D judges, and a BiGAN D judges (x, z) "
                "pairs whose code belongs to the untransformed x: use augment.policy = 'none'"
            )
    if t.update == "simultaneous" and t.k != 1:
        raise ConfigError(
            f"train.k = {t.k} needs train.update = 'alternating': with 'simultaneous' updates both "
            "gradients come from one minibatch, so k must be 1"
        )
    if config.data.source in TOY_SOURCES and config.generator.output == "sigmoid":
        raise ConfigError(
            f"generator.output = 'sigmoid' cannot fit data.source = {config.data.source!r}, whose "
            "values "
            "are not in [0, 1]: use generator.output = 'linear'"
        )
    if config.condition.kind != "none" and config.data.source in TOY_SOURCES:
        raise ConfigError(
            f"condition.kind = {config.condition.kind!r} needs class labels, and data.source = "
            f"{config.data.source!r} has none: use mnist, fashion-mnist or digits, or "
            "condition.kind = 'none'"
        )
    if config.condition.auxiliary_weight and config.condition.kind != "projection":
        raise ConfigError(
            "condition.auxiliary_weight > 0 needs condition.kind = 'projection': with 'concat' D's "
            "classifier would see the class it is to predict, and with 'none' G is asked for no "
            "class"
        )
    if config.semi.labels_per_class:
        if config.data.source in TOY_SOURCES:
            raise ConfigError(
                "semi.labels_per_class needs class labels, and data.source = "
                f"{config.data.source!r} "
                "has none: use mnist, fashion-mnist, digits, cifar10, or your labelled data"
            )
        if config.condition.kind != "none":
            raise ConfigError(
                "semi.labels_per_class > 0 makes D a classifier of x alone: use condition.kind = "
                "'none'"
            )
    if config.encoder.kind != "none":
        if config.condition.kind != "none" or config.semi.labels_per_class:
            raise ConfigError(
                "encoder.kind = 'bigan' trains an unconditional, unsupervised pair: use "
                "condition.kind = 'none' and semi.labels_per_class = 0"
            )
        if config.train.objective == "feature-matching":
            raise ConfigError(
                "encoder.kind = 'bigan' needs an adversarial objective for G and E: use "
                "train.objective = 'non-saturating' or 'minimax'"
            )
        if not config.encoder.hidden or min(config.encoder.hidden) < 1:
            raise ConfigError(
                f"encoder.hidden = {config.encoder.hidden} is not valid: give widths >= 1, e.g. "
                "1200,1200"
            )
    if config.train.objective == "feature-matching" and config.condition.kind != "none":
        raise ConfigError(
            "train.objective = 'feature-matching' matches the features of an unconditional D: "
            "use condition.kind = 'none'"
        )
    if config.average.discriminator and config.average.kind == "none":
        raise ConfigError(
            "average.discriminator = true averages D like G, so it needs average.kind = "
            '"ema" (with average.decay or average.half_life)'
        )
    h = config.average.half_life
    if h is not None and config.average.decay != 0.5 ** (1.0 / h):
        raise ConfigError(
            f"average.half_life = {h} means average.decay = {0.5 ** (1.0 / h)!r}, not "
            f"{config.average.decay!r}: set one of them"
        )
    objective = config.train.objective
    if objective not in PAPER_OBJECTIVES and (
        config.semi.labels_per_class or config.encoder.kind != "none"
    ):
        raise ConfigError(
            f"train.objective = {objective!r} is not defined for a semi-supervised D or a BiGAN "
            "pair: "
            f"use one of {', '.join(PAPER_OBJECTIVES)}"
        )
    if (config.penalty.gradient or config.penalty.r1) and config.encoder.kind != "none":
        raise ConfigError(
            "penalty.gradient and penalty.r1 act on D's gradient in x, and a BiGAN D judges (x, z) "
            "pairs: set them to 0 with encoder.kind = 'bigan'"
        )
    for role, kind in (
        ("generator", config.generator.kind),
        ("discriminator", config.discriminator.kind),
    ):
        if kind == "dcgan" and config.data.source in TOY_SOURCES:
            raise ConfigError(
                f"{role}.kind = 'dcgan' is convolutional and needs images; data.source = "
                f"{config.data.source!r} is points: use {role}.kind = 'mlp'"
            )
    if config.discriminator.batch_norm and config.discriminator.kind != "dcgan":
        raise ConfigError(
            "discriminator.batch_norm is for discriminator.kind = 'dcgan'; an mlp D regularises "
            "with "
            "dropout (input_keep, hidden_keep) or noise"
        )
    if config.discriminator.batch_norm and (config.penalty.gradient or config.penalty.r1):
        raise ConfigError(
            "penalty.gradient and penalty.r1 need D's output of each image to depend on that image "
            "alone; batch norm mixes the batch: set discriminator.batch_norm = false"
        )
    if config.discriminator.kind == "dcgan":
        if config.discriminator.unit == "maxout":
            raise ConfigError(
                "discriminator.kind = 'dcgan' has convolutional units: set discriminator.unit = "
                "'leaky_relu' (DCGAN's) or 'relu'"
            )
        if config.condition.kind == "concat" or config.encoder.kind != "none":
            raise ConfigError(
                "discriminator.kind = 'dcgan' judges images alone: condition it with "
                "condition.kind = "
                "'projection' (not 'concat'), and use an mlp D for encoder.kind = 'bigan'"
            )
    if t.precision == "fp16" and (config.penalty.gradient or config.penalty.r1):
        raise ConfigError(
            "train.precision = 'fp16' scales the losses for its gradient scaler, and the penalties "
            "differentiate D inside the loss: use train.precision = 'bf16' or 'fp32' with penalties"
        )
    pack = config.discriminator.pack
    if pack > 1:
        if (
            config.discriminator.kind != "mlp"
            or config.condition.kind != "none"
            or config.semi.labels_per_class
            or config.encoder.kind != "none"
        ):
            raise ConfigError(
                f"discriminator.pack = {pack} needs an unconditional, unsupervised mlp D: use "
                "discriminator.kind = 'mlp', condition.kind = 'none', semi.labels_per_class = 0 "
                "and "
                "encoder.kind = 'none'"
            )
        if config.train.batch_size % pack:
            raise ConfigError(
                f"train.batch_size = {config.train.batch_size} is not a multiple of "
                "discriminator.pack "
                f"= {pack}: D judges the batch in sets of {pack}"
            )
    if config.discriminator.weight_norm and config.discriminator.spectral_norm:
        raise ConfigError(
            "discriminator.weight_norm and discriminator.spectral_norm both reparametrise D's "
            "weights: "
            "choose one"
        )
    if config.discriminator.init == "data" and (
        config.condition.kind != "none" or config.encoder.kind != "none"
    ):
        raise ConfigError(
            "discriminator.init = 'data' initialises a D of x alone: use discriminator.init = "
            "'pytorch' or 'paper' with condition.kind or encoder.kind set"
        )
    if not config.generator.hidden:
        raise ConfigError("generator.hidden must list at least one layer width, e.g. 1200,1200")
    if not config.discriminator.hidden:
        raise ConfigError("discriminator.hidden must list at least one layer width, e.g. 240,240")
    for path, widths in (
        ("generator.hidden", config.generator.hidden),
        ("discriminator.hidden", config.discriminator.hidden),
    ):
        if any(w < 1 for w in widths):
            raise ConfigError(f"{path} = {widths} is not valid: every width must be >= 1")


def check(config: Config, *, source: str = "config") -> None:
    """ConfigError unless every field of `config` has its declared type and range and the rules
    across fields hold: the checks of a config file, for a config built or edited in Python."""
    secs = sections()
    if not isinstance(config, Config):
        raise ConfigError(f"{source}: expected an advnets Config, got {type(config).__name__}")
    for name, cls in secs.items():
        if not isinstance(getattr(config, name), cls):
            raise ConfigError(f"{source}: [{name}] must be a {cls.__name__}")
    apply(Config(), config.to_dict(), source=source)


def from_dict(values: dict[str, Any], *, source: str = "config") -> Config:
    return apply(Config(), values, source=source)


def preset_names() -> list[str]:
    folder = resources.files("advnets") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> Config:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}; valid presets: {', '.join(names)}")
    text = (resources.files("advnets") / "presets" / f"{name}.toml").read_text()
    return from_dict(tomllib.loads(text), source=f"preset {name}")


def load_toml(path: str | Path, base: Config | None = None) -> Config:
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not text (UTF-8): give a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    return apply(base or Config(), values, source=str(path))


def load_json(path: str | Path) -> Config:
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is not a readable JSON config ({err}): it is damaged") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} holds a JSON {type(values).__name__}, not a config object")
    return from_dict(values, source=str(path))


def changed_fields(a: Config, b: Config) -> list[str]:
    da, db = a.to_dict(), b.to_dict()
    return [f"{s}.{k}" for s in da for k in da[s] if da[s][k] != db[s][k]]


def to_toml(values: dict[str, dict[str, Any]]) -> str:
    """Write a config dict as TOML (fields set to none are written as comments)."""
    lines = []
    for sec, sub in values.items():
        lines.append(f"[{sec}]")
        for key, value in sub.items():
            if value is None:
                lines.append(f"# {key} = none")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)
