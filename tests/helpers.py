"""Small configurations for fast tests, and the one way tests start the advnets command."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

from advnets import config as cfgmod

# no advnets command in the tests takes near this long; a hung one fails instead of hanging
COMMAND_TIMEOUT_S = 600


def advnets(
    *args, check: bool = True, timeout: float = COMMAND_TIMEOUT_S, isolated: bool = False
) -> subprocess.CompletedProcess:
    """Run the advnets command ARGS (each argument through str) and return the finished process,
    its output captured as text. With `check`, assert that it exited 0, showing its standard error
    if not.

    The command runs in this process, through `advnets.cli.main` as `python -m advnets` calls it:
    starting Python and PyTorch again costs seconds a command, most of the suite's time. An
    exception `main` lets through (a bug, which the real command shows as a traceback and exit
    status 1) becomes exactly that. `isolated` runs `python -m advnets` in a process of its own
    instead, for what only a process shows (its start-up, a closed pipe); a command still running
    after `timeout` seconds then raises subprocess.TimeoutExpired."""
    argv = list(map(str, args))
    if isolated:
        proc = subprocess.run(
            [sys.executable, "-m", "advnets", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    else:
        proc = _in_process(argv)
    if check:
        assert proc.returncode == 0, (
            f"advnets {' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}"
        )
    return proc


def _in_process(argv: list[str]) -> subprocess.CompletedProcess:
    import contextlib
    import io
    import traceback

    from advnets.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse's refusals and --help
            code = stop.code
            status = code if isinstance(code, int) else (0 if code is None else 1)
        except Exception:  # noqa: BLE001 - what the real process would print and exit with
            traceback.print_exc()
            status = 1
    return subprocess.CompletedProcess(
        ["advnets", *argv], status or 0, out.getvalue(), err.getvalue()
    )


def own_copy(run: Path, tmp_path: Path) -> Path:
    """A copy of a run folder shared by a module's tests (a module-scoped fixture), for a test that
    writes into it: what one test writes is then never another test's starting point."""
    return Path(shutil.copytree(run, tmp_path / run.name))


# tiny_config's data and networks, as the command line's flags
TINY_FLAGS = ["--data.source", "digits", "--generator.noise_dim", "8",
              "--generator.hidden", "32,32", "--discriminator.hidden", "16,16",
              "--discriminator.pieces", "2"]  # fmt: skip
# with the batch and log interval the command-line tests of training use
TINY = [*TINY_FLAGS, "--train.batch_size", "100", "--train.log_every", "4", "--no-progress"]


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
    proc = subprocess.Popen(
        [sys.executable, "-m", "advnets", "train", *args, "--out", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 120  # generous: the machine may be busy with other tests
    while not (metrics.is_file() and metrics.read_text().count("\n") >= rows):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"the run never logged {rows} rows to signal it:\n{err}")
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err
