"""Improved precision and recall (Kynkäänniemi et al., 2019).

Each set's manifold is the union of balls around its points, each ball reaching the point's k-th
nearest neighbour within the set. Precision: the fraction of generated points inside the real
manifold; recall: the fraction of real points inside the generated manifold. Distances are
Euclidean, in float64, computed in row blocks so memory stays bounded.
"""

from __future__ import annotations

import torch


def _blocks(n: int, other: int, memory_bytes: int) -> int:
    return max(1, min(n, memory_bytes // (8 * max(other, 1))))


def knn_radii(points: torch.Tensor, k: int, memory_bytes: int = 128 * 2**20) -> torch.Tensor:
    """Distance of each point to its k-th nearest neighbour among the others, [n]."""
    n = points.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k = {k} nearest neighbours need 1 <= k < {n} (the number of points)")
    step = _blocks(n, n, memory_bytes)
    radii = [
        torch.cdist(points[i : i + step], points).topk(k + 1, dim=1, largest=False).values[:, k]
        for i in range(0, n, step)
    ]  # index 0 is the point itself, at distance 0
    return torch.cat(radii)


def coverage_fraction(
    queries: torch.Tensor,
    centres: torch.Tensor,
    radii: torch.Tensor,
    memory_bytes: int = 128 * 2**20,
) -> float:
    """Fraction of queries within radii[j] of some centres[j]."""
    step = _blocks(queries.shape[0], centres.shape[0], memory_bytes)
    inside = 0
    for i in range(0, queries.shape[0], step):
        inside += int((torch.cdist(queries[i : i + step], centres) <= radii[None, :]).any(1).sum())
    return inside / queries.shape[0]


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of generated features `fake` [m, d] against real features `real` [n,
    d]."""
    r = torch.as_tensor(real).to(torch.float64)
    f = torch.as_tensor(fake).to(torch.float64)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(
            f"features must be [n, d] arrays of equal d, got {tuple(r.shape)} and {tuple(f.shape)}"
        )
    precision = coverage_fraction(f, r, knn_radii(r, k))
    recall = coverage_fraction(r, f, knn_radii(f, k))
    return precision, recall
