import math

import torch

from advnets.losses import (
    discriminator_loss,
    generator_minimax,
    generator_non_saturating,
)


def logit(p):
    return torch.tensor([math.log(p / (1 - p))], dtype=torch.float64)


def test_discriminator_loss_by_hand():
    # D(x) = 0.9, D(G(z)) = 0.2: 0.5 * (-log 0.9 - log 0.8)
    value = discriminator_loss(logit(0.9), logit(0.2))
    assert math.isclose(float(value), 0.5 * (-math.log(0.9) - math.log(0.8)), rel_tol=1e-12)


def test_generator_objectives_by_hand():
    assert math.isclose(float(generator_minimax(logit(0.2))), math.log(0.8), rel_tol=1e-12)
    assert math.isclose(float(generator_non_saturating(logit(0.2))), -math.log(0.2), rel_tol=1e-12)


def test_stable_at_extreme_logits():
    big = torch.tensor([80.0, -80.0])
    for value in (
        discriminator_loss(big, -big),
        generator_minimax(big),
        generator_non_saturating(-big),
    ):
        assert torch.isfinite(value)
    assert math.isclose(float(generator_non_saturating(torch.tensor([-80.0]))), 80.0, rel_tol=1e-6)


def test_optimum_of_d_at_equal_densities_is_log4():
    # With D = 1/2 everywhere, V(D, G) = -log 4 and the D loss (which is -V/2) is log 2.
    zero = torch.zeros(10)
    assert math.isclose(float(discriminator_loss(zero, zero)), math.log(2), rel_tol=1e-7)


def test_minimax_saturates_where_non_saturating_does_not():
    # Early in training D(G(z)) ~ 0: the minimax gradient vanishes, the non-saturating one does not.
    l1 = torch.tensor([-8.0], requires_grad=True)
    l2 = torch.tensor([-8.0], requires_grad=True)
    generator_minimax(l1).backward()
    generator_non_saturating(l2).backward()
    assert abs(float(l1.grad)) < 1e-3 and abs(float(l2.grad)) > 0.99
    # Same direction: both push D(G(z)) up (the minimax loss decreases as the logit rises).
    assert float(l1.grad) < 0 and float(l2.grad) < 0


REAL = torch.tensor([2.0, 0.5, -0.5], dtype=torch.float64)
FAKE = torch.tensor([-1.5, 0.25], dtype=torch.float64)


def test_hinge_by_hand():
    from advnets.losses import discriminator_hinge, generator_hinge

    # real: max(0, 1-2)=0, max(0, 0.5)=0.5, max(0, 1.5)=1.5 -> mean 2/3;
    # fake: max(0, -0.5)=0, 1.25 -> mean 0.625
    assert math.isclose(float(discriminator_hinge(REAL, FAKE)), 2 / 3 + 0.625, rel_tol=1e-12)
    assert math.isclose(float(generator_hinge(FAKE)), 0.625, rel_tol=1e-12)  # -(-1.5 + 0.25) / 2


def test_least_squares_by_hand():
    from advnets.losses import discriminator_least_squares, generator_least_squares

    # real: (1, 0.25, 2.25) -> mean 7/6; fake: (2.25, 0.0625) -> mean 1.15625
    assert math.isclose(
        float(discriminator_least_squares(REAL, FAKE)), 0.5 * (7 / 6 + 1.15625), rel_tol=1e-12
    )
    # (6.25 + 0.5625) / 2 / 2
    assert math.isclose(
        float(generator_least_squares(FAKE)), 0.5 * (6.25 + 0.5625) / 2, rel_tol=1e-12
    )


def test_wasserstein_by_hand():
    from advnets.losses import critic_wasserstein, generator_wasserstein

    assert math.isclose(float(critic_wasserstein(REAL, FAKE)), -0.625 - 2 / 3, rel_tol=1e-12)
    assert math.isclose(float(generator_wasserstein(FAKE)), 0.625, rel_tol=1e-12)


def test_every_configurable_objective_is_paired():
    import typing

    from advnets.config import TrainConfig
    from advnets.losses import OBJECTIVES

    names = typing.get_args(typing.get_type_hints(TrainConfig)["objective"])
    assert set(names) == set(OBJECTIVES)
