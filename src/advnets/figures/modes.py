"""The mode-coverage picture of a 2-D toy run: G's samples over the mixture's modes, each mode
drawn with its high-quality disc (3 sd), covered modes in black, missed ones in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from advnets.figures.plots import pyplot, save_png


def save_modes_figure(
    samples: np.ndarray,
    means: np.ndarray,
    std: float,
    coverage: dict,
    path: str | Path,
    title: str = "",
) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(samples[:, 0], samples[:, 1], s=3, c="tab:green", alpha=0.5, lw=0, label="G(z)")
    covered = np.array(coverage["per_mode"]) > 0
    for (mx, my), hit in zip(means, covered):
        ax.add_patch(
            plt.Circle(
                (mx, my),
                coverage["radius_sd"] * std,
                fill=False,
                lw=0.8,
                color="black" if hit else "tab:red",
            )
        )
    ax.scatter(*means[covered].T, marker="x", c="black", s=25, label="covered mode")
    if (~covered).any():
        ax.scatter(*means[~covered].T, marker="x", c="tab:red", s=25, label="missed mode")
    span = np.abs(means).max() * 1.3 + 6 * std
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(
        f"{title}{coverage['modes']} / {coverage['of']} modes, "
        f"{100 * coverage['high_quality']:.1f}% high-quality ({coverage['samples']} samples)",
        fontsize=9,
    )
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
