import copy
import json
import math
import re

import pytest
import torch

from advnets import checkpoint
from advnets.errors import RunError
from advnets.losses import discriminator_loss, generator_non_saturating
from advnets.train import Trainer, epoch_permutation, resume
from helpers import tiny_config


def test_simultaneous_steps_match_a_hand_written_reference(tmp_path):
    """The reference code's update written out by hand: each step takes the next minibatch of its
    epoch's permutation and noise from the config's prior, makes one D(G(z)) for both losses, and
    applies both gradients together by SGD with momentum and the decaying learning rate. Compared
    on what the steps change, for G and D alike: a change is small next to its parameter, and
    comparing the parameters themselves would hide a wrong one."""
    steps = 30  # past the 24 steps of epoch 1: a second permutation, and the momentum ramp
    config = tiny_config(
        train={"max_steps": steps},
        # PyTorch's init for D and no data-fitted output bias for G, so that D's input gradient is
        # not tiny and G's sigmoid output not saturated: G moves measurably in these steps
        discriminator={"init": "pytorch"},
        generator={"output_bias_from_data": False},
    )
    assert config.generator.prior == "uniform" and config.discriminator.input_keep < 1
    trainer = Trainer(config, tmp_path / "run", progress=False)
    G, D = trainer.players.G, trainer.players.D
    names = [
        *(f"G.{n}" for n, _ in G.named_parameters()),
        *(f"D.{n}" for n, _ in D.named_parameters()),
    ]
    before = [p.detach().clone() for p in [*G.parameters(), *D.parameters()]]
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    rng = torch.get_rng_state()
    for _ in range(steps):
        trainer.train_step()
    assert trainer.step == steps

    torch.set_rng_state(rng)  # the same noise and dropout masks, drawn in the same order
    n, b, noise_dim = len(trainer.data), config.train.batch_size, config.generator.noise_dim
    assert trainer.steps_per_epoch == n // b == 24
    bufs = {}
    for step in range(steps):
        epoch, index = divmod(step, n // b)
        x = trainer.data.x[
            epoch_permutation(config.train.seed, epoch, n)[index * b : (index + 1) * b]
        ]
        z = (torch.rand(b, noise_dim) * 2 - 1) * math.sqrt(3)  # U[-sqrt 3, sqrt 3]
        fake = G_ref(z)
        real_logits, fake_logits = D_ref(x), D_ref(fake)
        d_grads = torch.autograd.grad(
            discriminator_loss(real_logits, fake_logits),
            list(D_ref.parameters()),
            retain_graph=True,
        )
        g_grads = torch.autograd.grad(
            generator_non_saturating(fake_logits), list(G_ref.parameters())
        )
        lr = 0.1 / 1.000004**step
        mom = 0.5 + (0.7 - 0.5) * epoch / (250 - 1)
        with torch.no_grad():
            for p, g in zip([*D_ref.parameters(), *G_ref.parameters()], [*d_grads, *g_grads]):
                buf = bufs[p] = g.clone() if p not in bufs else mom * bufs[p] + g
                p.sub_(lr * buf)
    smallest_g_change = math.inf
    for name, p, ref, p0 in zip(
        names,
        [*G.parameters(), *D.parameters()],
        [*G_ref.parameters(), *D_ref.parameters()],
        before,
    ):
        change, ref_change = p.detach() - p0, ref.detach() - p0
        scale = float(ref_change.abs().max())
        assert float(change.abs().max()) > 0, f"{name} did not move"
        if name.startswith("G."):
            smallest_g_change = min(smallest_g_change, scale)
        torch.testing.assert_close(
            change,
            ref_change,
            rtol=1e-4,
            atol=1e-3 * scale,
            msg=lambda m, name=name: f"{name}: {m}",
        )
    # every G tensor moved by far more than float32 can resolve at its size, and than the atol
    assert smallest_g_change > 1e-4, smallest_g_change


def record_real_batches(trainer: Trainer) -> list[tuple[int, torch.Tensor]]:
    """(trainer.step, input) for every call of D on training images, recorded from D's input by a
    forward pre-hook; D's calls on generated images (no row of theirs is a training row) are left
    out."""
    rows = {row.numpy().tobytes() for row in trainer.data.x}
    seen = []

    def hook(module, args):
        x = args[0].detach()
        if all(row.numpy().tobytes() in rows for row in x):
            seen.append((trainer.step, x.clone()))

    trainer.players.D.register_forward_pre_hook(hook)
    return seen


def test_k_discriminator_steps_per_generator_step(tmp_path):
    config = tiny_config(
        train={"update": "alternating", "k": 3, "epochs": 2, "batch_size": 20},
        optim={"name": "adam", "lr": 1e-3, "lr_decay": 1.0},
    )
    trainer = Trainer(config, tmp_path / "run", progress=False)
    seen = record_real_batches(trainer)
    trainer.run()
    spe = trainer.steps_per_epoch
    assert spe == (1200 // 20) // 3
    assert trainer.step == 2 * spe
    assert trainer.players.d_opt.state_dict()["state"][0]["step"] == 3 * 2 * spe
    assert trainer.players.g_opt.state_dict()["state"][0]["step"] == 2 * spe
    # every minibatch of every epoch is used exactly once, in order, k per step
    assert [step for step, _ in seen] == [step for step in range(2 * spe) for _ in range(3)]
    n, b = len(trainer.data), 20
    expected = [
        trainer.data.x[epoch_permutation(config.train.seed, e, n)[i * b : (i + 1) * b]]
        for e in range(2)
        for i in range(3 * spe)
    ]
    assert all(torch.equal(x, want) for (_, x), want in zip(seen, expected, strict=True))


def test_each_epoch_is_a_fresh_permutation(tmp_path):
    trainer = Trainer(tiny_config(), tmp_path / "run", progress=False)
    seed, n = trainer.config.train.seed, len(trainer.data)
    perms = [epoch_permutation(seed, e, n) for e in range(2)]
    assert not torch.equal(perms[0], perms[1])
    assert all(sorted(p.tolist()) == list(range(n)) for p in perms)
    assert torch.equal(epoch_permutation(seed, 1, n), perms[1])  # a function of (seed, epoch)
    assert not torch.equal(epoch_permutation(seed + 1, 0, n), perms[0])
    seen = record_real_batches(trainer)
    for _ in range(2 * trainer.steps_per_epoch):
        trainer.train_step()
    # 24 minibatches of 50 cover the 1,200 training digits exactly once in each epoch, in the
    # order of that epoch's permutation
    assert trainer.steps_per_epoch * 50 == n == 1200
    assert [step for step, _ in seen] == list(range(2 * trainer.steps_per_epoch))
    for epoch, perm in enumerate(perms):
        batches = seen[epoch * trainer.steps_per_epoch : (epoch + 1) * trainer.steps_per_epoch]
        rows = torch.cat([x for _, x in batches])
        assert torch.equal(rows, trainer.data.x[perm])
        assert torch.equal(rows[perm.argsort()], trainer.data.x)


def test_momentum_and_learning_rate_reach_the_optimiser(tmp_path):
    config = tiny_config(optim={"momentum_ramp_epochs": 3, "lr_decay": 1.01}, train={"epochs": 3})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    trainer.run()
    group = trainer.players.d_opt.param_groups[0]
    last = trainer.step - 1
    assert math.isclose(group["lr"], 0.1 / 1.01**last) and math.isclose(group["momentum"], 0.7)
    rows = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert rows[0]["momentum"] == 0.5 and math.isclose(rows[-1]["momentum"], 0.7)
    assert {
        "d_loss",
        "g_loss",
        "d_real",
        "d_fake",
        "g_grad_norm",
        "lr_d",
        "lr_g",
        "momentum",
        "images_per_s",
    } <= set(rows[0])


def test_run_folder_contents(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(), run, progress=False).run()
    assert json.loads((run / "config.json").read_text())["data"]["source"] == "digits"
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "epoch-0001.png",
        "epoch-0002.png",
    ]
    assert (run / "curves.png").stat().st_size > 1000
    folder = checkpoint.resolve(run)
    assert folder.name == f"step-{2 * 24:08d}"
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "state.json",
        "state.safetensors",
        "weights.safetensors",
    ]
    assert b"pickle" not in (folder / "state.json").read_bytes()


