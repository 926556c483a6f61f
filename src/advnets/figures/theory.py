"""The picture of section 4's checks on a gaussian-1d run (advnets.theory): D against D* and
p_g against p_data, and G's gradient norm under each objective from the same start."""

from __future__ import annotations

import json
from pathlib import Path

from advnets.figures.plots import pyplot, save_png
from advnets.io import atomic_write_text
from advnets.theory import TheoryReport, report


def save_theory_figure(r: TheoryReport, path: str | Path) -> None:
    grid, c = r.grid, r.curves
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(grid, c["p_data"], "k:", lw=2, label="p_data")
    ax1.plot(grid, c["p_g"], "g", label="p_g (KDE)")
    ax1.plot(grid, c["d"], "b--", label="D trained against frozen G")
    d_star = c["p_data"] / (c["p_data"] + c["p_g"]).clamp(min=1e-300)
    ax1.plot(grid, d_star, "r", lw=0.8, label="D* = p_data / (p_data + p_g)")
    error = r.result["proposition1"]["max_abs_error"]
    ax1.set_title(f"Proposition 1: max |D - D*| = {error:.3f}")
    ax1.legend(fontsize=8)
    for name, rows in r.logs.items():
        ax2.plot([row["step"] for row in rows], [row["g_grad_norm"] for row in rows], label=name)
    ax2.set_yscale("log")
    ax2.set_xlabel("generator step")
    ax2.set_ylabel("|gradient of G's loss|")
    ax2.set_title("same seed, G started away from the data")
    ax2.legend()
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def write_theory_report(run, out_dir: str | Path | None = None, **options) -> dict:
    """`advnets theory`: the checks of advnets.theory.report on `run` (options: d_steps,
    objective_steps, seed, progress), written to OUT/theory.json and drawn in OUT/theory.png
    (OUT: RUN/theory unless given). Returns the checks."""
    from advnets.run import open_checkpoint

    r = report(run, **options)
    out = Path(out_dir) if out_dir else open_checkpoint(run)[0].folder("theory")
    out.mkdir(parents=True, exist_ok=True)
    save_theory_figure(r, out / "theory.png")
    atomic_write_text(out / "theory.json", json.dumps(r.result, indent=2) + "\n")
    return r.result
