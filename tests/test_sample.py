"""Loading a trained G or D from a checkpoint, across checkpoint versions."""

import hashlib
import json

import torch

from advnets.run import Run
from advnets.sample import load_discriminator, load_generator
from advnets.train import train
from helpers import tiny_config


def _drop_from_state(folder, key):
    """state.json without `key`, as a checkpoint written before advnets recorded it (the
    manifest's hash made to match, as that version wrote it)."""
    state = json.loads((folder / "state.json").read_text())
    del state[key]
    data = json.dumps(state, indent=1).encode()
    (folder / "state.json").write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["state.json"] = {
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def test_d_output_count_is_recorded_and_older_checkpoints_still_load(tmp_path):
    semi = train(
        tiny_config(train={"max_steps": 4}, semi={"labels_per_class": 5}), tmp_path / "semi",
        progress=False,
    )  # fmt: skip
    plain = train(tiny_config(train={"max_steps": 4}), tmp_path / "plain", progress=False)
    x = torch.rand(3, 64)
    for root, outputs in ((semi, 10), (plain, 1)):
        folder = Run(root).latest_checkpoint()
        assert json.loads((folder / "state.json").read_text())["d_outputs"] == outputs
        D = load_discriminator(root)
        expected = D(x)
        assert expected.shape == ((3, outputs) if outputs > 1 else (3,))
        _drop_from_state(folder, "d_outputs")
        torch.testing.assert_close(load_discriminator(root)(x), expected, rtol=0, atol=0)


def test_the_generator_of_a_run_or_of_its_checkpoint_folder(tmp_path):
    root = train(tiny_config(train={"max_steps": 4}), tmp_path / "run", progress=False)
    trained = load_generator(root)
    assert trained.run.root == root and trained.step == 4
    again = load_generator(Run(root).latest_checkpoint())
    torch.testing.assert_close(trained.sample(8, seed=3), again.sample(8, seed=3), rtol=0, atol=0)
    assert not torch.equal(trained.sample(8, seed=3), trained.sample(8, seed=4))
