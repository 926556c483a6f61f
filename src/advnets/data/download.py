"""Finding the IDX files of MNIST and Fashion-MNIST, and downloading them when they are missing.

Files are looked for in one root folder (``--data-dir``, else ``$ADVNETS_DATA``, else the per-user
cache folder) and, for Fashion-MNIST, in Debian's ``/usr/share/datasets/fashion-mnist``; in each,
in the folder itself and in a ``mnist/`` or ``fashion-mnist/`` subfolder, under the standard names,
gzipped or not. A missing file is fetched from a list of public mirrors tried in order, written to
a temporary file, verified by the SHA-256 and size of its *uncompressed* content (mirrors compress
differently, the content is what is identical) and only then renamed into place.

The checksums were computed here from the MNIST files whose uncompressed MD5 sums equal the
published ones, and from Debian's dataset-fashion-mnist package (upstream commit 55506a9).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from advnets.errors import DataError, DataNotFoundError
from advnets.io import atomic_write_bytes

MIRRORS_ENV = "ADVNETS_MIRRORS"
DATA_ENV = "ADVNETS_DATA"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class IDXFile:
    name: str  # the standard name, without .gz
    size: int  # bytes, uncompressed
    sha256: str  # of the uncompressed content


@dataclass(frozen=True)
class FileSet:
    title: str
    folder: str
    mirrors: tuple[str, ...]
    files: dict[str, IDXFile]
    extra_dirs: tuple[Path, ...] = ()


FILESETS = {
    "mnist": FileSet(
        title="MNIST",
        folder="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        files={
            "train-images": IDXFile(
                "train-images-idx3-ubyte",
                47040016,
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            "train-labels": IDXFile(
                "train-labels-idx1-ubyte",
                60008,
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            "test-images": IDXFile(
                "t10k-images-idx3-ubyte",
                7840016,
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            "test-labels": IDXFile(
                "t10k-labels-idx1-ubyte",
                10008,
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        },
    ),
    "fashion-mnist": FileSet(
        title="Fashion-MNIST",
        folder="fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        files={
            "train-images": IDXFile(
                "train-images-idx3-ubyte",
                47040016,
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            "train-labels": IDXFile(
                "train-labels-idx1-ubyte",
                60008,
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
            "test-images": IDXFile(
                "t10k-images-idx3-ubyte",
                7840016,
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            "test-labels": IDXFile(
                "t10k-labels-idx1-ubyte",
                10008,
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        },
        extra_dirs=(DEBIAN_FASHION,),
    ),
}


class ChecksumError(DataError):
    """Downloaded content that is not the expected file."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "advnets"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The root folder: the argument, else $ADVNETS_DATA, else the per-user cache folder."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return cache_dir()


def search_dirs(fileset: FileSet, root: Path) -> list[Path]:
    return [root, root / fileset.folder, *fileset.extra_dirs]


def _candidates(file: IDXFile) -> list[str]:
    dotted = file.name.replace("-idx", ".idx")  # the 'train-images.idx3-ubyte' spelling
    return [file.name + ".gz", file.name, dotted + ".gz", dotted]


def find_file(fileset: FileSet, key: str, root: Path) -> Path | None:
    for folder in search_dirs(fileset, root):
        for name in _candidates(fileset.files[key]):
            if (folder / name).is_file():
                return folder / name
    return None


def mirrors_for(fileset: FileSet, mirrors: list[str] | None = None) -> list[str]:
    if mirrors is not None:
        return list(mirrors)
    if os.environ.get(MIRRORS_ENV):
        return [m.strip() for m in os.environ[MIRRORS_ENV].split(",") if m.strip()]
    return list(fileset.mirrors)


def verify(content: bytes, file: IDXFile, origin: str) -> bytes:
    """Return the uncompressed content if it is the expected file, else raise ChecksumError."""
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (EOFError, OSError, zlib.error) as err:
            raise ChecksumError(f"{origin}: not a valid gzip file ({err})") from None
    if len(content) != file.size:
        raise ChecksumError(
            f"{origin}: expected {file.size} bytes of {file.name}, got {len(content)}"
        )
    digest = hashlib.sha256(content).hexdigest()
    if digest != file.sha256:
        raise ChecksumError(
            f"{origin}: SHA-256 {digest} does not match {file.name}'s {file.sha256}"
        )
    return content


def _fetch(url: str, limit: int, timeout: float, progress: bool) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        if total is not None and total > limit:
            raise ChecksumError(f"{url}: {total} bytes is more than the {limit} expected at most")
        chunks, got = [], 0
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=url.rsplit("/", 1)[-1],
            disable=not progress,
            leave=False,
        ) as bar:
            while chunk := response.read(1 << 20):
                got += len(chunk)
                if got > limit:
                    raise ChecksumError(f"{url}: more than the {limit} bytes expected at most")
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def download_file(
    fileset: FileSet,
    key: str,
    folder: Path,
    *,
    mirrors: list[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> tuple[Path | None, list[str]]:
    """Fetch one file from the mirrors in order into `folder`; returns (path or None, errors)."""
    file = fileset.files[key]
    errors = []
    for base in mirrors_for(fileset, mirrors):
        url = base.rstrip("/") + "/" + file.name + ".gz"
        try:
            content = _fetch(url, file.size + (1 << 20), timeout, progress)
            verify(content, file, url)
        except (urllib.error.URLError, OSError, ChecksumError, ValueError) as err:
            errors.append(f"{url}: {getattr(err, 'reason', None) or err}")
            continue
        created = [p for p in (folder.parent, folder) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        try:
            target = folder / (file.name + ".gz" if content[:2] == b"\x1f\x8b" else file.name)
            atomic_write_bytes(target, content)
        except BaseException:
            for p in reversed(created):
                if p.exists() and not any(p.iterdir()):
                    p.rmdir()
            raise
        return target, errors
    return None, errors


def locate(
    name: str,
    key: str,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirrors: list[str] | None = None,
    progress: bool = True,
) -> Path:
    """Path of one IDX file of data set `name` ('mnist' or 'fashion-mnist'), fetching it if
    needed."""
    fileset = FILESETS[name]
    root = data_root(data_dir)
    found = find_file(fileset, key, root)
    if found is not None:
        return found
    errors: list[str] = []
    if download:
        path, errors = download_file(
            fileset, key, root / fileset.folder, mirrors=mirrors, progress=progress
        )
        if path is not None:
            return path
    file = fileset.files[key]
    looked = "\n".join(f"  {d}" for d in search_dirs(fileset, root))
    tried = (
        ("\nDownloading failed:\n" + "\n".join(f"  {e}" for e in errors))
        if errors
        else ("\nDownloading is off (data.download = false)." if not download else "")
    )
    names = ", ".join(f.name + "[.gz]" for f in fileset.files.values())
    raise DataNotFoundError(
        f"{fileset.title} file {file.name}[.gz] not found. Looked in:\n{looked}{tried}\n"
        f"To provide it, put the four {fileset.title} IDX files ({names}) in one of those folders, "
        f"or pass --data-dir DIR (or set {DATA_ENV}=DIR) to a folder holding them"
        + (", or install Debian's package dataset-fashion-mnist" if name == "fashion-mnist" else "")
        + f"; a mirror can be named with {MIRRORS_ENV}=URL[,URL...]."
    )
