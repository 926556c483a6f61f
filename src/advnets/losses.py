"""The adversarial objectives, computed from D's raw outputs (logits, or a critic's scores).

With D(x) = sigmoid(l): log D = -softplus(-l) and log(1 - D) = -softplus(l).
Discriminator objectives take (real_logits, fake_logits), generator objectives take
(fake_logits); each returns the scalar to *minimise*. `OBJECTIVES` pairs them by name
(config `train.objective`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-(1/2)[mean log D(x) + mean log(1 - D(G(z)))], i.e. the reference code's
    0.5 * [BCE(D(x), 1) + BCE(D(G(z)), 0)]; minimising it ascends V(D, G) of Algorithm 1."""
    return 0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())


def generator_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """mean log(1 - D(G(z))): the minimax game's generator objective (saturates when D wins)."""
    return -F.softplus(fake_logits).mean()


def generator_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-mean log D(G(z)): the paper's practical variant, same fixed point, strong early
    gradients."""
    return F.softplus(-fake_logits).mean()


def discriminator_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """mean max(0, 1 - l(x)) + mean max(0, 1 + l(G(z))) (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def generator_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """-mean l(G(z)): the hinge game's generator objective."""
    return -fake_logits.mean()


def discriminator_least_squares(
    real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> torch.Tensor:
    """(1/2) mean (l(x) - 1)^2 + (1/2) mean l(G(z))^2: targets 1 for data, 0 for samples (Mao et
    al. 2017)."""
    return 0.5 * ((real_logits - 1.0).square().mean() + fake_logits.square().mean())


def generator_least_squares(fake_logits: torch.Tensor) -> torch.Tensor:
    """(1/2) mean (l(G(z)) - 1)^2: G asks for the data's target."""
    return 0.5 * (fake_logits - 1.0).square().mean()


def critic_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """mean f(G(z)) - mean f(x): minus the critic's estimate of the Wasserstein-1 distance
    (Arjovsky et al. 2017); only meaningful with f kept near 1-Lipschitz (penalty.gradient)."""
    return fake_scores.mean() - real_scores.mean()


def generator_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """-mean f(G(z))."""
    return -fake_scores.mean()


@dataclass(frozen=True)
class Objective:
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor] | None  # None: G matches D's features instead


OBJECTIVES = {
    "non-saturating": Objective(discriminator_loss, generator_non_saturating),
    "minimax": Objective(discriminator_loss, generator_minimax),
    "feature-matching": Objective(discriminator_loss, None),
    "hinge": Objective(discriminator_hinge, generator_hinge),
    "least-squares": Objective(discriminator_least_squares, generator_least_squares),
    "wasserstein": Objective(critic_wasserstein, generator_wasserstein),
}


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """mean_j (E f_j(x) - E f_j(G(z)))^2 over D's features f (Salimans et al., 2016): G is asked to
    match the statistics D looks at rather than to fool the current D."""
    return (real_features.mean(0) - fake_features.mean(0)).square().mean()


def semi_supervised_discriminator_loss(
    labelled_logits: torch.Tensor,
    labels: torch.Tensor,
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    unsupervised_weight: float = 1.0,
) -> torch.Tensor:
    """The K-class discriminator's loss (Salimans et al., 2016): cross-entropy on labelled images
    [B, K], plus real vs generated with D(x) = Z / (Z + 1), Z = sum_k exp(l_k), i.e. the
    adversarial logit log Z, on unlabelled real and generated images [B, K]."""
    supervised = F.cross_entropy(labelled_logits, labels)
    unsupervised = discriminator_loss(
        torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1)
    )
    return supervised + unsupervised_weight * unsupervised
