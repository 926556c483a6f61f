"""Sampling from a trained generator: a forward pass on noise, deterministic for a seed. The
generator comes from a run folder, a checkpoint folder, or a generator file (advnets export)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advnets import checkpoint, generator_file
from advnets.config import Config, from_dict
from advnets.errors import ArgumentError, NotApplicable
from advnets.nn import (
    Discriminator,
    Generator,
    build_discriminator,
    build_generator,
    sample_classes,
    sample_noise,
)
from advnets.run import Run, run_of

BLOCK = 10_000  # samples drawn from one random stream (see TrainedGenerator.sample_with_classes)


@dataclass
class TrainedGenerator:
    G: Generator
    config: Config
    image_shape: tuple[int, int] | None
    step: int
    checkpoint: Path
    # True when G holds the run's running average of its weights (config.average), not the last
    # iterate
    averaged: bool = False
    # a conditional model's p(c): the frequencies of the training labels; None when unconditional
    class_frequencies: torch.Tensor | None = None
    # the model card when G was read from a generator file (advnets.generator_file), else None
    card: dict | None = None

    @property
    def run(self) -> Run:
        """The run folder the checkpoint belongs to."""
        if self.card is not None:
            raise NotApplicable(
                f"{self.checkpoint} is a generator file, without its run folder: this needs the "
                f"run (its data, its D), so give the run folder it was exported from "
                f"({self.card['source']['run']})"
            )
        return run_of(self.checkpoint)

    @property
    def num_classes(self) -> int:
        return 0 if self.class_frequencies is None else len(self.class_frequencies)

    def check_label(self, label: int | None) -> None:
        if label is None:
            return
        if not self.num_classes:
            raise NotApplicable(
                f"{self.checkpoint} is not a class-conditional model (condition.kind = none): "
                "it cannot be asked for a label"
            )
        if not 0 <= label < self.num_classes:
            raise ArgumentError(
                f"label {label} is not a class of this model: expected 0 to {self.num_classes - 1}"
            )

    def classes(self, n: int, label: int | None = None, generator: torch.Generator | None = None):
        """n classes to ask G for: all `label`, or drawn from p(c); None for an unconditional G."""
        self.check_label(label)
        if not self.num_classes:
            return None
        if label is not None:
            return torch.full((n,), label, dtype=torch.int64)
        return sample_classes(self.class_frequencies, n, generator=generator)

    @torch.no_grad()
    def blocks(
        self,
        n: int,
        seed: int = 0,
        label: int | None = None,
        batch: int = 10_000,
        truncation: float = 1.0,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """The n samples of `sample_with_classes`, BLOCK at a time (bounded memory whatever n):
        (samples [m, D] float32 on the CPU, their classes [m] or None)."""
        check_truncation(truncation)
        self.check_label(label)
        device = next(self.G.parameters()).device
        for b, start in enumerate(range(0, n, BLOCK)):
            z, c = self.noise(min(BLOCK, n - start), block_seed(seed, b), label, truncation)
            zs = z.split(batch)
            cs = c.to(device).split(batch) if c is not None else [None] * len(zs)
            yield torch.cat([self.G(zi.to(device), ci).cpu() for zi, ci in zip(zs, cs)]), c

    def noise(
        self, m: int, seed: int, label: int | None = None, truncation: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What G is fed for one block of m <= BLOCK samples drawn from the stream `seed`: the
        noise ψ·z [m, noise_dim] and the classes [m] (None when unconditional). The first block
        of a sample seeded s is noise(m, s): feed it to an exported ONNX G for the same
        samples."""
        g = self.config.generator
        gen = torch.Generator().manual_seed(seed)
        z = sample_noise(g.prior, m, g.noise_dim, generator=gen) * truncation
        return z, self.classes(m, label, gen)

    def sample_with_classes(
        self,
        n: int,
        seed: int = 0,
        label: int | None = None,
        batch: int = 10_000,
        truncation: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n samples [n, D] (float32, CPU) and the classes [n] they were asked for (None when the
        model is unconditional). The same seed gives the same samples: block b of BLOCK samples
        draws its noise, then its classes (all `label` when given, else drawn from p(c)), from
        a random stream of its own (`block_seed`), so memory stays bounded and samples for
        n <= BLOCK are those of the first block. `truncation` ψ < 1 feeds G the noise ψ·z (see
        `check_truncation`)."""
        parts = list(self.blocks(n, seed, label, batch, truncation))
        if not parts:
            check_truncation(truncation)
            c = self.classes(0, label)
            return torch.zeros(0, 0), c
        c = None if parts[0][1] is None else torch.cat([p[1] for p in parts])
        return torch.cat([p[0] for p in parts]), c

    def sample(
        self,
        n: int,
        seed: int = 0,
        label: int | None = None,
        batch: int = 10_000,
        truncation: float = 1.0,
    ) -> torch.Tensor:
        """n samples [n, D] (float32, CPU); the same seed gives the same samples."""
        return self.sample_with_classes(n, seed, label, batch, truncation)[0]


def block_seed(seed: int, block: int) -> int:
    """The seed of block `block` of a sample seeded `seed`: the seed itself for the first BLOCK
    samples, then NumPy's SeedSequence mix of (seed, block)."""
    if block == 0:
        return seed
    entropy = [seed % 2**64, block]  # SeedSequence takes non-negative integers
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)


