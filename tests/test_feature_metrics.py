"""FID, KID, precision/recall and the classifier score against references and known cases."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from advnets.metrics.fid import fid, frechet_distance
from advnets.metrics.kid import kid, mmd2_unbiased
from advnets.metrics.precision_recall import knn_radii, precision_recall
from advnets.metrics.score import (
    classifier_score,
    label_histogram,
    label_total_variation,
)


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The usual formulation (pytorch-fid's): scipy.linalg.sqrtm of the covariance product."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(ca @ cb).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.trace(root))


def test_fid_equals_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(800, 16)) @ rng.normal(size=(16, 16))
    b = rng.normal(loc=0.3, size=(600, 16)) @ rng.normal(size=(16, 16))
    assert fid(a, b) == pytest.approx(scipy_fid(a, b), rel=1e-6, abs=1e-6)


def test_fid_of_gaussians_in_closed_form():
    """Commuting (diagonal) covariances: d^2 = |mu_a - mu_b|^2 + sum (sqrt(s_a) - sqrt(s_b))^2."""
    mu_a, mu_b = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s_a, s_b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    expected = 1 + 4 + (1 + 0 + 4)
    assert frechet_distance(mu_a, torch.diag(s_a), mu_b, torch.diag(s_b)) == pytest.approx(
        expected, rel=1e-12
    )


def test_fid_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 8))
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    assert fid(a, a + 0.1) < fid(a, a + 0.5) < fid(a, a + 1.0)
    assert fid(a, a + 1.0) == pytest.approx(8.0, rel=1e-9)  # a shift by 1 in each of 8 dimensions


def brute_mmd2(a, b):
    def k(x, y):
        return (x @ y / len(x) + 1) ** 3

    m, n = len(a), len(b)
    aa = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    bb = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    ab = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return aa + bb - 2 * ab


def test_mmd_equals_a_term_by_term_sum():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(12, 5)), rng.normal(loc=0.5, size=(9, 5))
    assert mmd2_unbiased(torch.tensor(a), torch.tensor(b)) == pytest.approx(
        brute_mmd2(a, b), rel=1e-10
    )


def test_kid_is_unbiased_on_disjoint_halves_of_one_set():
    """The unbiased estimate averages to 0 between two samples of one distribution (the biased
    one would stay positive), and is clearly positive once the distributions differ."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 10))
    mean, std = kid(x[:2000], x[2000:], subsets=50, subset_size=500)
    assert abs(mean) < 3 * std / math.sqrt(50)
    shifted, _ = kid(x[:2000], x[2000:] + 0.3, subsets=50, subset_size=500)
    assert shifted > 20 * std


def test_kid_is_deterministic_for_a_seed():
    x = np.random.default_rng(4).normal(size=(300, 4))
    y = x + 0.1
    assert kid(x, y, 10, 100, seed=7) == kid(x, y, 10, 100, seed=7) != kid(x, y, 10, 100, seed=8)


def test_knn_radii_match_scikit_learn():
    from sklearn.neighbors import NearestNeighbors

    x = np.random.default_rng(5).normal(size=(200, 6))
    dist, _ = NearestNeighbors(n_neighbors=4).fit(x).kneighbors(x)  # the point itself comes first
    np.testing.assert_allclose(
        knn_radii(torch.tensor(x), 3, memory_bytes=8 * 200 * 17).numpy(), dist[:, 3], rtol=1e-10
    )


def test_precision_recall_by_brute_force_and_against_itself():
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(60, 3)), rng.normal(loc=0.7, size=(50, 3))

    def brute(queries, centres, k=3):
        radius = [np.sort(np.linalg.norm(centres - c, axis=1))[k] for c in centres]
        return np.mean(
            [any(np.linalg.norm(q - c) <= r for c, r in zip(centres, radius)) for q in queries]
        )

    p, r = precision_recall(real, fake, k=3)
    assert (p, r) == (pytest.approx(brute(fake, real)), pytest.approx(brute(real, fake)))
    assert precision_recall(real, real) == (1.0, 1.0)


def test_precision_recall_move_the_right_way():
    """Samples off the data manifold cost precision; samples of only part of it cost recall."""
    rng = np.random.default_rng(7)
    real = rng.normal(size=(1000, 4))
    fresh = rng.normal(size=(1000, 4))
    p_fresh, r_fresh = precision_recall(real, fresh)
    p_far, _ = precision_recall(real, fresh + 3.0)
    _, r_half = precision_recall(real, fresh[fresh[:, 0] > 0])
    assert p_fresh > 0.9 and r_fresh > 0.9
    assert p_far < 0.2 and r_half < 0.75


def test_classifier_score_extremes():
    n, c = 1000, 10
    confident_even = torch.nn.functional.one_hot(torch.arange(n) % c, c).double()
    assert classifier_score(confident_even)[0] == pytest.approx(10.0)
    assert classifier_score(torch.full((n, c), 0.1))[0] == pytest.approx(1.0)
    one_class = torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), c).double()
    assert classifier_score(one_class)[0] == pytest.approx(1.0)


def test_label_total_variation():
    data = torch.nn.functional.one_hot(torch.arange(1000) % 10, 10).double()
    assert label_total_variation(data, data) == 0.0
    one_class = torch.nn.functional.one_hot(torch.full((500,), 3), 10).double()
    assert label_total_variation(one_class, data) == pytest.approx(0.9)
    assert label_histogram(one_class)[3] == 1.0
