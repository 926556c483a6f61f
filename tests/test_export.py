"""`advnets export`: a generator file (safetensors and a model card) that samples as the run did,
bit for bit, with no run folder; an ONNX graph that samples as PyTorch does to 1e-5; refusals of
altered files."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import advnets
from advnets.errors import CheckpointError
from advnets.export import onnx_inputs
from advnets.sample import load_generator
from helpers import TINY
from helpers import advnets as run_advnets

# the presets' own networks, trained for two steps: what is exported is their architecture
PRESETS = {
    "mnist-paper": [],
    "mnist-conditional": [],
    "mnist-dcgan": [],
    "ring-2d": ["--data.toy_size", "500"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    """name -> a run of each preset (MNIST ones skipped without the data), two steps long."""
    made = {}
    root = tmp_path_factory.mktemp("runs")
    for name, extra in PRESETS.items():
        if name.startswith("mnist"):
            try:
                request.getfixturevalue("mnist_root")
            except pytest.skip.Exception:
                continue
        run_advnets("train", "--preset", name, "--train.max_steps", "2", "--train.batch_size",
                    "16", "--no-progress", *extra, "--out", root / name)  # fmt: skip
        made[name] = root / name
    return made


def _tiny_run(tmp_path: Path, *flags: str) -> Path:
    run = tmp_path / "run"
    run_advnets("train", *TINY, "--train.max_steps", "3", *flags, "--out", run)
    return run


@pytest.mark.parametrize("name", PRESETS)
def test_the_file_samples_as_the_run_bit_for_bit(runs, name, tmp_path):
    if name not in runs:
        pytest.skip("needs MNIST (ADVNETS_DATA)")
    out = tmp_path / "g.advnets"
    run_advnets("export", runs[name], "--out", out)
    from_run, from_file = load_generator(runs[name]), advnets.load_generator(out)
    assert from_file.averaged == from_run.averaged and from_file.step == from_run.step == 2
    label = 3 if from_run.num_classes else None
    for seed in (0, 7):
        expected = from_run.sample(50, seed=seed, label=label)
        assert torch.equal(from_file.sample(50, seed=seed, label=label), expected)
    if from_run.num_classes:  # classes drawn from p(c) as the run draws them
        assert torch.equal(
            from_file.sample_with_classes(40, 1)[1], from_run.sample_with_classes(40, 1)[1]
        )
    # the command reads the file alone: the same .npy as from the run
    run_advnets("sample", runs[name], "--npy", tmp_path / "a.npy", "-n", "20", "--seed", "4")
    run_advnets("sample", out, "--npy", tmp_path / "b.npy", "-n", "20", "--seed", "4")
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()


@pytest.mark.parametrize("name", PRESETS)
def test_onnx_samples_as_pytorch(runs, name, tmp_path):
    pytest.importorskip("onnxscript", reason="the onnx extra")
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra")
    if name not in runs:
        pytest.skip("needs MNIST (ADVNETS_DATA)")
    out = tmp_path / "g.onnx"
    run_advnets("export", runs[name], "--out", out, "--format", "onnx")
    trained = load_generator(runs[name])
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (1, 33):  # the batch is dynamic
        inputs = onnx_inputs(trained, n, seed=5)
        assert [i.name for i in session.get_inputs()] == list(inputs)
        (x,) = session.run(None, {k: v.numpy() for k, v in inputs.items()})
        expected = trained.sample(n, seed=5).reshape(x.shape)
        assert x.shape[0] == n
        torch.testing.assert_close(torch.from_numpy(x), expected, rtol=0, atol=1e-5)
    import onnx

    card = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["advnets"])
    assert (
        card["training"]["step"] == 2
        and card["architecture"]["kind"] == trained.config.generator.kind
    )


def test_the_model_card(tmp_path):
    run = _tiny_run(tmp_path, "--average.kind", "ema", "--average.half_life", "2")
    run_advnets("evaluate", run, "--samples", "200", "--valid-rows", "200", "--no-progress")
    out = tmp_path / "g.advnets"
    run_advnets("export", run, "--out", out)
    card = advnets.load_generator(out).card
    assert card["training"] == {"step": 3, "weights": "average"}
    assert card["data"]["source"] == "digits" and "CC BY 4.0" in card["data"]["licence"]
    assert card["architecture"]["hidden"] == [32, 32] and card["architecture"]["data_dim"] == 64
    recorded = json.loads((run / "evaluation.json").read_text())["step-00000003"]
    assert card["evaluation"] == recorded and "parzen" in card["evaluation"]["metrics"]
    assert card["advnets_version"] == advnets.__version__ and len(card["sha256"]) == 64
    # the last iterate on request, and then a different G
    last = tmp_path / "last.advnets"
    run_advnets("export", run, "--out", last, "--last-iterate")
    assert advnets.load_generator(last).card["training"]["weights"] == "last iterate"
    assert not torch.equal(load_file(last)["out.weight"], load_file(out)["out.weight"])
    refused = run_advnets("sample", out, "--last-iterate", "--npy", tmp_path / "x.npy", check=False)
    assert refused.returncode != 0 and "--last-iterate" in refused.stderr
    assert not (tmp_path / "x.npy").exists()


def test_the_card_keeps_no_local_paths(tmp_path):
    folder = tmp_path / "my-private-images"
    folder.mkdir()
    from PIL import Image

    for i in range(20):
        Image.new("RGB", (8, 8), (12 * i, 3 * i, 200)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    run_advnets("train", "--data", folder, "--data.image_size", "8", "--generator.hidden", "16",
                "--discriminator.hidden", "16", "--train.max_steps", "2", "--train.batch_size",
                "10", "--no-progress", "--out", run)  # fmt: skip
    run_advnets("export", run, "--out", tmp_path / "g.advnets")
    text = (tmp_path / "g.advnets").read_bytes()
    assert str(tmp_path).encode() not in text
    assert advnets.load_generator(tmp_path / "g.advnets").config.data.path == folder.name


def test_the_file_needs_no_run_folder_and_no_trainer(tmp_path):
    run = _tiny_run(tmp_path)
    out = tmp_path / "elsewhere" / "g.advnets"
    out.parent.mkdir()
    run_advnets("export", run, "--out", out)
    expected = load_generator(run).sample(16, seed=2)
    shutil.rmtree(run)
    code = (
        "import sys, torch, advnets\n"
        f"x = advnets.load_generator({str(out)!r}).sample(16, seed=2)\n"
        f"torch.save(x, {str(tmp_path / 'x.pt')!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith(('advnets.train', 'advnets.game'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"  # the training engine was never loaded
    assert torch.equal(torch.load(tmp_path / "x.pt", weights_only=True), expected)


def test_altered_files_are_refused(tmp_path):
    run = _tiny_run(tmp_path)
    out = tmp_path / "g.advnets"
    run_advnets("export", run, "--out", out)
    with safe_open(str(out), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(out)

    weights = dict(tensors)
    weights["out.bias"] = weights["out.bias"].clone()
    weights["out.bias"][0] += 1e-3  # one weight nudged
    save_file(weights, tmp_path / "weights.advnets", metadata=metadata)
    card = json.loads(metadata["advnets"])
    card["training"]["step"] = 1_000_000  # a card that claims more training
    save_file(tensors, tmp_path / "card.advnets", metadata={"advnets": json.dumps(card)})
    for name in ("weights.advnets", "card.advnets"):
        with pytest.raises(CheckpointError, match="does not match the SHA-256"):
            advnets.load_generator(tmp_path / name)
    refused = run_advnets(
        "sample", tmp_path / "card.advnets", "--npy", tmp_path / "x.npy", check=False
    )
    assert refused.returncode != 0 and "altered" in refused.stderr

    save_file(tensors, tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="without an advnets model card"):
        advnets.load_generator(tmp_path / "plain.safetensors")
    (tmp_path / "junk.advnets").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        advnets.load_generator(tmp_path / "junk.advnets")


def test_export_refuses_to_overwrite_and_loses_nothing(tmp_path):
    run = _tiny_run(tmp_path)
    out = tmp_path / "g.advnets"
    out.write_bytes(b"someone's file")
    refused = run_advnets("export", run, "--out", out, check=False)
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert out.read_bytes() == b"someone's file"
    run_advnets("export", run, "--out", out, "--force")
    assert advnets.load_generator(out).step == 3
    missing = run_advnets(
        "export", tmp_path / "nothing", "--out", tmp_path / "n.advnets", check=False
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    assert not (tmp_path / "n.advnets").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.advnets", "run"]  # no staging left
