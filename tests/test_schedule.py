import itertools
import math

from advnets.config import OptimConfig
from advnets.train.schedule import learning_rate, momentum


def test_learning_rate_decays_per_update_to_a_floor():
    cfg = OptimConfig()
    assert learning_rate(cfg, 0) == 0.1
    lr = 0.1
    for _ in range(1000):
        lr = max(lr / 1.000004, 1e-6)  # pylearn2's ExponentialDecay, update by update
    assert math.isclose(learning_rate(cfg, 1000), lr, rel_tol=1e-12)
    # 0.1 / 1.000004**t reaches 1e-6 after ln(1e5)/ln(1.000004) ~ 2.88 million updates
    t_floor = math.ceil(math.log(1e5) / math.log(1.000004))
    assert learning_rate(cfg, t_floor + 10) == 1e-6
    assert learning_rate(cfg, t_floor - 10) > 1e-6


def test_momentum_ramp_of_the_paper():
    cfg = OptimConfig()
    assert momentum(cfg, 0) == 0.5  # epoch 1
    assert math.isclose(momentum(cfg, 249), 0.7)  # epoch 250
    assert momentum(cfg, 400) == 0.7
    assert math.isclose(momentum(cfg, 124), 0.5 + 0.2 * 124 / 249)
    ramp = [momentum(cfg, e) for e in range(250)]
    assert all(b > a for a, b in itertools.pairwise(ramp))


def test_generator_learning_rate_of_its_own(tmp_path):
    cfg = OptimConfig(lr=0.1, lr_g=0.3, lr_decay=1.0001)
    assert learning_rate(cfg, 10, "d") == 0.1 / 1.0001**10
    assert learning_rate(cfg, 10, "g") == 0.3 / 1.0001**10
    assert learning_rate(OptimConfig(lr=0.1), 0, "g") == 0.1  # unset: the paper's one rate
    from advnets.run import Run
    from advnets.train import train
    from helpers import tiny_config

    run = train(
        tiny_config(
            optim={"name": "adam", "lr": 0.001, "lr_g": 0.004, "lr_decay": 1.0},
            train={"max_steps": 4, "log_every": 2},
        ),
        tmp_path / "run",
        progress=False,
    )
    rows = Run(run).metrics()
    assert all(r["lr_d"] == 0.001 and r["lr_g"] == 0.004 for r in rows)
