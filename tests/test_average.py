"""The running average of G's weights: its arithmetic, its place in checkpoints, and who uses it."""

import json

import torch
from safetensors.torch import load_file

from advnets import checkpoint
from advnets.config import AverageConfig
from advnets.evaluate import Protocol, evaluate
from advnets.sample import load_generator
from advnets.train.average import WeightAverage
from advnets.train.loop import Trainer
from helpers import advnets, tiny_config


def _iterates(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 4, generator=gen, dtype=torch.float64) for _ in range(n)]


def _fold(iterates, cfg, epochs=None):
    module = torch.nn.Linear(4, 3, bias=False).double()
    avg = WeightAverage(module, cfg)
    for i, w in enumerate(iterates):
        with torch.no_grad():
            module.weight.copy_(w)
        avg.update(module, epochs[i] if epochs else 0)
    return avg


def test_decay_one_is_the_plain_mean_of_the_iterates():
    its = _iterates(7)
    avg = _fold(its, AverageConfig(kind="ema", decay=1.0))
    assert avg.count == 7
    torch.testing.assert_close(avg.module.weight, torch.stack(its).mean(0), rtol=0, atol=1e-12)


def test_ema_is_the_mean_during_warm_up_then_an_exponential_average():
    decay = 0.75  # warm-up of 1 / (1 - decay) = 4 iterates
    its = _iterates(10, seed=1)
    expected = torch.stack(its[:4]).mean(0)
    for w in its[4:]:
        expected = decay * expected + (1 - decay) * w
    avg = _fold(its, AverageConfig(kind="ema", decay=decay))
    torch.testing.assert_close(avg.module.weight, expected, rtol=0, atol=1e-12)


def test_iterates_before_start_epoch_are_left_out():
    its = _iterates(6, seed=2)
    avg = _fold(its, AverageConfig(kind="ema", decay=1.0, start_epoch=2), epochs=[0, 1, 1, 2, 2, 3])
    assert avg.count == 3
    torch.testing.assert_close(avg.module.weight, torch.stack(its[3:]).mean(0), rtol=0, atol=1e-12)


def test_the_average_does_not_change_training_and_is_what_sampling_uses(tmp_path):
    plain, averaged = tmp_path / "plain", tmp_path / "averaged"
    Trainer(tiny_config(train={"max_steps": 30}), plain, progress=False).run()
    cfg = tiny_config(
        train={"max_steps": 30}, average={"kind": "ema", "decay": 1.0, "start_epoch": 1}
    )
    Trainer(cfg, averaged, progress=False).run()
    w_plain = load_file(str(checkpoint.resolve(plain) / "weights.safetensors"))
    w_avg = load_file(str(checkpoint.resolve(averaged) / "weights.safetensors"))
    for (
        key,
        value,
    ) in w_plain.items():  # D and the trained G are the same with or without the average
        assert torch.equal(value, w_avg[key]), key
    averages = checkpoint.split_weights(w_avg, checkpoint.AVERAGE_PREFIX)
    assert averages.keys() == checkpoint.split_weights(w_plain, "generator").keys()
    meta = json.loads((checkpoint.resolve(averaged) / "state.json").read_text())
    assert meta["average_count"] == 30 - meta["steps_per_epoch"]  # the steps of epoch 1 on

    model = load_generator(averaged)
    assert model.averaged
    assert all(torch.equal(p, averages[k]) for k, p in model.G.state_dict().items())
    last = load_generator(averaged, average=False)
    assert not last.averaged and not torch.equal(model.sample(5), last.sample(5))
    assert torch.equal(last.sample(5), load_generator(plain).sample(5))


def test_evaluate_files_the_average_and_the_last_iterate_apart(tmp_path):
    run = tmp_path / "run"
    Trainer(
        tiny_config(train={"max_steps": 6}, average={"kind": "ema", "decay": 0.5}),
        run,
        progress=False,
    ).run()
    protocol = Protocol(samples=200, split_rows=100, valid_rows=50)
    a = evaluate(run, "parzen", protocol, progress=False)
    b = evaluate(run, "parzen", protocol, progress=False, last_iterate=True)
    book = json.loads((run / "evaluation.json").read_text())
    assert set(book) == {"step-00000006", "step-00000006:last-iterate"}
    assert book["step-00000006"]["subject"]["weights"] == "average"
    assert book["step-00000006:last-iterate"]["subject"]["weights"] == "last iterate"
    assert a.metrics["parzen"]["mean"] != b.metrics["parzen"]["mean"]


def test_cli_samples_the_average_unless_told_otherwise(tmp_path):
    import numpy as np

    run = tmp_path / "run"
    Trainer(
        tiny_config(train={"max_steps": 6}, average={"kind": "ema", "decay": 0.5}),
        run,
        progress=False,
    ).run()
    for flag, name in (([], "avg.npy"), (["--last-iterate"], "last.npy")):
        advnets("sample", run, "-n", "8", "--npy", tmp_path / name, *flag)
    avg, last = np.load(tmp_path / "avg.npy"), np.load(tmp_path / "last.npy")
    np.testing.assert_array_equal(avg.reshape(8, -1), load_generator(run).sample(8).numpy())
    np.testing.assert_array_equal(
        last.reshape(8, -1), load_generator(run, average=False).sample(8).numpy()
    )
    assert not np.array_equal(avg, last)
