"""The downloader against a real HTTP server on 127.0.0.1 serving the MNIST files."""

import gzip
import re
import select
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from advnets.data import download, load
from advnets.data.download import FILESETS, DataNotFoundError, locate


@pytest.fixture
def serve():
    """start(folder) serves the folder over HTTP and returns its URL. Each server binds a port of
    the kernel's choosing (port 0) and says which, so parallel tests never contend for one."""
    procs = []

    def start(folder) -> str:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
                str(folder),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(proc)
        # "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        found = re.search(r" port (\d+) ", proc.stdout.readline()) if ready else None
        if found is None:
            raise RuntimeError("the test HTTP server did not start")
        port = int(found.group(1))
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return f"http://127.0.0.1:{port}/"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait()
        proc.stdout.close()


def test_downloads_verifies_and_loads(serve, mnist_files, tmp_path, monkeypatch):
    url = serve(mnist_files)
    monkeypatch.setenv("ADVNETS_MIRRORS", url)
    root = tmp_path / "data"
    test = load("mnist", "test", root, progress=False)
    assert test.x.shape == (10000, 784)
    assert sorted(p.name for p in (root / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    # The downloaded content is byte-identical to the served file once uncompressed.
    got = gzip.decompress((root / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert got == gzip.decompress((mnist_files / "t10k-images-idx3-ubyte.gz").read_bytes())


def test_falls_through_dead_mirror_to_a_live_one(serve, mnist_files, tmp_path):
    url = serve(mnist_files)
    path = locate(
        "mnist", "test-labels", tmp_path, mirrors=["http://127.0.0.1:9/", url], progress=False
    )
    assert path == tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"


@pytest.mark.parametrize("corruption", ["flip-byte", "truncate", "not-gzip"])
def test_corrupted_file_is_rejected_and_leaves_nothing(serve, mnist_files, tmp_path, corruption):
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    content = gzip.decompress((mnist_files / "t10k-labels-idx1-ubyte.gz").read_bytes())
    if corruption == "flip-byte":
        content = content[:100] + bytes([content[100] ^ 1]) + content[101:]
        served = gzip.compress(content)
    elif corruption == "truncate":
        served = gzip.compress(content)[:-20]
    else:
        served = b"<html>not found</html>"
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(served)
    url = serve(bad)
    root = tmp_path / "data"
    with pytest.raises(DataNotFoundError) as err:
        locate("mnist", "test-labels", root, mirrors=[url], progress=False)
    assert url in str(err.value)
    assert not root.exists(), "a rejected download must leave no file or folder behind"


def test_offline_error_says_where_it_looked_and_how_to_provide(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load("mnist", "train", tmp_path / "nowhere", progress=False)
    text = str(err.value)
    assert str(tmp_path / "nowhere") in text and str(tmp_path / "nowhere" / "mnist") in text
    assert "--data-dir" in text and "ADVNETS_DATA" in text
    assert "Downloading failed" in text
    assert not (tmp_path / "nowhere").exists()


def test_download_off_says_so(tmp_path):
    with pytest.raises(DataNotFoundError, match="Downloading is off"):
        locate("mnist", "train-images", tmp_path, download=False)


def test_verify_accepts_only_the_right_content(mnist_files):
    file = FILESETS["mnist"].files["test-labels"]
    raw = gzip.decompress((mnist_files / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert download.verify(raw, file, "x") == raw
    assert download.verify(gzip.compress(raw, compresslevel=1), file, "x") == raw
    with pytest.raises(download.ChecksumError, match="SHA-256"):
        download.verify(raw[:-1] + b"\x00", file, "x")


def test_finds_files_in_folder_or_subfolder_gzipped_or_not(mnist_files, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    raw = gzip.decompress((mnist_files / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (flat / "t10k-labels-idx1-ubyte").write_bytes(raw)
    assert locate("mnist", "test-labels", flat, download=False) == flat / "t10k-labels-idx1-ubyte"
    sub = tmp_path / "nested" / "mnist"
    sub.mkdir(parents=True)
    shutil.copy(mnist_files / "t10k-labels-idx1-ubyte.gz", sub)
    assert (
        locate("mnist", "test-labels", tmp_path / "nested", download=False)
        == sub / "t10k-labels-idx1-ubyte.gz"
    )
    dotted = tmp_path / "dotted"
    dotted.mkdir()
    (dotted / "t10k-labels.idx1-ubyte").write_bytes(raw)
    assert (
        locate("mnist", "test-labels", dotted, download=False) == dotted / "t10k-labels.idx1-ubyte"
    )


def test_data_dir_env_is_used(mnist_root, monkeypatch):
    monkeypatch.setenv("ADVNETS_DATA", str(mnist_root))
    test = load("mnist", "test", None, download_missing=False)
    assert test.x.shape == (10000, 784)
    assert np.isclose(
        float(test.x.mean()), 0.1325, atol=1e-3
    )  # the well-known MNIST test pixel mean
