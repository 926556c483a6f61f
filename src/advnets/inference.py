"""Learned approximate inference (the paper's section 7, extension 2): "training an auxiliary
network to predict z given x ... for a fixed generator net after the generator net has finished
training". E is fitted by regression on pairs (G(z), z), z fresh from the prior at every step:

    min_E  E_z || E(G(z)) - z ||^2

Measured by how much of z's variance E recovers on new samples (R^2), and by the 1-nearest-
neighbour label accuracy of E(x) on real test images against E of the labelled training images
(the BiGAN paper's protocol: a representation that separates the classes without labels).

RUN/encoder/ holds weights.safetensors and encoder.json (how it was fitted, what it measured).
A BiGAN run (config encoder.kind = bigan) trains its own E beside G and keeps it in its
checkpoints; `load_encoder` then takes that one, and encoder.json holds only the measurements.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from advnets.errors import ArgumentError, NotApplicable
from advnets.io import atomic_write_bytes, atomic_write_text
from advnets.nn import sample_noise
from advnets.nn.encoder import Encoder

FOLDER = "encoder"


def fit_encoder(
    trained,
    *,
    steps: int = 20_000,
    batch: int = 100,
    lr: float = 1e-3,
    hidden: tuple[int, ...] = (1200, 1200),
    seed: int = 0,
    log_every: int | None = None,
    progress=None,
) -> tuple[Encoder, list[dict]]:
    """E fitted to the trained (frozen) G; returns E and its loss log [{step, loss}], the mean loss
    of every `log_every` steps (default: 20 rows over the fit)."""
    if trained.num_classes:
        raise NotApplicable(
            "the inference network predicts the noise of an unconditional G; this run is "
            "class-conditional"
        )
    if steps < 1 or batch < 1:
        raise ArgumentError(f"steps = {steps}, batch = {batch}: both must be at least 1")
    g = trained.config.generator
    torch.manual_seed(seed)
    data_dim = trained.sample(1).shape[1]
    E = Encoder(data_dim, g.noise_dim, list(hidden), g.activation, g.prior)
    opt = torch.optim.Adam(E.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    log, running = [], 0.0
    log_every = log_every or max(1, steps // 20)
    for step in range(1, steps + 1):
        z = sample_noise(g.prior, batch, g.noise_dim, generator=gen)
        with torch.no_grad():
            x = trained.G(z)
        loss = (E(x) - z).square().sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running += loss.item()
        if step % log_every == 0 or step == steps:
            log.append({"step": step, "loss": running / (step - (log[-1]["step"] if log else 0))})
            running = 0.0
        if progress is not None:
            progress(1)
    return E.eval(), log


@torch.no_grad()
def encode(E: Encoder, x: torch.Tensor, batch: int = 10_000) -> torch.Tensor:
    return (
        torch.cat([E(chunk) for chunk in x.split(batch)])
        if len(x)
        else x.new_zeros(0, E.out.out_features)
    )


@torch.no_grad()
def latent_r2(E: Encoder, trained, n: int = 10_000, seed: int = 1) -> float:
    """1 - sum ||E(G(z)) - z||^2 / sum ||z - mean z||^2 over n fresh z: the fraction of z's variance
    that E recovers from G(z)."""
    g = trained.config.generator
    z = sample_noise(g.prior, n, g.noise_dim, generator=torch.Generator().manual_seed(seed))
    residual = (encode(E, trained.G(z)) - z).double().square().sum()
    return float(1 - residual / (z.double() - z.double().mean(0)).square().sum())


def nearest_neighbour_accuracy(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    test: torch.Tensor,
    test_labels: torch.Tensor,
    metric: str = "euclidean",
    block: int = 1000,
) -> float:
    """The fraction of test rows whose nearest train row (euclidean or cosine distance) has their
    label."""
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"unknown metric {metric!r}; valid: euclidean, cosine")
    a, b = train.double(), test.double()
    if metric == "cosine":
        a = a / a.norm(dim=1, keepdim=True).clamp(min=1e-12)
        b = b / b.norm(dim=1, keepdim=True).clamp(min=1e-12)
    a_sq = a.square().sum(1)
    hits = 0
    for rows, labels in zip(b.split(block), test_labels.split(block)):
        # ||b - a||^2 = ||b||^2 - 2 b.a + ||a||^2; ||b||^2 is the same along each row
        nearest = (a_sq[None, :] - 2 * rows @ a.T).argmin(1)
        hits += int((train_labels[nearest] == labels).sum())
    return hits / len(test)


def save_encoder(run: str | Path, E: Encoder, record: dict) -> Path:
    """Write RUN/encoder/weights.safetensors, then encoder.json (the record, written last)."""
    folder = Path(run) / FOLDER
    state = {k: v.detach().contiguous() for k, v in E.state_dict().items()}
    atomic_write_bytes(
        folder / "weights.safetensors",
        save_safetensors(state, metadata={"format": "advnets-encoder-1"}),
    )
    atomic_write_text(folder / "encoder.json", json.dumps(record, indent=2) + "\n")
    return folder


def measure(E: Encoder, trained, data_dir=None) -> dict:
    """R^2 of z recovered from G(z), and for labelled images the 1-NN label accuracy of E(x) on the
    test split against the training split (euclidean and cosine), beside that of the pixels."""
    from advnets.data import load

    out = {"r2_generated": latent_r2(E, trained)}
    if trained.image_shape:
        source = trained.config.data.source
        train, test = load(source, "train", data_dir), load(source, "test", data_dir)
        if train.y is not None:
            f_train, f_test = encode(E, train.x), encode(E, test.x)
            for metric in ("euclidean", "cosine"):
                out[f"nn1_accuracy_{metric}"] = nearest_neighbour_accuracy(
                    f_train, train.y, f_test, test.y, metric
                )
            out["nn1_accuracy_pixels_euclidean"] = nearest_neighbour_accuracy(
                train.x, train.y, test.x, test.y
            )
            out["nn1_rows"] = {"train": len(train), "test": len(test)}
    return out


def load_encoder(run: str | Path) -> tuple[Encoder, dict]:
    """The run's E: its own, trained jointly (BiGAN), else the one fitted to it (RUN/encoder/)."""
    from advnets import checkpoint
    from advnets.config import from_dict
    from advnets.nn import build_encoder
    from advnets.run import open_checkpoint

    folder_run, ckpt = open_checkpoint(run)
    weights, _, meta = checkpoint.load(ckpt)
    own = checkpoint.split_weights(weights, "encoder")
    if own:
        E = build_encoder(from_dict(meta["config"], source=f"{ckpt}/state.json"), meta["data_dim"])
        checkpoint.load_into(E, own, "encoder", ckpt)
        return E.eval(), {
            "trained": "jointly with G (encoder.kind = bigan)",
            "checkpoint": ckpt.name,
        }
    folder = folder_run.folder(FOLDER)
    if not (folder / "encoder.json").is_file():
        raise NotApplicable(
            f"{folder} holds no fitted encoder: fit one with 'advnets encoder {run}'"
        )
    record = json.loads((folder / "encoder.json").read_text())
    E = Encoder(
        record["data_dim"],
        record["noise_dim"],
        record["hidden"],
        record["activation"],
        record["prior"],
    )
    E.load_state_dict(load_safetensors((folder / "weights.safetensors").read_bytes()))
    return E.eval(), record