def test_refuses_to_overwrite_a_run(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 2}), run, progress=False).run()
    with pytest.raises(RunError, match=r"already exists .* --resume"):
        Trainer(tiny_config(), run, progress=False)


def test_resume_rejects_changes_to_the_mathematics(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 2}), run, progress=False).run()
    with pytest.raises(RunError, match=re.escape("cannot change optim.lr when resuming")):
        resume(run, {"optim": {"lr": 0.5}}, progress=False)


def test_keeps_only_the_newest_checkpoints(tmp_path):
    run = tmp_path / "run"
    Trainer(
        tiny_config(train={"checkpoint_every": 5, "keep_checkpoints": 2, "epochs": 1}),
        run,
        progress=False,
    ).run()
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["latest", "step-00000020", "step-00000024"]
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-00000024"


def test_a_stale_temporary_checkpoint_is_never_read(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 4}), run, progress=False).run()
    # a crash in the middle of a later save leaves a temporary folder and the old pointer
    (run / "checkpoints" / ".step-00000009.tmp").mkdir()
    (run / "checkpoints" / ".step-00000009.tmp" / "weights.safetensors").write_bytes(b"half")
    assert checkpoint.resolve(run).name == "step-00000004"
    t = Trainer(tiny_config(train={"max_steps": 4}), run, resume=True, progress=False)
    assert t.step == 4


def test_alternating_minimax_trains_toy_data(tmp_path):
    config = tiny_config(
        data={"source": "gaussian-1d", "toy_size": 500},
        generator={"output": "linear"},
        train={"update": "alternating", "objective": "minimax", "epochs": 1},
    )
    Trainer(config, tmp_path / "run", progress=False).run()
    assert (tmp_path / "run" / "samples" / "epoch-0001.png").is_file()


def test_subnormals_are_flushed_unless_asked_not_to(tmp_path):
    def product():  # 1e-30 * 1e-9 = 1e-39, a float32 subnormal
        return float(torch.tensor([1e-30]) * torch.tensor([1e-9]))

    try:
        Trainer(tiny_config(), tmp_path / "a", progress=False)
        assert product() == 0.0
        Trainer(tiny_config(train={"flush_denormal": False}), tmp_path / "b", progress=False)
        assert product() > 0.0
    finally:
        torch.set_flush_denormal(False)


def test_a_dangling_latest_pointer_falls_back_to_the_newest_complete_checkpoint(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"checkpoint_every": 3, "max_steps": 6}), run, progress=False).run()
    (run / "checkpoints" / "latest").write_text("step-00000009\n")
    assert checkpoint.resolve(run).name == "step-00000006"


def test_resume_survives_a_log_line_cut_short_by_a_crash(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 10}), run, progress=False).run()
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 11, "d_lo')
    t = Trainer(tiny_config(train={"max_steps": 12}), run, resume=True, progress=False)
    t.run()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 12]
