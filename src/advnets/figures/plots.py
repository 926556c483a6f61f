"""Matplotlib pictures of a run: training curves, and samples of the low-dimensional toy data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from advnets.figures.grid import save_grid
from advnets.io import atomic_write_bytes


def pyplot():
    """matplotlib.pyplot on the Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | Path) -> None:
    """Write `fig` as a PNG, atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())


def save_curves(rows: list[dict], path: str | Path) -> None:
    """Losses and mean D outputs against training step, from metrics.jsonl rows."""
    plt = pyplot()
    step = [r["step"] for r in rows]
    grad = [r["g_grad_norm"] for r in rows if "g_grad_norm" in r]
    fig, axes = plt.subplots(3 if grad else 2, 1, figsize=(8, 8.5 if grad else 6), sharex=True)
    ax1, ax2 = axes[:2]
    marker = "o" if len(rows) < 3 else None  # a line of one point would draw nothing
    ax1.plot(step, [r["d_loss"] for r in rows], label="D loss", marker=marker)
    ax1.plot(step, [r["g_loss"] for r in rows], label="G loss", marker=marker)
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.plot(step, [r["d_real"] for r in rows], label="mean D(x)", marker=marker)
    ax2.plot(step, [r["d_fake"] for r in rows], label="mean D(G(z))", marker=marker)
    ax2.axhline(0.5, color="grey", lw=0.5, ls="--")
    ax2.set_ylim(0, 1)
    ax2.legend()
    if grad:
        axes[2].plot(
            [r["step"] for r in rows if "g_grad_norm" in r], grad, color="tab:purple", marker=marker
        )
        axes[2].set_ylabel("|grad of G's loss|")
        axes[2].set_yscale("log")
    axes[-1].set_xlabel("generator step")
    # fixed margins: tight_layout would draw the figure twice, and this plot ends every run
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.07 if grad else 0.09, top=0.98, hspace=0.08)
    save_png(fig, path)
    plt.close(fig)


def save_samples(
    samples: torch.Tensor,
    image_shape: tuple[int, int] | None,
    data: torch.Tensor | None,
    path: str | Path,
    nrow: int | None = None,
    title: str = "",
) -> None:
    """Samples [N, D] as a picture: an image grid, or for point data a plot against 2,000 data
    points."""
    if image_shape:
        save_grid(samples.view(-1, *image_shape), path, nrow=nrow)
    else:
        save_points(samples.numpy(), data[:2000].numpy(), path, title=title)


def save_points(samples: np.ndarray, data: np.ndarray, path: str | Path, title: str = "") -> None:
    """Generator samples against data: a histogram for 1-D data, a scatter plot for 2-D data."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5) if samples.shape[1] == 2 else (6, 4))
    if samples.shape[1] == 1:
        lo = min(samples.min(), data.min())
        hi = max(samples.max(), data.max())
        bins = np.linspace(lo, hi, 80)
        ax.hist(data[:, 0], bins=bins, density=True, alpha=0.5, color="black", label="data")
        ax.hist(samples[:, 0], bins=bins, density=True, alpha=0.5, color="green", label="G(z)")
        ax.legend()
    else:
        ax.scatter(data[:, 0], data[:, 1], s=2, c="black", alpha=0.3, label="data")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="green", alpha=0.6, label="G(z)")
        ax.set_aspect("equal")
        ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
