"""TensorBoard beside metrics.jsonl: the same scalars at the same steps, and the sample grids."""

import json
import sys

import pytest

from advnets.errors import RunError
from advnets.train import Trainer
from helpers import tiny_config


def test_scalars_and_sample_grids_reach_tensorboard(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    Trainer(
        tiny_config(train={"tensorboard": True, "log_every": 4, "epochs": 2}), run, progress=False
    ).run()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if not r.get("partial")]
    events = EventAccumulator(
        str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0}
    ).Reload()
    d_loss = events.Scalars("train/d_loss")
    assert [e.step for e in d_loss] == [r["step"] for r in rows] and len(rows) >= 4
    for event, row in zip(d_loss, rows):
        assert event.value == pytest.approx(row["d_loss"], rel=1e-6)
    images = events.Images("samples")
    assert len(images) == len(list((run / "samples").iterdir())) == 2
    assert images[0].width > 100 and images[0].height > 100


def test_missing_tensorboard_is_named_before_the_run_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.setitem(
        sys.modules, "torch.utils.tensorboard", None
    )  # as if the package were absent
    with pytest.raises(RunError, match=r"pip install 'advnets\[tensorboard\]'"):
        Trainer(tiny_config(train={"tensorboard": True}), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
