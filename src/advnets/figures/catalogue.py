"""The figures `advnets figure NAME RUN` draws from a run, each one function of (run, options).

Each reads what it needs from the run (its generator, checkpoints, log, data) and writes one PNG;
`draw` picks the figure by name and returns the file written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from advnets.errors import ArgumentError
from advnets.run import Run, open_checkpoint


@dataclass
class FigureOptions:
    """The choices of a figure; each figure reads those it has a use for."""

    seed: int = 0  # noise seed
    rows: int = 6  # rows of images
    cols: int = 8  # columns of images
    steps: str | None = None  # toy1d: the steps to draw, e.g. "500,1000,2000,5000"
    samples: int = 2500  # modes: samples drawn (the protocol's)
    label: int | None = None  # a conditional model's class (neighbours, interpolation)
    last_iterate: bool = False  # G as last trained, not the average of its weights
    data_dir: str | None = None  # folder of the data files


@dataclass(frozen=True)
class Figure:
    description: str
    draw: Callable[[Run, Path, Path, FigureOptions], None]  # (run, checkpoint, out, options)


def _generator(folder: Path, o: FigureOptions, images: str | None = None):
    from advnets.sample import load_generator

    trained = load_generator(folder, average=not o.last_iterate)
    if images and not trained.image_shape:
        raise ArgumentError(
            f"the {images} figure shows images; {trained.config.data.source} holds points"
        )
    if images:
        if o.rows < 1 or o.cols < 2:
            raise ArgumentError(
                f"--rows {o.rows} --cols {o.cols}: need at least 1 row and 2 columns"
            )
        trained.check_label(o.label)
    return trained


def _curves(run: Run, folder: Path, out: Path, o: FigureOptions) -> None:
    from advnets.figures.plots import save_curves

    rows = run.metrics(complete=True)
    if not rows:
        raise ArgumentError(f"{run.metrics_path} holds no log rows yet")
    save_curves(rows, out)


def _toy1d(run: Run, folder: Path, out: Path, o: FigureOptions) -> None:
    from advnets.figures.toy1d import save_toy1d_figure

    save_toy1d_figure(four_checkpoints(run, folder, o.steps), out, seed=o.seed)


def _modes(run: Run, folder: Path, out: Path, o: FigureOptions) -> None:
    from advnets.data.toy import TOYS
    from advnets.figures.modes import save_modes_figure
    from advnets.metrics.modes import mode_coverage

    trained = _generator(folder, o)
    toy = TOYS.get(trained.config.data.source)
    if toy is None or toy.dim != 2:
        raise ArgumentError(
            f"the modes figure draws a 2-D toy mixture (ring-2d, grid-2d); "
            f"{trained.config.data.source} is not one"
        )
    x = trained.sample(o.samples, seed=o.seed)
    means = toy.means_tensor()
    coverage = mode_coverage(x, means, toy.std)
    title = f"{run.root.name} @ step {trained.step}: "
    save_modes_figure(x.numpy(), means.numpy(), toy.std, coverage, out, title=title)


def _neighbours(run: Run, folder: Path, out: Path, o: FigureOptions) -> None:
    from advnets.data import from_config
    from advnets.figures.neighbours import save_neighbour_figure

    trained = _generator(folder, o, "neighbours")
    train = from_config(trained.config.data, "train", o.data_dir)
    samples = trained.sample(o.rows * (o.cols - 1), seed=o.seed, label=o.label)
    save_neighbour_figure(samples, train.x, trained.image_shape, out, rows=o.rows, cols=o.cols)


def _interpolation(run: Run, folder: Path, out: Path, o: FigureOptions) -> None:
    from advnets.figures.grid import save_grid
    from advnets.figures.interpolate import interpolation_noise

    trained = _generator(folder, o, "interpolation")
    g = trained.config.generator
    gen = torch.Generator().manual_seed(o.seed + 1)
    row_classes = trained.classes(o.rows, o.label, gen)  # one class per row, when conditional
    classes = None if row_classes is None else row_classes.repeat_interleave(o.cols)
    z = interpolation_noise(g.prior, g.noise_dim, o.rows, o.cols, seed=o.seed)
    with torch.no_grad():
        images = trained.G(z, classes)
    save_grid(images.view(-1, *trained.image_shape), out, nrow=o.cols, scale=3)


def _classes(run: Run, folder: Path, out: Path, o: FigureOptions) -> None:
    from advnets.figures.classes import class_rows
    from advnets.figures.grid import save_grid

    trained = _generator(folder, o, "classes")
    if not trained.num_classes:
        raise ArgumentError(
            f"the classes figure needs a class-conditional run; {folder} is "
            "unconditional (condition.kind = none)"
        )
    g = trained.config.generator
    images = class_rows(trained.G, trained.num_classes, g.prior, g.noise_dim, o.cols, seed=o.seed)
    save_grid(images.view(-1, *trained.image_shape), out, nrow=o.cols, scale=3)


def _reconstruction(run: Run, folder: Path, out: Path, o: FigureOptions) -> None:
    from advnets.data import load
    from advnets.figures.grid import save_grid
    from advnets.inference import encode, load_encoder
    from advnets.sample import load_generator

    trained = _generator(folder, o, "reconstruction")
    E, _ = load_encoder(run.root)
    n = o.rows * o.cols
    x = load(trained.config.data.source, "test", o.data_dir).x[:n]
    if len(x) < n:
        raise ArgumentError(
            f"--rows {o.rows} --cols {o.cols} asks for {n} test images; "
            f"{trained.config.data.source} has {len(x)}"
        )
    # a BiGAN's E was trained against the G of its checkpoint, not against G's average
    bigan = trained.config.encoder.kind != "none"
    G = load_generator(folder, average=False).G if bigan else trained.G
    with torch.no_grad():
        back = G(encode(E, x))
    pairs = torch.stack([x.view(o.rows, o.cols, -1), back.view(o.rows, o.cols, -1)], 1)
    save_grid(pairs.reshape(-1, *trained.image_shape), out, nrow=o.cols, scale=3)


FIGURES: dict[str, Figure] = {
    "neighbours": Figure(
        "the paper's Figure 2: samples, the rightmost column the nearest training image",
        _neighbours,
    ),
    "interpolation": Figure(
        "the paper's Figure 3: rows of images along straight lines in z space", _interpolation
    ),
    "toy1d": Figure(
        "the paper's Figure 1: p_data, p_g, D and x = G(z) at four checkpoints of a "
        "gaussian-1d run",
        _toy1d,
    ),
    "curves": Figure("training curves: both losses, mean D(x) and D(G(z))", _curves),
    "classes": Figure(
        "a conditional model: one row per class, the same noise down each column", _classes
    ),
    "reconstruction": Figure(
        "test images x above G(E(x)), E the run's fitted encoder (advnets encoder)",
        _reconstruction,
    ),
    "modes": Figure(
        "a 2-D toy run: samples over the mixture's modes, covered and missed (PacGAN's protocol)",
        _modes,
    ),
}
PAPER_NAMES = {"fig1": "toy1d", "fig2": "neighbours", "fig3": "interpolation"}


def draw(name: str, path: str | Path, out: str | Path | None = None, options=None) -> Path:
    """Draw figure `name` (or fig1, fig2, fig3) of the run or checkpoint at `path` into `out`
    (default RUN/figures/NAME.png); returns the file written."""
    name = PAPER_NAMES.get(name, name)
    if name not in FIGURES:
        raise ArgumentError(
            f"unknown figure {name!r}; valid: {', '.join(FIGURES)}, {', '.join(PAPER_NAMES)}"
        )
    run, folder = open_checkpoint(path)
    out = Path(out) if out else run.figures_dir / f"{name}.png"
    FIGURES[name].draw(run, folder, out, options or FigureOptions())
    return out


def four_checkpoints(run: Run, folder: Path, steps: str | None) -> list[Path]:
    """The checkpoints nearest to the requested steps, else four spread from first to last."""
    done = run.checkpoints() or [folder]
    step_of = {p: int(p.name.split("-")[1]) for p in done}
    if steps:
        try:
            wanted = [int(s) for s in steps.split(",")]
        except ValueError:
            raise ArgumentError(
                f"--steps {steps!r}: give step numbers like 500,1000,2000,5000"
            ) from None
        return [min(done, key=lambda p: abs(step_of[p] - w)) for w in wanted]
    if len(done) < 4:
        raise ArgumentError(
            f"{run.root} keeps {len(done)} checkpoint(s); Figure 1 draws four moments of "
            "training: train with --train.checkpoint_every S --train.keep_checkpoints 10 or more"
        )
    return [done[round(i * (len(done) - 1) / 3)] for i in range(4)]