def check_truncation(psi: float) -> None:
    """The truncation ψ of the noise: G is fed ψ·z, the prior shrunk toward its centre (0), as
    StyleGAN's ψ pulls latents toward their mean and Glow's temperature scales its Gaussian.
    ψ = 1 is the model itself; a smaller ψ trades variety for typical samples. ψ > 1 would ask G
    about noise it never saw in training (outside the uniform prior's support), so it is refused."""
    if not isinstance(psi, (int, float)) or not 0 < psi <= 1:
        raise ArgumentError(
            f"truncation = {psi!r}: expected a number in (0, 1]; 1 samples the prior itself, "
            "smaller values shrink the noise toward the prior's centre"
        )


def _load(path: str | Path):
    folder = checkpoint.resolve(path)
    weights, _, meta = checkpoint.load(folder)
    return folder, weights, meta, from_dict(meta["config"], source=f"{folder}/state.json")


def load_generator(path: str | Path, device: str = "cpu", average: bool = True) -> TrainedGenerator:
    """The generator of a run folder (its latest checkpoint), of a checkpoint folder, or of a
    generator file (`advnets export`; it holds one set of weights, so `average` is not asked).

    When the run averages G's weights (config.average) and the average has begun, that average
    is what is loaded, unless `average` is False: it is the run's model; the last iterate is kept
    for resuming training.
    """
    if Path(path).is_file():
        trained = _load_file(Path(path), device)
        if not average and trained.averaged:
            raise ArgumentError(
                f"{path} holds the run's average of G, not its last iterate: export the run "
                "again with --last-iterate for that"
            )
        return trained
    folder, weights, meta, config = _load(path)
    freqs = meta.get("class_frequencies")
    shape = tuple(meta["image_shape"]) if meta.get("image_shape") else None
    G = build_generator(
        config.generator,
        meta["data_dim"],
        num_classes=len(freqs) if freqs else 0,
        image_shape=shape,
    )
    averaged = average and bool(meta.get("average_count"))
    prefix = checkpoint.AVERAGE_PREFIX if averaged else "generator"
    checkpoint.load_into(G, checkpoint.split_weights(weights, prefix), prefix, folder)
    G.to(device).eval()
    return TrainedGenerator(
        G,
        config,
        shape,
        meta["step"],
        folder,
        averaged,
        torch.tensor(freqs, dtype=torch.float64) if freqs else None,
    )


def _load_file(path: Path, device: str) -> TrainedGenerator:
    tensors, card = generator_file.read(path)
    net = card["architecture"]
    config = from_dict(card["config"], source=f"{path}: its model card")
    freqs = net["class_frequencies"]
    shape = tuple(net["image_shape"]) if net["image_shape"] else None
    G = build_generator(
        config.generator, net["data_dim"], num_classes=len(freqs) if freqs else 0, image_shape=shape
    )
    checkpoint.load_into(G, tensors, "generator", path)
    G.to(device).eval()
    freqs = torch.tensor(freqs, dtype=torch.float64) if freqs else None
    step, averaged = card["training"]["step"], card["training"]["weights"] == "average"
    return TrainedGenerator(G, config, shape, step, path, averaged, freqs, card)


