"""Mode coverage on a Gaussian-mixture toy, by the protocol of the PacGAN code (Lin et al., 2018):
a sample is *high-quality* when it lies within `radius` standard deviations (3) of its nearest
mode's mean, and a mode is *covered* when it is the nearest mode of at least one high-quality
sample. The papers draw 2,500 samples."""

from __future__ import annotations

import torch


def mode_coverage(
    samples: torch.Tensor, means: torch.Tensor, std: float, radius: float = 3.0
) -> dict:
    """Covered modes, the high-quality fraction and each mode's high-quality count, for samples
    [N, d] of a mixture with means [K, d] and component standard deviation `std`."""
    dist, nearest = torch.cdist(samples.double(), means.double()).min(dim=1)  # [N], [N]
    good = dist < radius * std
    counts = torch.bincount(nearest[good], minlength=len(means))  # [K]
    return {
        "modes": int((counts > 0).sum()),
        "of": len(means),
        "high_quality": float(good.double().mean()),
        "per_mode": counts.tolist(),
        "samples": len(samples),
        "radius_sd": radius,
    }
