"""The paper's figures: nearest neighbours, interpolation, Figure 1 from a toy run, curves."""

import pytest
import torch
from PIL import Image

from advnets.figures.interpolate import interpolation_noise
from advnets.figures.neighbours import nearest_neighbours, neighbour_grid
from advnets.train.loop import train
from helpers import advnets, own_copy, tiny_config


def test_nearest_neighbours_match_brute_force():
    gen = torch.Generator().manual_seed(0)
    points, queries = torch.rand(300, 20, generator=gen), torch.rand(40, 20, generator=gen)
    brute = torch.stack([((points - q) ** 2).sum(1).argmin() for q in queries])
    assert torch.equal(nearest_neighbours(queries, points, batch=7), brute)


def test_neighbour_grid_puts_the_nearest_training_image_last_in_each_row():
    gen = torch.Generator().manual_seed(1)
    train_x, samples = torch.rand(50, 16, generator=gen), torch.rand(6, 16, generator=gen)
    grid, idx = neighbour_grid(samples, train_x, (4, 4), rows=2, cols=4)
    assert grid.shape == (8, 4, 4)
    for r in range(2):
        assert torch.equal(grid[r * 4 : r * 4 + 3].reshape(3, 16), samples[r * 3 : r * 3 + 3])
        assert torch.equal(grid[r * 4 + 3].reshape(16), train_x[idx[r]])
        assert idx[r] == ((train_x - samples[r * 3 + 2]) ** 2).sum(1).argmin()


def test_interpolation_rows_are_straight_lines_between_their_ends():
    z = interpolation_noise("gaussian", 5, rows=3, steps=7, seed=2).view(3, 7, 5)
    for row in z:
        for i, t in enumerate(torch.linspace(0, 1, 7)):
            assert torch.allclose(row[i], row[0] * (1 - t) + row[-1] * t, atol=1e-6)
    assert not torch.allclose(z[0, 0], z[1, 0])


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return train(
        tiny_config(train={"max_steps": 6, "log_every": 2}),
        tmp_path_factory.mktemp("fig") / "run",
        progress=False,
    )


@pytest.mark.parametrize(
    "name, size",
    [
        ("neighbours", (8 * 10 * 3 + 6, 6 * 10 * 3 + 6)),
        ("interpolation", (8 * 9 * 3 + 3, 6 * 9 * 3 + 3)),
    ],
)
def test_image_figures_from_a_run(digits_run, tmp_path, name, size):
    out = tmp_path / f"{name}.png"
    advnets("figure", name, digits_run, "--out", out)
    assert Image.open(out).size == size  # 8 columns x 6 rows of 8x8 digits, scaled 3x, with padding


def test_curves_figure_and_default_location(digits_run, tmp_path):
    digits_run = own_copy(digits_run, tmp_path)
    assert not (digits_run / "figures").exists()
    advnets("figure", "curves", digits_run)
    assert (digits_run / "figures" / "curves.png").is_file()


def test_figure1_needs_a_gaussian_1d_run_with_four_checkpoints(digits_run, tmp_path):
    proc = advnets("figure", "toy1d", digits_run, check=False)
    assert proc.returncode == 2 and "four moments" in proc.stderr
    from advnets import config as cfgmod

    cfg = cfgmod.apply(
        cfgmod.load_preset("gaussian-1d"),
        {
            "train": {
                "max_steps": 40,
                "checkpoint_every": 10,
                "keep_checkpoints": 10,
                "log_every": 10,
            }
        },
        source="test",
    )
    run = train(cfg, tmp_path / "g1d", progress=False)
    proc = advnets("figure", "fig1", run, "--out", tmp_path / "f1.png")
    width, height = Image.open(tmp_path / "f1.png").size
    assert width > 3 * height  # four panels side by side
    proc = advnets("figure", "toy1d", digits_run, "--steps", "2,4,6,6", check=False)
    assert proc.returncode == 1 and "gaussian-1d" in proc.stderr
