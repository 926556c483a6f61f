"""Figure 1 of the paper, drawn from a real training run on the 1-D toy data (`gaussian-1d`).

Each panel is one checkpoint: the data density p_data (black dots), the generator's density p_g
(green, a kernel density estimate of G's samples), the discriminator D(x) (blue dashes), and below
them the mapping x = G(z): the lower line is the domain of z, the upper one part of the domain of
x, and each thin line joins a z to its image G(z), so where the lines crowd together p_g is high.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from advnets.data.toy import TOYS
from advnets.errors import NotApplicable
from advnets.figures.plots import pyplot, save_png
from advnets.theory import curves_1d


def save_toy1d_figure(
    checkpoints: list[Path], path: str | Path, lines: int = 40, seed: int = 0
) -> None:
    """Figure 1 from the given checkpoints of a gaussian-1d run (one panel each)."""
    from advnets.sample import load_discriminator, load_generator

    toy = TOYS["gaussian-1d"]
    mean, sd = toy.means[0][0], toy.std
    lo, hi = mean - 5 * sd, mean + 5 * sd
    grid = torch.linspace(lo, hi, 400, dtype=torch.float64)
    panels = []
    for folder in checkpoints:
        trained = load_generator(folder, average=False)  # the G that this D was playing against
        if trained.config.data.source != "gaussian-1d" or trained.config.generator.noise_dim != 1:
            raise NotApplicable(
                f"{folder}: Figure 1 needs a gaussian-1d run with 1-D noise "
                f"(this one: {trained.config.data.source}, z of "
                f"{trained.config.generator.noise_dim})"
            )
        curves = curves_1d(trained.G, load_discriminator(folder), trained.config, grid, seed=seed)
        panels.append((trained, curves))
    # one vertical scale for every panel (they share the y axis), so the z and x lines line up
    top = max(float(max(c["p_data"].max(), c["p_g"].max())) for _, c in panels)
    top = max(top, 1.0) * 1.05
    y_x, y_z = -0.12 * top, -0.45 * top

    plt = pyplot()
    fig, axes = plt.subplots(1, len(checkpoints), figsize=(4 * len(checkpoints), 3.6), sharey=True)
    for i, (ax, (trained, curves)) in enumerate(zip(axes, panels)):
        G, config = trained.G, trained.config
        ax.plot(grid, curves["p_data"], "k:", lw=2, label="p_data")
        ax.plot(grid, curves["p_g"], color="green", lw=1.5, label="p_g")
        ax.plot(grid, curves["d"], "b--", lw=1.5, label="D(x)")
        # the mapping x = G(z): z evenly spaced over the prior's central range, drawn on a lower
        # line
        z = torch.linspace(-math.sqrt(3), math.sqrt(3), lines)[:, None]
        if config.generator.prior == "gaussian":
            z = z * (2 / math.sqrt(3))  # +-2 standard deviations
        with torch.no_grad():
            gz = G(z).reshape(-1).double().clamp(lo, hi)
        z_pos = lo + (z.reshape(-1).double() - z.min()) / (z.max() - z.min()) * (hi - lo)
        ax.axhline(y_x, color="black", lw=0.8)
        ax.axhline(y_z, color="black", lw=0.8)
        for a, b in zip(z_pos.tolist(), gz.tolist()):
            ax.annotate(
                "",
                xy=(b, y_x),
                xytext=(a, y_z),
                arrowprops={"arrowstyle": "->", "lw": 0.5, "color": "0.3"},
            )
        ax.text(lo, y_z - 0.06 * top, "z", fontsize=9)
        ax.text(lo, y_x + 0.02 * top, "x", fontsize=9)
        ax.set_xlim(lo, hi)
        ax.set_ylim(y_z - 0.1 * top, top)
        ax.set_title(f"({'abcdefgh'[i % 8]}) step {trained.step}")
        ax.set_yticks([0, 0.5, 1.0])
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
