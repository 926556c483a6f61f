import math

import torch

from advnets.config import Config, DiscriminatorConfig, GeneratorConfig
from advnets.nn import (
    Discriminator,
    Maxout,
    build_discriminator,
    build_generator,
    sample_noise,
)
from advnets.nn.mlp import sigmoid_bias_from_means


def test_maxout_is_max_over_contiguous_pieces():
    torch.manual_seed(0)
    layer = Maxout(6, units=4, pieces=3)
    x = torch.randn(5, 6)
    W, b = layer.linear.weight.detach(), layer.linear.bias.detach()
    expected = torch.empty(5, 4)
    for n in range(5):
        for j in range(4):
            expected[n, j] = max(float(W[j * 3 + p] @ x[n] + b[j * 3 + p]) for p in range(3))
    assert torch.allclose(layer(x), expected, atol=1e-6)


def test_maxout_gradient_flows_only_to_the_winning_piece():
    layer = Maxout(2, units=1, pieces=2)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        layer.linear.bias.zero_()
    layer(torch.tensor([[3.0, 1.0]])).sum().backward()
    assert torch.equal(layer.linear.weight.grad, torch.tensor([[3.0, 1.0], [0.0, 0.0]]))


def test_discriminator_dropout_per_layer():
    d = Discriminator(1000, [50], pieces=2, input_keep=0.8, hidden_keep=0.5)
    drop_in, drop_out = d.net[0], d.net[2]
    assert math.isclose(drop_in.p, 0.2) and math.isclose(drop_out.p, 0.5)
    torch.manual_seed(0)
    out = drop_in(torch.ones(200, 1000))
    kept = (out > 0).float().mean()
    assert abs(float(kept) - 0.8) < 0.01
    assert torch.allclose(out[out > 0], torch.tensor(1.25))  # kept inputs scaled by 1/0.8
    d.eval()
    x = torch.rand(3, 1000)
    assert torch.equal(d(x), d(x)) and d(x).shape == (3,)


def test_keep_one_means_no_dropout():
    d = Discriminator(10, [4], input_keep=1.0, hidden_keep=1.0)
    x = torch.rand(7, 10)
    assert torch.equal(d(x), d(x))  # train mode, still deterministic


def test_paper_init_ranges_and_output_bias():
    torch.manual_seed(0)
    x = torch.rand(500, 20)
    x[:, 0] = 0.0  # a pixel that is always off: its mean is clipped to 1e-3
    g = build_generator(GeneratorConfig(noise_dim=10, hidden=[300, 300]), 20, x)
    d = build_discriminator(
        Config(discriminator=DiscriminatorConfig(hidden=[240, 240], pieces=5)), 20
    )
    for net, r in ((g, 0.05), (d, 0.005)):
        for name, p in net.state_dict().items():
            if name.endswith("weight"):
                assert float(p.abs().max()) <= r and float(p.abs().max()) > 0.9 * r
    expected = sigmoid_bias_from_means(x)
    assert torch.equal(g.out.bias.data, expected)
    assert math.isclose(float(expected[0]), math.log(1e-3 / (1 - 1e-3)), rel_tol=1e-6)
    assert torch.allclose(torch.sigmoid(expected[1:]), x[:, 1:].mean(0), atol=1e-5)
    assert all(
        float(m.bias.detach().abs().max()) == 0
        for m in d.modules()
        if isinstance(m, torch.nn.Linear)
    )


def test_noise_priors_have_unit_variance():
    gen = torch.Generator().manual_seed(0)
    u = sample_noise("uniform", 100_000, 4, generator=gen)
    assert float(u.abs().max()) <= math.sqrt(3)
    assert abs(float(u.var()) - 1) < 0.02 and abs(float(u.mean())) < 0.01
    n = sample_noise("gaussian", 100_000, 4, generator=gen)
    assert abs(float(n.var()) - 1) < 0.02 and float(n.abs().max()) > math.sqrt(3)


