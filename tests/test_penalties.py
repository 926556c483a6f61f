import math

import torch

from advnets.penalties import gradient_penalty, r1_penalty


def test_penalties_of_a_linear_critic_by_hand():
    # D(x) = w.x + b has gradient w everywhere: GP = (||w|| - 1)^2, R1 = ||w||^2 / 2
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)
    critic = lambda x: x @ w + 1.0
    real, fake = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    assert math.isclose(gradient_penalty(critic, real, fake).item(), 16.0, rel_tol=1e-12)
    assert math.isclose(r1_penalty(critic, real).item(), 12.5, rel_tol=1e-12)


def _mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    ).double()


def test_gradient_penalty_against_finite_differences():
    net = _mlp(0)
    critic = lambda x: net(x).squeeze(-1)
    real, fake = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    torch.manual_seed(7)
    value = gradient_penalty(critic, real, fake)
    torch.manual_seed(7)  # the same interpolation weights
    e = torch.rand(4, 1, dtype=torch.float64)
    x_hat = e * real + (1 - e) * fake
    h = 1e-6
    norms = []
    for row in x_hat:
        grad = []
        for j in range(3):
            step = torch.zeros(3, dtype=torch.float64)
            step[j] = h
            grad.append((critic((row + step)[None]) - critic((row - step)[None])).item() / (2 * h))
        norms.append(math.sqrt(sum(g * g for g in grad)))
    expected = sum((n - 1) ** 2 for n in norms) / len(norms)
    assert math.isclose(value.item(), expected, rel_tol=1e-7)


def test_penalty_gradient_reaches_the_critic_weights():
    # D's update must differentiate through the penalty (create_graph): compare with finite
    # differences in one weight.
    net = _mlp(1)
    real = torch.randn(6, 3, dtype=torch.float64)
    critic = lambda x: net(x).squeeze(-1)
    r1_penalty(critic, real).backward()
    weight = net[0].weight
    analytic = weight.grad[2, 1].item()
    h = 1e-6
    with torch.no_grad():
        weight[2, 1] += h
    up = r1_penalty(critic, real).item()
    with torch.no_grad():
        weight[2, 1] -= 2 * h
    down = r1_penalty(critic, real).item()
    assert analytic != 0.0
    assert math.isclose(analytic, (up - down) / (2 * h), rel_tol=1e-6)
