"""Labels: the class-balanced labelled subset a semi-supervised run learns from."""

from __future__ import annotations

import torch

from advnets.errors import DataError


def labelled_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices [K * per_class] of `per_class` rows of each class, drawn with `seed` (sorted)."""
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(int(labels.max()) + 1):
        rows = (labels == c).nonzero().squeeze(1)
        if len(rows) < per_class:
            raise DataError(
                f"class {c} has {len(rows)} training rows, fewer than "
                f"labels_per_class = {per_class}: lower semi.labels_per_class"
            )
        chosen.append(rows[torch.randperm(len(rows), generator=gen)[:per_class]])
    return torch.cat(chosen).sort().values
