"""Convolutional G and D, batch norm, data-dependent init, spectral norm, and their config rules."""

import re

import pytest
import torch

from advnets import config as cfgmod
from advnets.config import Config, DiscriminatorConfig, GeneratorConfig
from advnets.nn import build_discriminator, build_generator
from advnets.nn.mlp import init_from_data_


@pytest.mark.parametrize(
    "shape, g_hidden, d_hidden",
    [
        ((28, 28), [16, 8], [8, 16]),
        ((3, 32, 32), [16, 8, 4], [4, 8, 16]),
        ((1, 64, 64), [8, 8, 8, 8], [8, 8, 8, 8]),
    ],
)
def test_dcgan_shapes(shape, g_hidden, d_hidden):
    dim = int(torch.tensor(shape).prod())
    G = build_generator(
        GeneratorConfig(kind="dcgan", noise_dim=5, hidden=g_hidden, batch_norm=True),
        dim,
        image_shape=shape,
    )
    D = build_discriminator(
        Config(discriminator=DiscriminatorConfig(kind="dcgan", unit="leaky_relu", hidden=d_hidden)),
        dim,
        outputs=3,
        image_shape=shape,
    )
    x = G(torch.randn(4, 5))
    assert x.shape == (4, dim) and 0 <= x.min() and x.max() <= 1
    assert D(x).shape == (4, 3)
    side = shape[-1] // 2 ** len(d_hidden)
    assert D.features(x).shape == (4, d_hidden[-1] * side * side)


def test_dcgan_discriminator_batch_norm_after_the_first_block():
    d_cfg = DiscriminatorConfig(kind="dcgan", unit="leaky_relu", hidden=[4, 8, 8], batch_norm=True)
    D = build_discriminator(
        Config(discriminator=d_cfg),
        256,
        image_shape=(16, 16),
    )
    norms = [m.num_features for m in D.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms == [8, 8]  # not after the first convolution, as in DCGAN
    assert D(torch.rand(5, 256)).shape == (5,)


def test_dcgan_output_bias_from_channel_means():
    x = torch.rand(50, 2, 4, 4) * torch.tensor([0.2, 0.9]).view(1, 2, 1, 1)
    G = build_generator(
        GeneratorConfig(kind="dcgan", hidden=[4], noise_dim=3),
        32,
        x.flatten(1),
        image_shape=(2, 4, 4),
    )
    means = x.mean((0, 2, 3))
    assert torch.allclose(torch.sigmoid(G.out.bias), means, atol=1e-5)


def test_side_that_does_not_halve_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"28 x 28 is not a multiple of 8 x 8: give generator.hidden 1 or 2 widths"
    ):
        build_generator(GeneratorConfig(kind="dcgan", hidden=[8, 8, 8]), 784, image_shape=(28, 28))
    with pytest.raises(ValueError, match="needs image data"):
        build_generator(GeneratorConfig(kind="dcgan", hidden=[8]), 2, image_shape=None)


def test_batch_norm_generator_samples_deterministically_in_eval():
    G = build_generator(GeneratorConfig(hidden=[16], batch_norm=True, noise_dim=4), 6)
    z = torch.randn(8, 4)
    G.train()
    G(z)  # running statistics move
    G.eval()
    assert torch.equal(G(z[:3]), G(z)[:3])  # a sample does not depend on the rest of its batch


@pytest.mark.parametrize(
    "kind, unit, shape",
    [("mlp", "relu", None), ("mlp", "maxout", None), ("dcgan", "leaky_relu", (8, 8))],
)
def test_data_dependent_init_standardises_every_layer(kind, unit, shape):
    torch.manual_seed(0)
    x = torch.rand(400, 64) * 3 + 1
    cfg = DiscriminatorConfig(
        kind=kind,
        unit=unit,
        hidden=[12, 6],
        pieces=2,
        input_keep=1.0,
        hidden_keep=1.0,
        init="pytorch",
    )
    D = build_discriminator(Config(discriminator=cfg), 64, outputs=5, image_shape=shape)
    init_from_data_(D, x)
    for layer in [m for m in D.net.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]:
        seen = []
        hook = layer.register_forward_hook(
            lambda module, inputs, out, store=seen: store.append(out)
        )
        D(x)
        hook.remove()
        out = seen[0].transpose(0, 1).flatten(1)
        assert torch.allclose(out.mean(1), torch.zeros(len(out)), atol=1e-4)
        assert torch.allclose(out.std(1), torch.ones(len(out)), atol=1e-4)


def test_spectral_norm_bounds_every_layer():
    d_cfg = DiscriminatorConfig(unit="relu", hidden=[20, 20], spectral_norm=True, init="pytorch")
    D = build_discriminator(Config(discriminator=d_cfg), 10)
    x = torch.randn(4, 10)
    for _ in range(30):  # power iterations run in training forward passes
        D(x)
    D.eval()
    for layer in [m for m in D.modules() if isinstance(m, torch.nn.Linear)]:
        assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() == pytest.approx(
            1.0, rel=1e-2
        )


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"data": {"source": "ring-2d"}, "generator": {"kind": "dcgan", "output": "linear"}},
            "needs images",
        ),
        ({"discriminator": {"kind": "dcgan"}}, "set discriminator.unit = 'leaky_relu'"),
        (
            {"discriminator": {"kind": "dcgan", "unit": "relu"}, "condition": {"kind": "concat"}},
            "not 'concat'",
        ),
        ({"discriminator": {"weight_norm": True, "spectral_norm": True}}, "choose one"),
        ({"discriminator": {"batch_norm": True}}, "is for discriminator.kind = 'dcgan'"),
        (
            {
                "discriminator": {"kind": "dcgan", "unit": "relu", "batch_norm": True},
                "penalty": {"gradient": 10.0},
            },
            "batch norm mixes the batch",
        ),
        (
            {"train": {"objective": "hinge"}, "semi": {"labels_per_class": 5}},
            "not defined for a semi-supervised D",
        ),
        ({"penalty": {"r1": 1.0}, "encoder": {"kind": "bigan"}}, "a BiGAN D judges"),
        (
            {"discriminator": {"init": "data"}, "condition": {"kind": "projection"}},
            "initialises a D of x alone",
        ),
    ],
)
def test_config_rules(values, message):
    with pytest.raises(cfgmod.ConfigError, match=message):
        cfgmod.from_dict(values)


def test_half_life_and_decay_are_one_setting():
    c = cfgmod.from_dict({"average": {"kind": "ema", "half_life": 100.0}})
    assert c.average.decay == 0.5 ** (1 / 100)
    c2 = cfgmod.apply(c, {"average": {"decay": 0.99}}, source="override")
    assert c2.average.half_life is None and c2.average.decay == 0.99
    with pytest.raises(cfgmod.ConfigError, match=re.escape("means average.decay")):
        cfgmod.from_dict({"average": {"half_life": 100.0, "decay": 0.9}})
    # an iterate's weight halves every half_life steps
    assert c.average.decay**100 == pytest.approx(0.5)
