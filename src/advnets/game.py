"""The adversarial game of one configuration: what D and G each minimise.

The paper's value function is V(D, G) = E_x log D(x) + E_z log(1 - D(G(z))) (eq. 1): D ascends
it, G descends it (minimax) or ascends log D(G(z)) instead (non-saturating, section 3); other
objectives are in advnets.losses. The variants that the configuration turns on live here too, so
that the training steps read like Algorithm 1:

- a conditional game (section 7, extension 1): D and G see the class c;
- D's auxiliary classifier (condition.auxiliary_weight): D also predicts c, real and generated;
- the semi-supervised D (semi.labels_per_class, Salimans et al., 2016): K class logits, whose
  log-sum-exp is the real-vs-generated logit, and a cross-entropy on a few labelled images;
- BiGAN (encoder.kind = bigan): D judges pairs (x, E(x)) and (G(z), z); E plays beside G;
- feature matching (train.objective): G matches D's mean features on real data;
- penalties on D's input gradient (penalty.gradient, penalty.r1);
- differentiable augmentation (augment.policy): D sees every image through T(x), real or
  generated, in both players' losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from advnets.augment import DiffAugment
from advnets.config import Config, augment_policy
from advnets.losses import OBJECTIVES, feature_matching, semi_supervised_discriminator_loss
from advnets.penalties import gradient_penalty, r1_penalty


@dataclass
class Verdict:
    """What D said of one batch."""

    out: torch.Tensor  # D's output [B]: one logit, or K class logits [B, K] when semi-supervised
    logits: torch.Tensor  # the real-vs-generated logit [B]
    classes: torch.Tensor | None = None  # the auxiliary classifier's class logits [B, C]


@dataclass
class Labelled:
    """The labelled images of a semi-supervised D: rows `index` of the training images x, y."""

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor


class Game:
    """D's loss and G's loss for `config`. `D` is the discriminator itself; the losses that must
    flow through a distributed wrapper take the module to call as an argument."""

    def __init__(
        self,
        config: Config,
        D: torch.nn.Module,
        labelled: Labelled | None = None,
        image_shape: tuple[int, ...] | None = None,
    ):
        self.config, self.D, self.labelled = config, D, labelled
        self.objective = OBJECTIVES[config.train.objective]
        self.bigan = config.encoder.kind == "bigan"
        self.auxiliary_weight = config.condition.auxiliary_weight
        policy = augment_policy(config.augment.policy)
        if policy and image_shape is None:
            raise ValueError("augment.policy transforms images: give the data's image_shape")
        self.augment = DiffAugment(policy, image_shape) if policy else None

    def seen(self, x: torch.Tensor) -> torch.Tensor:
        """x as D sees it: through a fresh draw of the augmentation T, or as it is."""
        return self.augment(x) if self.augment is not None else x

    # -- D's side -------------------------------------------------------------------------------

    def judge(self, D, x: torch.Tensor, c: torch.Tensor | None, pair: torch.Tensor | None):
        """D's verdict on x (with its class c, and the code z beside it when D judges pairs)."""
        x = self.seen(x)
        if self.auxiliary_weight:
            out, classes = D(x, c, pair, with_classes=True)
        else:
            out, classes = D(x, c, pair), None
        logits = torch.logsumexp(out, 1) if self.labelled is not None else out
        return Verdict(out, logits, classes)

    def judge_both(self, D, x, c, code, fake, c_fake, z) -> tuple[Verdict, Verdict]:
        """D's verdicts on the real batch (x, c[, E(x)]) and the generated one (G(z), c[, z])."""
        return self.judge(D, x, c, code), self.judge(D, fake, c_fake, z if self.bigan else None)

    def d_loss(self, real: Verdict, fake: Verdict, x, c, fake_x) -> torch.Tensor:
        """D's loss: the objective's (for a semi-supervised D, with the labelled images'
        cross-entropy), its classifier's cross-entropy on the real classes, and the penalties."""
        if self.labelled is None:
            loss = self.objective.discriminator(real.out, fake.out)
        else:
            lab = self.labelled
            rows = lab.index[torch.randint(len(lab.index), (len(x),), device=x.device)]
            loss = semi_supervised_discriminator_loss(
                self.D(self.seen(lab.x[rows])),
                lab.y[rows],
                real.out,
                fake.out,
                self.config.semi.unsupervised_weight,
            )
        return loss + self.auxiliary_loss(real.classes, c) + self.penalty(x, c, fake_x)

    def penalty(self, x, c, fake_x) -> torch.Tensor | float:
        """The configured penalties on D's input gradient; 0.0 when none. A conditional D is
        asked about the real images' classes at every point."""
        p = self.config.penalty
        if not (p.gradient or p.r1):
            return 0.0

        def critic(points: torch.Tensor) -> torch.Tensor:
            out = self.D(self.seen(points), c)
            return torch.logsumexp(out, 1) if self.labelled is not None else out

        total = 0.0
        if p.gradient:
            total = total + p.gradient * gradient_penalty(critic, x, fake_x)
        if p.r1:
            total = total + p.r1 * r1_penalty(critic, x)
        return total

    def auxiliary_loss(self, class_logits: torch.Tensor | None, c: torch.Tensor | None):
        """weight x the cross-entropy of D's classifier against the classes; 0.0 without one."""
        if class_logits is None:
            return 0.0
        return self.auxiliary_weight * F.cross_entropy(class_logits, c)

    # -- G's side -------------------------------------------------------------------------------

    def g_loss(self, x, fake_x, c_fake, fake: Verdict | None, real_logits=None) -> torch.Tensor:
        """G's loss from D's verdict on G(z) (none needed for feature matching), and with BiGAN's
        E beside G, E's loss too: E wants D to call (x, E(x)) generated, so its objective is G's
        applied to the flipped logit of the real pair."""
        if self.objective.generator is None:
            loss = feature_matching(
                self.D.features(self.seen(x)), self.D.features(self.seen(fake_x))
            )
        else:
            loss = self.objective.generator(fake.logits)
            if self.bigan:
                loss = loss + self.objective.generator(-real_logits)
        return loss + self.auxiliary_loss(fake.classes if fake is not None else None, c_fake)

    def judge_for_g(self, x, fake_x, c_fake, z, encode) -> tuple[Verdict | None, torch.Tensor]:
        """What G's own update needs of D: its verdict on G(z) (unless G matches features), and
        with BiGAN its logit of the real pair (x, E(x)), E called through `encode`."""
        fake = None
        if self.objective.generator is not None:
            fake = self.judge(self.D, fake_x, c_fake, z if self.bigan else None)
        real_logits = self.D(x, None, encode(x)) if self.bigan else None
        return fake, real_logits
