import gzip
import struct

import numpy as np
import pytest

from advnets.data.idx import IDXError, parse_idx, read_idx


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    return header + arr.astype(dtype).tobytes()


def test_round_trip_raw_and_gzip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)


def test_big_endian_types():
    arr = np.array([[1, -2], [70000, 5]], dtype=np.int32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(arr, 0x0C)), arr)
    f = np.array([1.5, -2.25], dtype=np.float32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(f, 0x0D)), f)


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda b: b"", "file is empty"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\x00", "trailing bytes"),
        (lambda b: b"\x01" + b[1:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
        (lambda b: b[:6], "truncated"),
    ],
)
def test_bad_files_name_file_expected_and_found(tmp_path, mutate, expected):
    good = idx_bytes(np.zeros((5, 2, 2), dtype=np.uint8))
    path = tmp_path / "bad-file"
    path.write_bytes(mutate(good))
    with pytest.raises(IDXError) as err:
        read_idx(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_truncated_length_reports_expected_and_found(tmp_path):
    path = tmp_path / "t"
    path.write_bytes(idx_bytes(np.zeros((5, 2, 2), dtype=np.uint8))[:-3])
    with pytest.raises(IDXError, match=r"expected 36 bytes .* found 33 bytes"):
        read_idx(path)


def test_wrong_number_of_dimensions(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(IDXError, match="expected an IDX file of 3 dimensions, found 1"):
        read_idx(path, expect_dims=3)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 2), dtype=np.uint8)))[:-10])
    with pytest.raises(IDXError, match="gzip"):
        read_idx(path)


def test_real_mnist_files(mnist_files):
    images = read_idx(mnist_files / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_files / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0