def test_generator_shapes_and_range():
    g = build_generator(GeneratorConfig(noise_dim=8, hidden=[16]), 5)
    with torch.no_grad():
        out = g(torch.randn(3, 8))
    assert out.shape == (3, 5) and float(out.min()) >= 0 and float(out.max()) <= 1
    lin = build_generator(GeneratorConfig(noise_dim=8, hidden=[16], output="linear"), 2)
    with torch.no_grad():
        assert lin(torch.randn(1000, 8)).min() < 0


def test_linear_output_bias_is_the_data_mean():
    x = torch.randn(1000, 2) + torch.tensor([4.0, -1.0])
    g = build_generator(
        GeneratorConfig(noise_dim=2, hidden=[8], output="linear", init="pytorch"), 2, x
    )
    assert torch.allclose(g.out.bias.data, x.mean(0))


def test_standardized_input_is_what_the_layers_see_and_is_saved():
    x = 4.0 + 0.5 * torch.randn(2000, 1)
    cfg = DiscriminatorConfig(
        hidden=[8],
        pieces=2,
        input_keep=1.0,
        hidden_keep=1.0,
        init="pytorch",
        standardize_input=True,
    )
    torch.manual_seed(0)
    d = build_discriminator(Config(discriminator=cfg), 1, train_x=x).eval()
    assert torch.allclose(d.input_mean, x.mean(0)) and torch.isclose(d.input_std, x.std())
    assert {"input_mean", "input_std"} <= set(d.state_dict())
    z = (x[:5] - x.mean(0)) / x.std()
    assert torch.equal(d(x[:5]), d.net(z).squeeze(-1))
    plain = build_discriminator(
        Config(discriminator=DiscriminatorConfig(hidden=[8], pieces=2)), 1, train_x=x
    )
    assert not any(k.startswith("input_") for k in plain.state_dict())  # the paper's D is unchanged


def test_relu_discriminator_with_gaussian_noise_and_weight_norm(tmp_path):
    from advnets.config import DiscriminatorConfig
    from advnets.nn import build_discriminator

    cfg = DiscriminatorConfig(
        unit="relu",
        hidden=[16, 8],
        input_keep=1.0,
        hidden_keep=1.0,
        input_noise=0.3,
        hidden_noise=0.5,
        init="pytorch",
    )
    torch.manual_seed(0)
    plain = build_discriminator(Config(discriminator=cfg), 12, outputs=3)
    torch.manual_seed(0)
    normed_cfg = DiscriminatorConfig(**{**cfg.__dict__, "weight_norm": True})
    normed = build_discriminator(Config(discriminator=normed_cfg), 12, outputs=3)
    x = torch.rand(5, 12)
    plain.eval(), normed.eval()
    # weight normalisation starts at g = ||v||: the same function as the plain network
    torch.testing.assert_close(normed(x), plain(x), rtol=1e-5, atol=1e-6)
    # by hand: relu layers, no noise in evaluation
    h = plain.net[1](x)
    torch.testing.assert_close(h, torch.relu(plain.net[1][0](x)))
    # in training the noise has the configured size at the input
    plain.train()
    seen = []
    hook = plain.net[1].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    plain(torch.zeros(4000, 12))
    hook.remove()
    assert abs(float(seen[0].std()) - 0.3) < 0.01
    # a checkpoint of the weight-normalised, 3-output D loads back as such
    from advnets.sample import load_discriminator
    from advnets.train.loop import Trainer
    from helpers import tiny_config

    run = tmp_path / "run"
    config = tiny_config(
        discriminator={"unit": "relu", "weight_norm": True, "hidden_noise": 0.5, "init": "pytorch"},
        semi={"labels_per_class": 5},
        train={"epochs": 1},
    )
    trainer = Trainer(config, run, progress=False)
    trainer.run()
    loaded = load_discriminator(run)
    digits = torch.rand(7, 64)
    torch.testing.assert_close(loaded(digits), trainer.players.D.eval()(digits))
    assert loaded(digits).shape == (7, 10)
