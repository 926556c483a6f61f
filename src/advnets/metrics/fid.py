"""Fréchet distance between Gaussians fitted to two sets of features (FID; Heusel et al., 2017).

    d^2 = ||mu_a - mu_b||^2 + tr(C_a) + tr(C_b) - 2 tr( (C_a C_b)^(1/2) )

The trace of the matrix square root is computed as the sum of square roots of the eigenvalues of
the symmetric positive semi-definite C_a^(1/2) C_b C_a^(1/2), which has the same spectrum as
C_a C_b: no general (complex-valued) ``sqrtm`` and no ad-hoc diagonal offset are needed, and the
result equals SciPy's sqrtm-based formula where that one is well defined.
"""

from __future__ import annotations

import torch


def feature_statistics(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean [d] and unbiased covariance [d, d] of features [n, d], in float64."""
    f = torch.as_tensor(features).to(torch.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be [n, d] with n >= 2 rows, got shape {tuple(f.shape)}")
    mu = f.mean(0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def _psd_sqrt(c: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(c)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu_a, cov_a, mu_b, cov_b) -> float:
    """Squared Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    mu_a, cov_a, mu_b, cov_b = (
        torch.as_tensor(t).to(torch.float64) for t in (mu_a, cov_a, mu_b, cov_b)
    )
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_root
    return float(value.clamp(min=0))


def fid(features_a, features_b) -> float:
    """FID of two feature sets [n_a, d], [n_b, d]."""
    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))
