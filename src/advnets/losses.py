"""The adversarial objectives, computed stably from D's logits.

With D(x) = sigmoid(l): log D = -softplus(-l) and log(1 - D) = -softplus(l).
Discriminator objectives take (real_logits, fake_logits), generator objectives take
(fake_logits); each returns the scalar to *minimise*.
"""

from __future__ import annotations

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
    """-mean log D(G(z)): the paper's practical variant, same fixed point, strong early gradients."""
    return F.softplus(-fake_logits).mean()


GENERATOR_OBJECTIVES = {"minimax": generator_minimax, "non-saturating": generator_non_saturating}


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """mean_j (E f_j(x) - E f_j(G(z)))^2 over D's features f (Salimans et al., 2016): G is asked to
    match the statistics D looks at rather than to fool the current D."""
    return (real_features.mean(0) - fake_features.mean(0)).square().mean()


def semi_supervised_discriminator_loss(labelled_logits: torch.Tensor, labels: torch.Tensor,
                                       real_logits: torch.Tensor, fake_logits: torch.Tensor,
                                       unsupervised_weight: float = 1.0) -> torch.Tensor:
    """The K-class discriminator's loss (Salimans et al., 2016): cross-entropy on labelled images
    [B, K], plus real vs generated with D(x) = Z / (Z + 1), Z = sum_k exp(l_k), i.e. the
    adversarial logit log Z, on unlabelled real and generated images [B, K]."""
    supervised = F.cross_entropy(labelled_logits, labels)
    unsupervised = discriminator_loss(torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1))
    return supervised + unsupervised_weight * unsupervised
