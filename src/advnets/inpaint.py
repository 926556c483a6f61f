"""Completing images from a part of them: the paper's section 7, extension 3, "conditionals
p(x_S | x_not-S)", in its simplest useful form. With G fixed, search noise z whose image G(z)
matches the visible pixels, then fill the hidden ones from G(z):

    z* = argmin_z  || m * (G(z) - x) ||^2  (+ realism x -log D(G(z)))        x_hat = m x + (1 - m)
    G(z*)

where m is 1 on the visible pixels. Several starting points per image are optimised together and
the best fit of the visible pixels wins (the objective has many local minima). Yeh et al. (2017)
add the realism term from D; it is optional here.
"""

from __future__ import annotations

import math

import torch

from advnets.errors import ArgumentError, NotApplicable
from advnets.nn import sample_noise

MASKS = {
    "bottom": "the bottom half is hidden",
    "top": "the top half is hidden",
    "left": "the left half is hidden",
    "right": "the right half is hidden",
    "centre": "the central square of half the side is hidden",
    "random": "each pixel is hidden with probability 1/2 (per image, from the seed)",
}


def visible_mask(kind: str, image_shape: tuple[int, int], n: int, seed: int = 0) -> torch.Tensor:
    """m [n, H * W] float32: 1 where the pixel is seen, 0 where it is hidden (see MASKS)."""
    if kind not in MASKS:
        raise ArgumentError(f"unknown mask {kind!r}; valid masks: {', '.join(MASKS)}")
    h, w = image_shape
    if kind == "random":
        gen = torch.Generator().manual_seed(seed)
        return (torch.rand(n, h * w, generator=gen) >= 0.5).float()
    rows, cols = torch.arange(h)[:, None], torch.arange(w)[None, :]
    hidden = {
        "bottom": rows >= h // 2,
        "top": rows < h // 2,
        "left": cols < w // 2,
        "right": cols >= w // 2,
        "centre": ((rows - (h - 1) / 2).abs() < h / 4) & ((cols - (w - 1) / 2).abs() < w / 4),
    }[kind]
    return (~hidden.expand(h, w)).float().reshape(1, h * w).expand(n, -1).contiguous()


