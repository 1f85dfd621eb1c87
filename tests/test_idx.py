"""IDX parsing: round trips, and every kind of bad file becomes a DatasetError, cheaply."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_desktop.core.errors import DatasetError
from mnist_desktop.core.data.idx import MAX_IDX_BYTES, encode_idx, parse_idx, read_idx, read_idx_bytes, write_idx


def header(code: int, *dims: int, ndim: int | None = None) -> bytes:
    return bytes([0, 0, code, len(dims) if ndim is None else ndim]) + struct.pack(f">{len(dims)}I", *dims)


IMAGES = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
VALID = encode_idx(IMAGES)


@pytest.mark.parametrize(
    "array",
    [
        IMAGES,
        np.arange(10, dtype=np.uint8),
        np.array([-3, 0, 5], dtype=np.int8),
        np.arange(-6, 6, dtype=np.int16).reshape(3, 4),
        np.arange(24, dtype=np.int32).reshape(2, 3, 4) * 100_000,
        np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 2, 2, 2),
        np.array([1e300, -2.5], dtype=np.float64),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
@pytest.mark.parametrize("suffix", [".gz", ""])
def test_round_trip(tmp_path: Path, array: np.ndarray, suffix: str) -> None:
    path = tmp_path / f"a-idx{suffix}"
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    np.testing.assert_array_equal(parse_idx(encode_idx(array), "mem"), array)


def test_payload_is_big_endian() -> None:
    assert encode_idx(np.array([1], dtype=np.int32)) == header(0x0C, 1) + b"\x00\x00\x00\x01"


def test_write_is_deterministic(tmp_path: Path) -> None:
    write_idx(tmp_path / "a.gz", IMAGES)
    write_idx(tmp_path / "b.gz", IMAGES)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_gz_sniffed_not_trusted(tmp_path: Path) -> None:
    """A browser may decompress a .gz download but keep its name."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(VALID)
    np.testing.assert_array_equal(read_idx(path), IMAGES)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "truncated"),
        (b"\x00\x00\x08", "truncated"),
        (header(0x08, 60000, 28, 28)[:9], "truncated inside its header"),
        (VALID[:-100], "truncated: header says 3×28×28 (2352 bytes) but only 2252 bytes follow"),
        (VALID + b"\x00", "trailing data"),
        (b"<html>" + VALID, "bad magic"),
        (b"\x00\x01" + VALID[2:], "bad magic"),
        (b"\x00\x00\x07" + VALID[3:], "unknown IDX data type code 0x07"),
        (header(0x08, ndim=0), "0 dimensions"),
        (header(0x08, 1, 1, 1, 1, 1) + b"\x00", "5 dimensions"),
        (header(0x08, 3, 0, 28), "empty dimension"),
        (header(0x0E, 2) + b"\x00" * 15, "truncated"),
    ],
)
def test_bad_bytes_rejected(data: bytes, fragment: str) -> None:
    with pytest.raises(DatasetError) as info:
        parse_idx(data, "some/file-idx3-ubyte")
    assert fragment in str(info.value)
    assert "some/file-idx3-ubyte" in str(info.value)


def test_truncated_message_names_file_and_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header(0x08, 60000, 28, 28) + b"\x00" * 1234))
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "60000×28×28 (47040000 bytes) but only 1234 bytes follow" in message
    assert "download again" in message


@pytest.mark.parametrize("gz", [True, False])
def test_huge_header_refused_without_allocating(tmp_path: Path, gz: bool) -> None:
    data = header(0x0E, 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\x00" * 64
    path = tmp_path / ("huge.gz" if gz else "huge")
    path.write_bytes(gzip.compress(data) if gz else data)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="more than the"):
            read_idx(path)
        with pytest.raises(DatasetError, match="truncated"):
            parse_idx(data, "huge")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_header_just_over_the_cap_refused(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(header(0x08, MAX_IDX_BYTES + 1))
    with pytest.raises(DatasetError, match="more than the"):
        read_idx(path)


def test_gzip_bomb_stops_at_expected_size(tmp_path: Path) -> None:
    """A small .gz that inflates to 64 MB of zeros after a 10-image header."""
    path = tmp_path / "bomb.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(compressor.compress(header(0x08, 10, 28, 28)))
        zeros = bytes(1 << 20)
        for _ in range(64):
            out.write(compressor.compress(zeros))
        out.write(compressor.flush())
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="trailing data"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000


@pytest.mark.parametrize("cut", [10, 200, -9])
def test_damaged_gzip(tmp_path: Path, cut: int) -> None:
    blob = gzip.compress(VALID)
    path = tmp_path / "x.gz"
    path.write_bytes(blob[:cut])
    with pytest.raises(DatasetError, match="gzip|truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_gzip_with_trailing_garbage(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(VALID) + b"garbage!")
    with pytest.raises(DatasetError):
        read_idx(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        read_idx(tmp_path / "nope.gz")


def test_read_idx_bytes_is_the_payload(tmp_path: Path) -> None:
    write_idx(tmp_path / "a.gz", IMAGES)
    assert read_idx_bytes(tmp_path / "a.gz") == VALID


@pytest.mark.parametrize(
    "array",
    [np.zeros((2, 2), dtype=np.uint16), np.zeros((), dtype=np.uint8), np.zeros((1,) * 5, dtype=np.uint8),
     np.zeros((0, 28), dtype=np.uint8), np.zeros(2, dtype=bool)],
    ids=["uint16", "scalar", "5d", "empty", "bool"],
)
def test_write_refuses_what_read_would(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(ValueError):
        write_idx(tmp_path / "x.gz", array)
    assert list(tmp_path.iterdir()) == []


def _parse_or_dataset_error(data: bytes) -> None:
    try:
        result = parse_idx(data, "fuzz")
    except DatasetError:
        return
    assert isinstance(result, np.ndarray)
    assert 1 <= result.ndim <= 4 and result.size > 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parse_or_dataset_error(data)


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]),
    dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 5), min_size=0, max_size=5),
    body=st.binary(max_size=128),
)
def test_fuzz_headers(code: int, dims: list[int], body: bytes) -> None:
    _parse_or_dataset_error(header(code, *dims) + body)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, len(VALID) - 1), flip=st.integers(0, len(VALID) - 1), byte=st.integers(0, 255))
def test_fuzz_truncations_and_corruptions(cut: int, flip: int, byte: int) -> None:
    with pytest.raises(DatasetError):
        parse_idx(VALID[:cut], "fuzz")
    corrupted = bytearray(VALID)
    corrupted[flip] = byte
    _parse_or_dataset_error(bytes(corrupted))
