import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """One torch thread per test process, and for the advnets commands the tests start:
    pytest-xdist runs a worker per core, and a process using every core slows the others."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def _data_root() -> Path | None:
    root = os.environ.get("ADVNETS_DATA")
    return Path(root) if root else None


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The folder named by ADVNETS_DATA, if it holds the MNIST files (else the test is skipped)."""
    root = _data_root()
    if root is None:
        pytest.skip("ADVNETS_DATA is not set: point it at a folder holding the MNIST IDX files")
    for folder in (root, root / "mnist"):
        if (folder / "train-images-idx3-ubyte.gz").is_file() or (
            folder / "train-images-idx3-ubyte"
        ).is_file():
            return root
    pytest.skip(f"no MNIST files in {root} or {root / 'mnist'}")


@pytest.fixture
def mnist_files(mnist_root) -> Path:
    """The folder holding the four MNIST .gz files."""
    for folder in (mnist_root / "mnist", mnist_root):
        if (folder / "train-images-idx3-ubyte.gz").is_file():
            return folder
    pytest.skip("the MNIST files are not gzipped here; the downloader test serves .gz files")


@pytest.fixture(autouse=True)
def _no_network_mirrors(monkeypatch, tmp_path):
    """Tests never reach the public mirrors, and never write into the user's cache."""
    monkeypatch.setenv("ADVNETS_MIRRORS", "http://127.0.0.1:9/")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def _the_same_global_state_whatever_ran_before():
    """Each test starts from the same process-wide state, whichever tests its process ran before
    (under pytest-xdist a worker runs an unpredictable share of the suite): the global random
    generators seeded, and subnormal floats kept, PyTorch's default (a Trainer flushes them)."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    torch.set_flush_denormal(False)
    yield
    torch.set_flush_denormal(False)


# The longest tests (tens of seconds each, `--durations`), run first: spread over pytest-xdist's
# workers ahead of the short ones, the workers then finish together.
LONGEST = (
    "test_twenty_sigkills",
    "test_after_gan_training_p_g_is_close",
    "test_interrupted_run_checkpoints",
    "test_torchrun_cli",
    "test_resume_mid_epoch",
    "test_api_examples_run",
    "test_proposition1_and_theorem1",
    "test_encoder_command_fits",
    "test_report_command",
    "test_sigterm_writes",
)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not item.name.startswith(LONGEST))
