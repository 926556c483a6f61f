"""Reader and validator for the IDX format of MNIST and Fashion-MNIST (raw or gzip).

An IDX file is: two zero bytes, a type code, the number of dimensions n, then n big-endian
uint32 sizes, then the values in C order. Every check names the file, what was expected and
what was found, so a truncated download or a wrong file is explained rather than misread.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from advnets.errors import DataError

# Type code -> big-endian NumPy dtype.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IDXError(DataError):
    """An IDX file that is not what it should be."""


def read_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed if it is gzip (recognised by its magic bytes)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise IDXError(f"{path}: gzip data is corrupt or truncated ({err})") from None
    return raw


def parse_idx(
    data: bytes,
    name: str = "<bytes>",
    *,
    expect_dims: int | None = None,
    expect_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Parse IDX bytes into an array, validating magic number, dimensions and length."""
    if len(data) < 4:
        raise IDXError(
            f"{name}: expected an IDX header of at least 4 bytes, found {len(data)} bytes"
            + (" (the file is empty)" if not data else "")
        )
    if data[0] != 0 or data[1] != 0:
        raise IDXError(
            f"{name}: expected an IDX magic number starting with two zero bytes, "
            f"found 0x{data[0]:02x}{data[1]:02x}; this is not an IDX file"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        valid = ", ".join(f"0x{c:02x}" for c in IDX_TYPES)
        raise IDXError(f"{name}: unknown IDX type code 0x{code:02x}; expected one of {valid}")
    if ndim == 0:
        raise IDXError(f"{name}: IDX header declares 0 dimensions; expected at least 1")
    if expect_dims is not None and ndim != expect_dims:
        raise IDXError(f"{name}: expected an IDX file of {expect_dims} dimensions, found {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(
            f"{name}: expected a header of {header} bytes for {ndim} dimensions, "
            f"found only {len(data)} bytes (truncated)"
        )
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if expect_shape is not None and shape[1:] != expect_shape[1:]:
        raise IDXError(f"{name}: expected item shape {expect_shape[1:]}, found {shape[1:]}")
    dtype = IDX_TYPES[code]
    expected_len = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected_len:
        what = "truncated" if len(data) < expected_len else "has trailing bytes"
        raise IDXError(
            f"{name}: expected {expected_len} bytes for shape {shape} of {dtype.name}, "
            f"found {len(data)} bytes ({what})"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def read_idx(path: str | Path, *, expect_dims: int | None = None) -> np.ndarray:
    """Read and validate an IDX file (raw or gzip)."""
    return parse_idx(read_bytes(path), str(path), expect_dims=expect_dims)
