"""Small configurations for fast tests."""

from advnets import config as cfgmod


def tiny_config(**sections) -> cfgmod.Config:
    values = {
        "data": {"source": "digits"},
        "generator": {"noise_dim": 8, "hidden": [32, 32]},
        "discriminator": {"hidden": [16, 16], "pieces": 2},
        "train": {"batch_size": 50, "epochs": 2, "log_every": 5},
    }
    for sec, fields in sections.items():
        values.setdefault(sec, {}).update(fields)
    return cfgmod.from_dict(values)
