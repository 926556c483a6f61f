import math

import torch

from advnets.metrics.modes import mode_coverage
from helpers import advnets


def brute_force(samples, means, std, radius=3.0):
    counts, good = [0] * len(means), 0
    for s in samples.tolist():
        d = [math.dist(s, m) for m in means.tolist()]
        j = min(range(len(d)), key=d.__getitem__)
        if d[j] < radius * std:
            counts[j] += 1
            good += 1
    return sum(c > 0 for c in counts), good / len(samples), counts


def test_mode_coverage_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    means = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    # samples around three of the four modes, some far off
    samples = torch.cat(
        [
            means[:3].repeat(30, 1) + 0.06 * torch.randn(90, 2, generator=gen),
            4 * torch.rand(20, 2, generator=gen) - 2,
        ]
    )
    got = mode_coverage(samples, means, std=0.05)
    modes, frac, counts = brute_force(samples, means, 0.05)
    assert (got["modes"], got["per_mode"]) == (modes, counts)
    assert math.isclose(got["high_quality"], frac)
    assert got["modes"] == 3 and got["per_mode"][3] == 0  # the far mode is never covered


def test_a_far_sample_does_not_cover_its_nearest_mode():
    means = torch.tensor([[0.0], [10.0]])
    got = mode_coverage(
        torch.tensor([[0.1], [5.2]]), means, std=0.1
    )  # 5.2 is nearest 10 but 4.8 away
    assert got["modes"] == 1 and got["per_mode"] == [1, 0] and got["high_quality"] == 0.5


def test_packed_discriminator_judges_sets():
    from advnets.config import Config, DiscriminatorConfig
    from advnets.nn import build_discriminator

    d_cfg = DiscriminatorConfig(hidden=[8], pieces=2, pack=4, input_keep=1.0, hidden_keep=1.0)
    D = build_discriminator(Config(discriminator=d_cfg), 2)
    x = torch.randn(12, 2)
    out = D(x)
    assert out.shape == (3,)  # one judgement per set of 4
    # a set is the concatenation of its 4 rows: permuting sets permutes the outputs, and changing
    # one row changes only its own set's output
    assert torch.allclose(D(x.view(3, 4, 2)[[2, 0, 1]].reshape(12, 2)), out[[2, 0, 1]])
    y = x.clone()
    y[5] += 1.0
    changed = D(y) != out
    assert changed.tolist() == [False, True, False]


def test_evaluate_modes_and_figure_from_a_toy_run(tmp_path):
    import json

    run = tmp_path / "ring"
    advnets(
        "train",
        "--preset",
        "ring-2d",
        "--discriminator.pack",
        4,
        "--train.max_steps",
        20,
        "--out",
        run,
        "--no-progress",
    )
    proc = advnets("evaluate", run, "--metric", "modes", "--samples", 2500, "--no-progress")
    assert "modes" in proc.stdout and "high quality" in proc.stdout
    book = json.loads((run / "evaluation.json").read_text())
    m = next(iter(book.values()))["metrics"]["modes"]
    assert (
        m["of"] == 8
        and m["samples"] == 2500
        and sum(m["per_mode"]) == round(m["high_quality"] * 2500)
    )
    advnets("figure", "modes", run)
    assert (run / "figures" / "modes.png").is_file()
