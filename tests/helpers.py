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


def interrupt_training(args: list[str], run, sig: int, rows: int = 3) -> tuple[int, str]:
    """Start `advnets train ARGS --out RUN`, send `sig` once its log has `rows` rows, and return
    the exit status and standard error."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "advnets", "train", *args, "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (
        metrics.is_file() and metrics.read_text().count("\n") >= rows
    ):
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err
