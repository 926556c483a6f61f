"""Kernel distance (KID; Bińkowski et al., 2018): an unbiased estimate of the squared MMD between
two feature distributions with the cubic polynomial kernel k(a, b) = (a.b / d + 1)^3.

The estimate is averaged over `subsets` random pairs of subsets of `subset_size` rows (drawn
without replacement within a subset, from a seeded generator). Its standard deviation over the
subsets is reported beside it, as is customary: the standard error of a one-subset estimate.
"""

from __future__ import annotations

import math

import torch


def polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(a: torch.Tensor, b: torch.Tensor) -> float:
    """Unbiased squared MMD of samples a [m, d] and b [n, d] under the polynomial kernel."""
    m, n = a.shape[0], b.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 rows on each side, got {m} and {n}")
    k_aa, k_bb, k_ab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (m * (m - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def kid(
    features_a, features_b, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """(mean, standard deviation) of the unbiased MMD^2 over random subsets of the two sets."""
    a = torch.as_tensor(features_a).to(torch.float64)
    b = torch.as_tensor(features_b).to(torch.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"features must be [n, d] arrays of equal d, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    size = min(subset_size, a.shape[0], b.shape[0])
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        ia = torch.randperm(a.shape[0], generator=gen)[:size]
        ib = torch.randperm(b.shape[0], generator=gen)[:size]
        values.append(mmd2_unbiased(a[ia], b[ib]))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if subsets > 1 else math.nan)
