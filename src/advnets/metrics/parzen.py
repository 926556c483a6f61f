"""Gaussian Parzen-window log-likelihood, the evaluation of the paper (section 5, Table 1).

A Parzen window with kernel centres mu_1..mu_n (samples of G) and width sigma gives each query x

    log p(x) = logmeanexp_j( -||x - mu_j||^2 / (2 sigma^2) ) - d * log(sigma * sqrt(2 pi)),

the formula of the reference code's ``parzen_ll.py``. The reference evaluates it by broadcasting
a [batch, n, d] difference tensor for every sigma; here the squared distances come from one
float64 matrix product per block (||x||^2 + ||mu||^2 - 2 x.mu) and are reused for every sigma of
the grid, and the log-sum-exp is streamed over blocks of queries and centres in float64, so
memory stays within `memory_bytes` whatever the sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

PAPER_SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))
DEFAULT_MEMORY_BYTES = 256 * 2**20


def _as_float64(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    t = torch.as_tensor(x).to(torch.float64)
    if t.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array [rows, dimensions], found shape {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t


def parzen_log_density(
    queries,
    centres,
    sigmas: float | Sequence[float],
    *,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
    progress=None,
) -> torch.Tensor:
    """log p(x) of every query under the Parzen window on `centres`, for every width in `sigmas`.

    queries [m, d], centres [n, d] (any float dtype; computed in float64). Returns float64
    [len(sigmas), m], or [m] when `sigmas` is one number. `progress`, if given, is called with
    the number of queries finished after each block (e.g. a tqdm bar's ``update``).
    """
    single = isinstance(sigmas, (int, float))
    sig = torch.tensor([sigmas] if single else list(sigmas), dtype=torch.float64)
    if sig.numel() == 0 or not (sig > 0).all():
        raise ValueError(f"sigmas must be positive numbers, got {sig.tolist()}")
    x = _as_float64(queries, "queries")
    mu = _as_float64(centres, "centres")
    if x.shape[1] != mu.shape[1]:
        raise ValueError(f"queries have {x.shape[1]} dimensions but centres have {mu.shape[1]}")
    if mu.shape[0] == 0:
        raise ValueError("no kernel centres: the Parzen window needs at least one sample")
    m, d = x.shape
    n = mu.shape[0]
    # A block of queries x centres lives as two float64 arrays (the distances and one term of the
    # sum), plus one while the distances are formed; centre blocks are as wide as the budget
    # allows with at least 64 queries to a block.
    cells = max(memory_bytes // (8 * 3), 1)
    centre_block = min(n, max(cells // 64, 1))
    query_block = max(min(m, cells // centre_block), 1)
    mu_sq = (mu * mu).sum(1)
    inv_two_var = 1.0 / (2.0 * sig * sig)  # [S]
    out = torch.empty(len(sig), m, dtype=torch.float64)
    for q0 in range(0, m, query_block):
        xb = x[q0 : q0 + query_block]
        xb_sq = (xb * xb).sum(1)
        # Online log-sum-exp shared by every sigma: the largest term of each row is the nearest
        # centre's, whatever sigma is, so one running minimum distance offsets all the sums.
        dmin = torch.full((len(xb),), math.inf, dtype=torch.float64)
        acc = torch.zeros(len(sig), len(xb), dtype=torch.float64)
        for c0 in range(0, n, centre_block):
            mb = mu[c0 : c0 + centre_block]
            dist = torch.addmm(
                xb_sq[:, None] + mu_sq[None, c0 : c0 + centre_block], xb, mb.T, alpha=-2.0
            )
            dist.clamp_(min=0.0)  # [q, c] squared distances; rounding can dip just below zero
            new_min = torch.minimum(dmin, dist.min(1).values)
            if c0:
                acc *= torch.exp(-(dmin - new_min)[None, :] * inv_two_var[:, None])
            dmin = new_min
            dist -= dmin[:, None]
            term = torch.empty_like(dist)
            for s, a in enumerate(inv_two_var.tolist()):
                torch.mul(dist, -a, out=term)
                acc[s] += term.exp_().sum(1)
        log_norm = d * torch.log(sig * math.sqrt(2 * math.pi))  # [S]
        out[:, q0 : q0 + len(xb)] = (
            -dmin[None, :] * inv_two_var[:, None] + torch.log(acc) - math.log(n) - log_norm[:, None]
        )
        if progress is not None:
            progress(len(xb))
    return out[0] if single else out


@dataclass
class ParzenResult:
    """The paper's protocol: sigma chosen on validation rows, the test mean and standard error."""

    mean: float
    stderr: float
    sigma: float
    valid_means: dict[float, float]  # mean validation log-likelihood of each sigma of the grid
    n_centres: int
    n_valid: int
    n_test: int

    def to_dict(self) -> dict:
        return {
            "mean": self.mean,
            "stderr": self.stderr,
            "sigma": self.sigma,
            "valid_means": {f"{s:.6g}": v for s, v in self.valid_means.items()},
            "n_centres": self.n_centres,
            "n_valid": self.n_valid,
            "n_test": self.n_test,
        }


def parzen_protocol(
    centres,
    valid,
    test,
    sigmas: Sequence[float] = PAPER_SIGMAS,
    *,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
    progress=None,
) -> ParzenResult:
    """Pick sigma by the mean log-likelihood of `valid`, report `test` mean +- std / sqrt(m).

    The reference code (parzen_ll.py) does this with 10,000 samples as `centres`, the first 1,000
    validation images as `valid` and the 10,000 test images as `test`; the caller chooses sizes.
    """
    sigmas = [float(s) for s in sigmas]
    valid_ll = parzen_log_density(
        valid, centres, sigmas, memory_bytes=memory_bytes, progress=progress
    )
    valid_means = valid_ll.mean(1)
    best = int(torch.argmax(valid_means))
    test_ll = parzen_log_density(
        test, centres, sigmas[best], memory_bytes=memory_bytes, progress=progress
    )
    m = test_ll.numel()
    return ParzenResult(
        mean=float(test_ll.mean()),
        stderr=float(test_ll.std(unbiased=False)) / math.sqrt(m),
        sigma=sigmas[best],
        valid_means=dict(zip(sigmas, valid_means.tolist())),
        n_centres=len(centres),
        n_valid=len(valid),
        n_test=m,
    )