def encoder_run(
    run,
    *,
    steps: int = 10_000,
    batch: int = 100,
    lr: float = 1e-3,
    hidden: list[int] | tuple[int, ...] = (1200, 1200),
    seed: int = 0,
    data_dir=None,
    last_iterate: bool = False,
    progress: bool = True,
) -> tuple[dict, Path]:
    """`advnets encoder`: fit E(x) -> z to the G of `run` by regression on (G(z), z), G frozen,
    and measure it; a BiGAN run's own E (trained with G) is measured, not fitted. Writes
    RUN/encoder/ and returns (the record, the file or folder written). The record's "trained"
    says which E it is; "seconds" and "loss" are there when E was fitted."""
    import time

    from tqdm.auto import tqdm

    from advnets.sample import load_generator

    trained = load_generator(run, average=not last_iterate)
    if trained.config.encoder.kind != "none":  # E was trained with G: measure it, fit nothing
        if trained.averaged:  # with the G it played beside, not G's average
            trained = load_generator(run, average=False)
        E, record = load_encoder(run)
        record.update(measure(E, trained, data_dir))
        path = trained.run.folder(FOLDER) / "encoder.json"
        atomic_write_text(path, json.dumps(record, indent=2) + "\n")
        return record, path
    start = time.perf_counter()
    with tqdm(total=steps, desc="fitting E", disable=not progress, leave=False) as bar:
        E, log = fit_encoder(
            trained, steps=steps, batch=batch, lr=lr, hidden=list(hidden), seed=seed,
            progress=bar.update,
        )  # fmt: skip
    g = trained.config.generator
    record = {
        "trained": "by regression on (G(z), z), G frozen",
        "fitted_to": trained.checkpoint.name,
        "weights": "average" if trained.averaged else "last iterate",
        "data_dim": E.in_dim,
        "noise_dim": g.noise_dim,
        "prior": g.prior,
        "activation": g.activation,
        "hidden": list(hidden),
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 1),
        "loss": log,
    }
    record.update(measure(E, trained, data_dir))
    return record, save_encoder(trained.run.root, E, record)
