"""Parzen window: against a brute-force float64 log-sum-exp, scikit-learn, and the paper's
protocol."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from advnets.metrics.parzen import PAPER_SIGMAS, parzen_log_density, parzen_protocol


def brute_force(x: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
    """The reference code's formula term by term: differences, not the matrix-product expansion."""
    x = x.astype(np.float64)
    mu = mu.astype(np.float64)
    sq = ((x[:, None, :] - mu[None, :, :]) ** 2).sum(2)
    d = x.shape[1]
    return (
        logsumexp(-sq / (2 * sigma**2), axis=1)
        - math.log(len(mu))
        - d * math.log(sigma * math.sqrt(2 * math.pi))
    )


def test_equals_brute_force_on_random_data():
    rng = np.random.default_rng(0)
    x, mu = rng.normal(size=(37, 20)), rng.normal(size=(53, 20))
    sigmas = [0.3, 1.0, 2.5]
    ours = parzen_log_density(x, mu, sigmas).numpy()
    for s, row in zip(sigmas, ours):
        np.testing.assert_allclose(row, brute_force(x, mu, s), rtol=1e-9)


def test_blocks_do_not_change_the_result():
    """A budget so small that queries and centres are cut into many blocks (the online log-sum-exp
    rescales its sums whenever a later block holds a nearer centre)."""
    rng = np.random.default_rng(1)
    x, mu = rng.uniform(size=(150, 10)), rng.uniform(size=(300, 10))
    whole = parzen_log_density(x, mu, PAPER_SIGMAS)
    blocked = parzen_log_density(x, mu, PAPER_SIGMAS, memory_bytes=8 * 3 * 64 * 7)
    np.testing.assert_allclose(blocked.numpy(), whole.numpy(), rtol=1e-10, atol=1e-12)
    for s, row in zip(PAPER_SIGMAS, blocked.numpy()):
        np.testing.assert_allclose(row, brute_force(x, mu, s), rtol=1e-9)


def test_single_sigma_returns_one_row_and_extreme_widths_stay_finite():
    rng = np.random.default_rng(2)
    x, mu = rng.uniform(size=(5, 784)), rng.uniform(size=(40, 784))
    out = parzen_log_density(x, mu, 0.01)  # exp underflows for every centre without the offset
    assert out.shape == (5,) and torch.isfinite(out).all()
    np.testing.assert_allclose(out.numpy(), brute_force(x, mu, 0.01), rtol=1e-9)


def test_a_query_on_a_centre_is_exact():
    mu = np.eye(4)
    out = parzen_log_density(mu[:1], mu[:1], 0.5)
    assert float(out) == pytest.approx(-4 * math.log(0.5 * math.sqrt(2 * math.pi)), rel=1e-12)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"sigmas": [0.1, -1.0]}, "positive"),
        ({"centres": np.zeros((0, 3))}, "at least one sample"),
        ({"centres": np.zeros((4, 2))}, "3 dimensions but centres have 2"),
        ({"queries": np.full((2, 3), np.nan)}, "NaN"),
        ({"queries": np.zeros(3)}, "2-D"),
    ],
)
def test_bad_input_is_named(bad, message):
    args = {"queries": np.zeros((2, 3)), "centres": np.ones((4, 3)), "sigmas": [0.1]} | bad
    with pytest.raises(ValueError, match=message):
        parzen_log_density(args["queries"], args["centres"], args["sigmas"])


def test_equals_scikit_learn_ball_tree():
    """scikit-learn sums every kernel when one leaf holds all centres, and then agrees to 1e-9;
    with its default leaves the tree's bounds drop small terms even at rtol=0 (seen: 1e-4
    relative on this data), so that comparison is looser."""
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(3)
    x, mu = rng.uniform(size=(40, 64)), rng.uniform(size=(200, 64))
    ours = parzen_log_density(x, mu, 0.4).numpy()
    exhaustive = KernelDensity(bandwidth=0.4, algorithm="ball_tree", leaf_size=len(mu)).fit(mu)
    np.testing.assert_allclose(ours, exhaustive.score_samples(x), rtol=1e-9)
    pruned = KernelDensity(bandwidth=0.4, algorithm="ball_tree").fit(mu)
    np.testing.assert_allclose(ours, pruned.score_samples(x), rtol=1e-3)


def test_on_mnist_rows(mnist_root):
    """Real 784-D images, where sklearn's default kd_tree is off by hundreds of nats (see the
    project brief); ball_tree and the brute-force sum agree with ours."""
    from sklearn.neighbors import KernelDensity

    from advnets.data import load

    train = load("mnist", "train", mnist_root).x[:300].numpy()
    test = load("mnist", "test", mnist_root).x[:30].numpy()
    sigma = 0.167
    ours = parzen_log_density(test, train, sigma).numpy()
    np.testing.assert_allclose(ours, brute_force(test, train, sigma), rtol=1e-9)
    ball = KernelDensity(bandwidth=sigma, algorithm="ball_tree").fit(train.astype(np.float64))
    np.testing.assert_allclose(ours, ball.score_samples(test.astype(np.float64)), rtol=1e-9)


def test_protocol_picks_the_best_validation_sigma_and_reports_the_standard_error():
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(500, 2))
    valid, test = rng.normal(size=(100, 2)), rng.normal(size=(400, 2))
    sigmas = [0.05, 0.3, 3.0]
    res = parzen_protocol(centres, valid, test, sigmas)
    valid_means = [brute_force(valid, centres, s).mean() for s in sigmas]
    assert res.sigma == sigmas[int(np.argmax(valid_means))] == 0.3
    ll = brute_force(test, centres, res.sigma)
    assert res.mean == pytest.approx(ll.mean(), rel=1e-9)
    assert res.stderr == pytest.approx(ll.std() / math.sqrt(len(ll)), rel=1e-9)
    assert (res.n_centres, res.n_valid, res.n_test) == (500, 100, 400)
    # the estimate of a 2-D standard normal approaches its true log-likelihood, -1 - log(2 pi)
    assert res.mean == pytest.approx(-1 - math.log(2 * math.pi), abs=0.15)
