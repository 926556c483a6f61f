"""Penalties on the discriminator's gradient with respect to its input, added to D's loss.

- ``gradient``: lambda E[(||grad_x D(x_hat)||_2 - 1)^2] at random points x_hat on the lines between
  real and generated images: WGAN-GP's soft 1-Lipschitz constraint (Gulrajani et al. 2017).
- ``r1``: (gamma / 2) E[||grad_x D(x)||^2] on real images (Mescheder et al. 2018): D is asked to be
  flat on the data, which damps the oscillation around the equilibrium.

Each takes `critic`, a function from images [B, D] to D's raw outputs [B], and is built with
`create_graph=True`, so that D's update differentiates through it.
"""

from __future__ import annotations

import torch


def _input_gradient(critic, x: torch.Tensor) -> torch.Tensor:
    """d sum(critic(x)) / dx, [B, D], kept in the graph (rows are independent, so row i holds
    the gradient of critic(x)_i)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(||grad D(x_hat)|| - 1)^2], x_hat = e x + (1 - e) G(z), e ~ U[0, 1] per row (global
    RNG)."""
    e = torch.rand(real.shape[0], 1, device=real.device, dtype=real.dtype)
    x_hat = e * real.detach() + (1.0 - e) * fake.detach()
    return (torch.linalg.vector_norm(_input_gradient(critic, x_hat), dim=1) - 1.0).square().mean()


def r1_penalty(critic, real: torch.Tensor) -> torch.Tensor:
    """(1/2) E[||grad D(x)||^2] on real x; the config's gamma multiplies it."""
    return 0.5 * _input_gradient(critic, real).square().sum(1).mean()