def complete(
    G: torch.nn.Module,
    x: torch.Tensor,
    visible: torch.Tensor,
    *,
    prior: str,
    noise_dim: int,
    classes: torch.Tensor | None = None,
    steps: int = 300,
    restarts: int = 8,
    lr: float = 0.05,
    realism: float = 0.0,
    D: torch.nn.Module | None = None,
    seed: int = 0,
    progress=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(completed images [n, D], G's images at the chosen z [n, D]) for images x [n, D] seen through
    `visible` [n, D]. `classes` [n] for a conditional G; `realism` > 0 needs D."""
    if realism > 0 and D is None:
        raise ValueError("realism > 0 weighs -log D(G(z)): pass the discriminator D")
    if steps < 0 or restarts < 1:
        raise ArgumentError(
            f"steps = {steps}, restarts = {restarts}: need steps >= 0 and restarts >= 1"
        )
    n = len(x)
    gen = torch.Generator().manual_seed(seed)
    z = sample_noise(prior, n * restarts, noise_dim, generator=gen).requires_grad_(
        True
    )  # [n * restarts, noise]
    target, seen = x.repeat_interleave(restarts, 0), visible.repeat_interleave(restarts, 0)
    c = classes.repeat_interleave(restarts, 0) if classes is not None else None
    bound = (
        math.sqrt(3.0) if prior == "uniform" else None
    )  # stay inside the uniform prior's support
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        image = G(z, c) if c is not None else G(z)
        loss = ((image - target) * seen).square().sum()
        if realism > 0:
            logits = D(image, c) if c is not None else D(image)
            if (
                logits.ndim == 2
            ):  # a semi-supervised D's class logits: its real logit is their log-sum-exp
                logits = torch.logsumexp(logits, 1)
            loss = loss + realism * torch.nn.functional.softplus(-logits).sum()
        (grad,) = torch.autograd.grad(loss, z)  # G and D keep no gradients
        z.grad = grad
        opt.step()
        if bound is not None:
            with torch.no_grad():
                z.clamp_(-bound, bound)
        if progress is not None:
            progress(1)
    with torch.no_grad():
        image = G(z, c) if c is not None else G(z)
        fit = ((image - target) * seen).square().sum(1).view(n, restarts)
        best = fit.argmin(1) + torch.arange(n) * restarts  # [n] rows of the best start per image
        generated = image[best]
    return visible * x + (1 - visible) * generated, generated


@torch.no_grad()
def nearest_fill(
    images: torch.Tensor, visible: torch.Tensor, train: torch.Tensor, block: int = 500
) -> torch.Tensor:
    """The baseline without G: each image's hidden pixels taken from the training image nearest to
    it on its visible pixels."""
    out = []
    t, t_sq = train.double(), train.double().square()
    for x, m in zip(images.double().split(block), visible.double().split(block)):
        # sum_j m_j (t_j - x_j)^2 = m . t^2 - 2 (m x) . t + const
        nearest = (m @ t_sq.T - 2 * (m * x) @ t.T).argmin(1)
        out.append((m * x + (1 - m) * t[nearest]).float())
    return torch.cat(out)


def inpainting_report(
    trained,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    source: str,
    mask: str,
    *,
    steps: int = 300,
    restarts: int = 8,
    lr: float = 0.05,
    realism: float = 0.0,
    D=None,
    seed: int = 0,
    batch: int = 250,
    train: torch.Tensor | None = None,
    progress=None,
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Complete `images` [n, D] of `source` hidden by `mask` with the trained G; with labels and a
    shipped classifier for `source`, its accuracy on the images whole, as seen (hidden pixels 0),
    completed, and (given the `train` images) completed from the nearest training image instead.
    Returns (report, the visible mask [n, D], the completions [n, D])."""
    if trained.num_classes:
        raise NotApplicable(
            "inpainting searches the noise of an unconditional G; this run is class-conditional "
            "(its class would have to be known, or searched as well)"
        )
    if not trained.image_shape:
        raise NotApplicable(f"inpainting completes images; {source} holds points")
    if len(trained.image_shape) != 2:
        raise NotApplicable(
            f"inpainting completes grey images for now; {source} has colour images "
            f"{tuple(trained.image_shape)}"
        )
    g = trained.config.generator
    visible = visible_mask(mask, trained.image_shape, len(images), seed)
    done = [
        complete(
            trained.G,
            xb,
            vb,
            prior=g.prior,
            noise_dim=g.noise_dim,
            steps=steps,
            restarts=restarts,
            lr=lr,
            realism=realism,
            D=D,
            seed=seed + i,
            progress=progress,
        )[0]
        for i, (xb, vb) in enumerate(zip(images.split(batch), visible.split(batch)))
    ]
    completed, seen = torch.cat(done), visible * images
    hidden = 1 - visible
    report = {
        "mask": mask,
        "mask_meaning": MASKS[mask],
        "images": len(images),
        "steps": steps,
        "restarts": restarts,
        "lr": lr,
        "realism": realism,
        "seed": seed,
        "hidden_fraction": float(hidden.mean()),
        # squared error per hidden pixel: of the completion, and of filling with the seen images'
        # mean
        "hidden_mse": float(((completed - images) * hidden).square().sum() / hidden.sum()),
        "hidden_mse_mean_fill": float(
            ((images.mean(0) - images) * hidden).square().sum() / hidden.sum()
        ),
    }
    from advnets.metrics.classifier import SHIPPED, load_classifier

    if labels is not None and source in SHIPPED and trained.image_shape == (28, 28):
        clf = load_classifier(source)
        versions = [("whole", images), ("seen", seen), ("completed", completed)]
        if train is not None:
            versions.append(("nearest_fill", nearest_fill(images, visible, train)))
        for name, x in versions:
            report[f"accuracy_{name}"] = float((clf(x)[1].argmax(1) == labels).double().mean())
        report["classifier"] = f"advnets {source} classifier ({clf.file})"
    return report, visible, completed


def inpaint_run(
    run,
    mask: str = "bottom",
    n: int = 1000,
    split: str = "test",
    *,
    steps: int = 300,
    restarts: int = 8,
    lr: float = 0.05,
    realism: float = 0.0,
    seed: int = 0,
    cols: int = 10,
    out=None,
    data_dir=None,
    last_iterate: bool = False,
    progress: bool = True,
):
    """`advnets inpaint`: complete the first `n` images of `split` hidden by `mask` with the G of
    `run` (its average unless `last_iterate`), and write OUT/MASK.json (the report) and
    OUT/MASK.png (rows: whole, seen with the hidden pixels grey, completed) for the first `cols`;
    OUT is RUN/inpaint unless given. Returns (report, OUT)."""
    import json
    from pathlib import Path

    from tqdm.auto import tqdm

    from advnets.data import load
    from advnets.figures.grid import save_grid
    from advnets.io import atomic_write_text
    from advnets.metrics.classifier import SHIPPED
    from advnets.sample import load_discriminator, load_generator

    if n < 1 or cols < 1:
        raise ArgumentError(f"-n {n} --cols {cols}: both must be at least 1")
    trained = load_generator(run, average=not last_iterate)
    source = trained.config.data.source
    data = load(source, split, data_dir)
    if n > len(data):
        raise ArgumentError(f"-n {n}: the {source} {split} split has {len(data)} images")
    images, labels = data.x[:n], (data.y[:n] if data.y is not None else None)
    if realism > 0 and trained.config.encoder.kind != "none":
        raise ArgumentError(
            "--realism weighs -log D(G(z)), and this run's D judges (x, z) pairs (BiGAN): "
            "use --realism 0"
        )
    D = load_discriminator(run) if realism > 0 else None
    scored = labels is not None and source in SHIPPED  # only then: the nearest-image baseline
    total = steps * -(-n // 250)
    with tqdm(total=total, desc="inpainting", disable=not progress, leave=False) as bar:
        report, visible, completed = inpainting_report(
            trained, images, labels, source, mask, steps=steps, restarts=restarts, lr=lr,
            realism=realism, D=D, seed=seed, progress=bar.update,
            train=load(source, "train", data_dir).x if scored else None,
        )  # fmt: skip
    report.update(
        run=str(trained.run.root),
        checkpoint=trained.checkpoint.name,
        weights="average" if trained.averaged else "last iterate",
        data=source,
        split=split,
    )
    out = Path(out) if out else trained.run.folder("inpaint")
    k = min(cols, n)
    shown = visible[:k] * images[:k] + (1 - visible[:k]) * 0.5  # hidden pixels grey
    rows = torch.cat([images[:k], shown, completed[:k]]).view(-1, *trained.image_shape)
    save_grid(rows, out / f"{mask}.png", nrow=k, scale=3)
    atomic_write_text(out / f"{mask}.json", json.dumps(report, indent=2) + "\n")
    return report, out