def load_discriminator(
    path: str | Path, device: str = "cpu", average: bool = False
) -> Discriminator:
    """The discriminator of a run folder or checkpoint folder, in eval mode (no dropout): the
    trained D, or with `average` the average of its weights where the run keeps one
    (average.discriminator)."""
    folder, weights, meta, config = _load(path)
    prefix = "discriminator"
    if (
        average
        and meta.get("average_count")
        and any(k.startswith(checkpoint.D_AVERAGE_PREFIX + ".") for k in weights)
    ):
        prefix = checkpoint.D_AVERAGE_PREFIX
    freqs = meta.get("class_frequencies")
    state = checkpoint.split_weights(weights, prefix)
    D = build_discriminator(
        config,
        meta["data_dim"],
        num_classes=len(freqs) if freqs else 0,
        outputs=_discriminator_outputs(meta, config, state),
        image_shape=tuple(meta["image_shape"]) if meta.get("image_shape") else None,
    )
    checkpoint.load_into(D, state, prefix, folder)
    D.averaged = prefix == checkpoint.D_AVERAGE_PREFIX
    return D.to(device).eval()


def _discriminator_outputs(meta: dict, config: Config, state: dict[str, torch.Tensor]) -> int:
    """D's output count as its checkpoint records it: 1, or K class logits when semi-supervised.
    Checkpoints written before it was recorded: 1 unless semi-supervised, when K is the row
    count of D's last weight matrix."""
    if "d_outputs" in meta:
        return int(meta["d_outputs"])
    if not config.semi.labels_per_class:
        return 1
    last = max(int(k.split(".")[1]) for k in state if k.startswith("net."))
    return next(
        v.shape[0] for k, v in state.items() if k.startswith(f"net.{last}.") and v.ndim == 2
    )


MAX_GRID_IMAGES = 10_000  # a PNG grid of more is no picture anyone looks at (100 x 100 images)
MAX_PLOT_POINTS = 100_000  # likewise for a scatter plot of point samples


def check_picture_size(n: int, images: bool) -> None:
    limit = MAX_GRID_IMAGES if images else MAX_PLOT_POINTS
    if n > limit:
        what = "a PNG grid shows at most" if images else "a PNG plot shows at most"
        raise ArgumentError(
            f"-n {n} with --out: {what} {limit} samples; draw fewer, and write them all with "
            "--npy (which streams, whatever -n)"
        )


def write_npy(
    trained: TrainedGenerator,
    path: str | Path,
    n: int,
    seed: int = 0,
    label: int | None = None,
    truncation: float = 1.0,
) -> tuple[int, ...]:
    """The n samples of `trained.sample(n, seed, label, truncation=...)` as a float32 .npy file
    [n, D] (images: [n, H, W] or [n, C, H, W]), written a block at a time, so memory stays
    bounded whatever n, and atomically: the file appears whole or not at all. Refused up front
    if the disk has no room for it. Returns the array's shape."""
    import shutil

    from advnets.io import atomic_writer

    check_truncation(truncation)
    trained.check_label(label)
    dim = trained.sample(1, seed=seed, label=label, truncation=truncation).shape[1]
    shape = (n, *trained.image_shape) if trained.image_shape else (n, dim)
    size = 4 * n * dim
    target = Path(path)
    folder = next(p for p in (target.parent, *target.parent.parents) if p.exists())
    free = shutil.disk_usage(folder).free
    if size > free:
        raise ArgumentError(
            f"-n {n}: {target} would take {size / 2**30:.1f} GiB and {folder} has "
            f"{free / 2**30:.1f} GiB free"
        )
    with atomic_writer(target) as f:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
                  "shape": shape}  # fmt: skip
        np.lib.format.write_array_header_1_0(f, header)
        for x, _ in trained.blocks(n, seed, label, truncation=truncation):
            f.write(x.numpy().astype("<f4", copy=False).tobytes())
    return shape
