"""The paper's theory (section 4), checked on the 1-D toy data whose density is known.

- Proposition 1: for a fixed G, the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)).
  `proposition1` trains a fresh D against a frozen G to convergence and measures how far it is
  from D*, with p_g a kernel density estimate of many samples of G.
- Theorem 1: C(G) = max_D V(G, D) = -log 4 + 2 JSD(p_data || p_g). `theorem1` estimates V at the
  converged D by Monte Carlo and the right-hand side by numerical integration on a grid.
- After GAN training p_g should be close to p_data: `fit` gives the 1-D Wasserstein distance and
  the Kolmogorov-Smirnov statistic between samples of G and the exact data distribution.
- The practical remark of section 3: early in training log(1 - D(G(z))) saturates, so the minimax
  objective gives G small gradients and learns more slowly than the non-saturating one;
  `compare_objectives` trains both from the same seed and returns their logs.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from advnets.config import Config
from advnets.data.toy import TOYS
from advnets.errors import NotApplicable
from advnets.nn import build_discriminator, sample_noise


def kde_1d(
    samples: torch.Tensor, grid: torch.Tensor, bandwidth: float | None = None
) -> torch.Tensor:
    """Gaussian kernel density estimate of 1-D samples [n] (or [n, 1]) on grid points [m], float64.

    The default bandwidth is Scott's rule, 1.06 * sd * n^(-1/5)."""
    s = samples.double().reshape(-1)
    h = bandwidth or 1.06 * float(s.std()) * len(s) ** -0.2
    g = grid.double().reshape(-1)
    density = torch.zeros_like(g)
    for chunk in s.split(4096):  # bounded memory for many samples
        density += torch.exp(-0.5 * ((g[:, None] - chunk[None, :]) / h) ** 2).sum(1)
    return density / (len(s) * h * math.sqrt(2 * math.pi))


def _data_sampler(config: Config, gen: torch.Generator):
    toy = TOYS[config.data.source]
    return lambda n: toy.sample(n, gen)


