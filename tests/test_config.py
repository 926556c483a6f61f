import re

import pytest

from advnets import config as cfgmod
from advnets.config import Config, ConfigError


def test_defaults_are_the_reference_mnist_setting():
    c = cfgmod.load_preset("mnist-paper")
    # the preset is the defaults (the reference code's setting) plus two documented choices: a
    # length (the reference code has no stopping rule) and sampling from the average of G
    assert cfgmod.changed_fields(Config(), c) == ["train.epochs", "average.kind", "average.decay"]
    assert c.average.kind == "ema" and Config().average.kind == "none"
    assert (
        c.generator.hidden == [1200, 1200]
        and c.generator.noise_dim == 100
        and c.generator.prior == "uniform"
    )
    assert c.discriminator.hidden == [240, 240] and c.discriminator.pieces == 5
    assert (c.discriminator.input_keep, c.discriminator.hidden_keep) == (0.8, 0.5)
    assert (c.optim.lr, c.optim.lr_decay, c.optim.lr_min) == (0.1, 1.000004, 1e-6)
    assert (c.optim.momentum_start, c.optim.momentum_end, c.optim.momentum_ramp_epochs) == (
        0.5,
        0.7,
        250,
    )
    assert (c.train.batch_size, c.train.update, c.train.objective) == (
        100,
        "simultaneous",
        "non-saturating",
    )


@pytest.mark.parametrize("name", cfgmod.preset_names())
def test_every_preset_loads_and_round_trips_through_toml(name, tmp_path):
    c = cfgmod.load_preset(name)
    path = tmp_path / "c.toml"
    path.write_text(c.to_toml())
    assert cfgmod.load_toml(path) == c


def test_required_presets_exist():
    assert {"mnist-paper", "digits-quick", "gaussian-1d", "ring-2d", "grid-2d"} <= set(
        cfgmod.preset_names()
    )


def test_unknown_key_lists_valid_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nlearning_rate = 0.1\n")
    with pytest.raises(ConfigError) as err:
        cfgmod.load_toml(path)
    assert (
        "train.learning_rate" in str(err.value)
        and "batch_size" in str(err.value)
        and "objective" in str(err.value)
    )
    with pytest.raises(
        ConfigError, match="valid sections: data, generator, discriminator, optim, train"
    ):
        cfgmod.from_dict({"model": {}})


@pytest.mark.parametrize(
    "values, message",
    [
        ({"train": {"objective": "wgan"}}, "one of 'non-saturating', 'minimax'"),
        ({"train": {"batch_size": 0}}, "out of range"),
        ({"train": {"batch_size": 1.5}}, "an integer"),
        ({"discriminator": {"input_keep": 1.5}}, "out of range"),
        ({"generator": {"hidden": [10, "a"]}}, "a list of int"),
        ({"train": {"k": 2}}, "needs train.update = 'alternating'"),
        ({"data": {"source": "ring-2d"}}, "use generator.output = 'linear'"),
    ],
)
def test_bad_values_are_rejected_with_what_is_valid(values, message):
    with pytest.raises(ConfigError, match=message):
        cfgmod.from_dict(values)


def test_command_line_text_is_parsed_by_type():
    c = cfgmod.apply(
        Config(),
        {
            "generator": {"hidden": "64,32"},
            "train": {"max_steps": "none", "k": "3", "update": "alternating"},
            "optim": {"lr": "1e-3"},
            "data": {"download": "false"},
        },
        source="cli",
        from_text=True,
    )
    assert c.generator.hidden == [64, 32] and c.train.max_steps is None and c.train.k == 3
    assert c.optim.lr == 1e-3 and c.data.download is False
    with pytest.raises(ConfigError, match="true or false"):
        cfgmod.apply(Config(), {"data": {"download": "maybe"}}, source="cli", from_text=True)


def test_bad_toml_file_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[train\n")
    with pytest.raises(ConfigError, match=re.escape("broken.toml is not valid TOML")):
        cfgmod.load_toml(path)
    with pytest.raises(ConfigError, match="does not exist"):
        cfgmod.load_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"valid presets: .*digits-quick"):
        cfgmod.load_preset("mnist")