def train_discriminator(
    G, config: Config, steps: int = 3000, batch: int = 1000, lr: float = 1e-3, seed: int = 0
) -> torch.nn.Module:
    """A fresh D (the run's architecture) trained against the frozen G on fresh samples each
    step."""
    from advnets.losses import discriminator_loss

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = _data_sampler(config, gen)
    D = build_discriminator(config, TOYS[config.data.source].dim, train_x=data(10_000))
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # settle into the optimum
    g = config.generator
    for _ in range(steps):
        with torch.no_grad():
            fake = G(sample_noise(g.prior, batch, g.noise_dim, generator=gen))
        loss = discriminator_loss(D(data(batch)), D(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return D.eval()


def densities(G, config: Config, grid: torch.Tensor, n_samples: int, seed: int = 0):
    """(p_data exactly, p_g by a KDE of `n_samples` samples of G, those samples) on a 1-D grid."""
    gen = torch.Generator().manual_seed(seed + 1)
    g = config.generator
    with torch.no_grad():
        samples = G(sample_noise(g.prior, n_samples, g.noise_dim, generator=gen)).reshape(-1)
    p_data = TOYS[config.data.source].log_density(grid[:, None]).exp()
    return p_data, kde_1d(samples, grid), samples


def default_grid(config: Config, points: int = 801) -> torch.Tensor:
    toy = TOYS[config.data.source]
    mean, sd = toy.means[0][0], toy.std
    return torch.linspace(mean - 8 * sd, mean + 8 * sd, points, dtype=torch.float64)


def proposition1(
    G,
    D,
    config: Config,
    grid: torch.Tensor | None = None,
    n_samples: int = 200_000,
    support: float = 0.05,
    seed: int = 0,
) -> dict:
    """Largest |D(x) - D*(x)| over grid points where p_data + p_g exceeds `support` x its
    maximum."""
    grid = default_grid(config) if grid is None else grid
    p_data, p_g, _ = densities(G, config, grid, n_samples, seed)
    total = p_data + p_g
    where = total > support * total.max()
    d_star = p_data[where] / total[where]
    with torch.no_grad():
        d = torch.sigmoid(D(grid[where, None].float())).double()
    err = (d - d_star).abs()
    return {
        "max_abs_error": float(err.max()),
        "mean_abs_error": float(err.mean()),
        "points": int(where.sum()),
        "support_fraction": support,
    }


def jsd(p: torch.Tensor, q: torch.Tensor, grid: torch.Tensor) -> float:
    """Jensen-Shannon divergence (nats) of two densities tabulated on a uniform grid."""
    m = (p + q) / 2
    kl_pm = torch.where(p > 0, p * (p / m).log(), torch.zeros_like(p))
    kl_qm = torch.where(q > 0, q * (q / m).log(), torch.zeros_like(q))
    return float(torch.trapezoid(kl_pm, grid) + torch.trapezoid(kl_qm, grid)) / 2


def theorem1(
    G, D, config: Config, grid: torch.Tensor | None = None, n_samples: int = 200_000, seed: int = 0
) -> dict:
    """V(G, D) by Monte Carlo at the trained D, against -log 4 + 2 JSD(p_data || p_g) on the
    grid."""
    from advnets.losses import discriminator_loss

    grid = default_grid(config) if grid is None else grid
    p_data, p_g, samples = densities(G, config, grid, n_samples, seed)
    gen = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        real = D(TOYS[config.data.source].sample(n_samples, gen))
        # V = E log D(x) + E log(1 - D(G(z))) = -2 x the discriminator's loss (0.5 x BCE on each
        # side)
        v = -2 * float(discriminator_loss(real, D(samples[:, None].float())))
    divergence = jsd(p_data, p_g, grid)
    return {
        "v": v,
        "c_of_g": -math.log(4) + 2 * divergence,
        "jsd": divergence,
        "difference": v - (-math.log(4) + 2 * divergence),
    }


def checks_with_known_p_g(
    D, config: Config, x_g: torch.Tensor, log_p_g, n: int = 50_000, seed: int = 0
) -> dict:
    """Proposition 1 and Theorem 1 in any dimension, for a G whose density is known in closed form.

    `x_g` [n, d] are samples of G and `log_p_g` maps points [m, d] to log p_g. D is compared with
    D* = p_data / (p_data + p_g) at the pooled samples of p_data and p_g (where the densities
    live); V(D, G) and JSD(p_data || p_g) are Monte Carlo averages over the same samples."""
    from advnets.losses import discriminator_loss

    toy = TOYS[config.data.source]
    x_d = toy.sample(n, torch.Generator().manual_seed(seed + 4)).double()
    x_g = x_g[:n].double()
    points = torch.cat([x_d, x_g])
    lp, lq = toy.log_density(points), log_p_g(points)
    with torch.no_grad():
        logits = D(points.float()).double()
    err = (torch.sigmoid(logits) - torch.sigmoid(lp - lq)).abs()
    v = -2 * float(discriminator_loss(logits[:n], logits[n:]))
    mix = torch.logaddexp(lp, lq) - math.log(2)  # log of the mixture (p_data + p_g) / 2
    divergence = 0.5 * float((lp[:n] - mix[:n]).mean() + (lq[n:] - mix[n:]).mean())
    return {
        "mean_abs_error": float(err.mean()),
        "p95_abs_error": float(err.quantile(0.95)),
        "v": v,
        "c_of_g": -math.log(4) + 2 * divergence,
        "jsd": divergence,
        "difference": v - (-math.log(4) + 2 * divergence),
    }


def fit(G, config: Config, n_samples: int = 100_000, seed: int = 0) -> dict:
    """Wasserstein-1 distance and Kolmogorov-Smirnov statistic between G's samples and p_data."""
    from scipy import stats

    toy = TOYS[config.data.source]
    if len(toy.means) != 1 or toy.dim != 1:
        raise NotApplicable(
            f"fit() compares with one 1-D Gaussian; {config.data.source} is not one"
        )
    gen = torch.Generator().manual_seed(seed + 3)
    g = config.generator
    with torch.no_grad():
        x = (
            G(sample_noise(g.prior, n_samples, g.noise_dim, generator=gen))
            .reshape(-1)
            .double()
            .numpy()
        )
    mean, sd = toy.means[0][0], toy.std
    reference = stats.norm(mean, sd)
    ks = stats.kstest(x, reference.cdf).statistic
    # W1 between the sample and the exact distribution: the integral of |F_n - F| over the line
    xs = torch.linspace(mean - 10 * sd, mean + 10 * sd, 20_001, dtype=torch.float64)
    sorted_x = torch.from_numpy(x).sort().values
    f_n = torch.searchsorted(sorted_x, xs, right=True).double() / len(x)
    w1 = float(torch.trapezoid((f_n - torch.from_numpy(reference.cdf(xs.numpy()))).abs(), xs))
    return {
        "wasserstein1": w1,
        "ks": float(ks),
        "sample_mean": float(x.mean()),
        "sample_sd": float(x.std()),
    }


def compare_objectives(config: Config, run_root, steps: int, progress: bool = False) -> dict:
    """Train the same config and seed with each generator objective for `steps` steps; returns
    {objective: metrics.jsonl rows} (steps, losses, mean D outputs, G's gradient norm)."""
    from advnets.run import Run
    from advnets.train import train

    logs = {}
    for objective in ("minimax", "non-saturating"):
        cfg = replace(config, train=replace(config.train, objective=objective, max_steps=steps))
        run = train(cfg, Path(run_root) / objective, progress=progress)
        logs[objective] = Run(run).metrics(complete=True)
    return logs


@dataclass
class TheoryReport:
    """The checks of `report` (`result`, JSON-able) and the curves a figure of them draws."""

    result: dict
    grid: torch.Tensor  # x values [m]
    curves: dict  # p_data, p_g (KDE) and D on the grid (curves_1d)
    logs: dict  # {objective: metrics rows} of the two short runs (compare_objectives)


def report(
    run,
    d_steps: int = 3000,
    objective_steps: int = 300,
    seed: int = 0,
    progress: bool = False,
) -> TheoryReport:
    """Every check above for the final generator of a 1-D toy run (advnets.figures.theory draws
    and writes them)."""
    from advnets.sample import load_generator

    trained = load_generator(run)
    config = trained.config
    toy = TOYS.get(config.data.source)
    if toy is None or toy.dim != 1 or len(toy.means) != 1:
        raise NotApplicable(
            f"the theory report needs a run on gaussian-1d; {run} was trained on "
            f"{config.data.source}"
        )
    G = trained.G
    D = train_discriminator(G, config, steps=d_steps, seed=seed)
    grid = default_grid(config)
    result = {
        "run": str(run),
        "step": trained.step,
        "d_steps": d_steps,
        "seed": seed,
        "proposition1": proposition1(G, D, config, grid, n_samples=100_000, seed=seed),
        "theorem1": theorem1(G, D, config, grid, n_samples=100_000, seed=seed),
        "fit": fit(G, config, seed=seed),
    }
    start = replace(
        config,
        generator=replace(config.generator, output_bias_from_data=False),
        train=replace(config.train, log_every=10, sample_every=10**6),
    )
    with tempfile.TemporaryDirectory() as scratch:  # the two short runs: their logs only are kept
        logs = compare_objectives(start, scratch, objective_steps, progress=progress)
    result["objectives"] = {
        name: {
            "first_50_steps_mean_g_grad_norm": _mean(r["g_grad_norm"] for r in rows[:5]),
            "log": [{k: r[k] for k in ("step", "g_loss", "d_fake", "g_grad_norm")} for r in rows],
        }
        for name, rows in logs.items()
    }
    curves = curves_1d(G, D, config, grid, n_samples=100_000, seed=seed)
    return TheoryReport(result, grid, curves, logs)


def curves_1d(G, D, config, grid: torch.Tensor, n_samples: int = 20_000, seed: int = 0) -> dict:
    """p_data, p_g (KDE) and D on `grid` for one checkpoint's G and D (1-D data)."""
    p_data, p_g, _ = densities(G, config, grid, n_samples, seed)
    with torch.no_grad():
        d = torch.sigmoid(D(grid[:, None].float())).double()
    return {"p_data": p_data, "p_g": p_g, "d": d}


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)
