"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic (two zero bytes, a dtype code, the number of
dimensions), one big-endian uint32 per dimension, then the array in C order and
big-endian. The files come from the network or from folders the user points us
at, so nothing in a header is trusted: the payload size it implies is checked
against the bytes actually present (and against :data:`MAX_IDX_BYTES`) *before*
any array is made, and ``.gz`` files are decompressed in bounded chunks, so a
truncated download, a garbled header or a gzip bomb becomes a
:class:`~mnist_desktop.core.errors.DatasetError` instead of a MemoryError or a
silently wrong array.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_desktop.core.errors import DatasetError
from mnist_desktop.core.fileio import atomic_write_bytes

# IDX dtype codes -> big-endian numpy dtypes (the format's byte order).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_DIMS = 4
# The largest payload we will decompress or read: 4x full MNIST's training images,
# far below what would hurt a desktop, far above any dataset this app knows.
MAX_IDX_BYTES = 200 * 1024 * 1024
_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_REDOWNLOAD = "delete it and download again"


def _shape_text(dims: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in dims)


def _parse_header(header: bytes, source: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate the magic, dtype and dims; return (dtype, dims, header length).

    ``header`` may be longer than the header itself (a whole file); if it is
    shorter, the file is reported as truncated.
    """
    if len(header) < 4:
        raise DatasetError(
            f"{source} is truncated: it has {len(header)} bytes, too few for an IDX header; {_REDOWNLOAD}"
        )
    zero0, zero1, code, ndim = header[0], header[1], header[2], header[3]
    if zero0 != 0 or zero1 != 0:
        raise DatasetError(
            f"{source} is not an IDX file (bad magic number 0x{header[:4].hex()}); "
            f"it may be an HTML error page or a different format; {_REDOWNLOAD}"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DatasetError(f"{source} has unknown IDX data type code 0x{code:02X} (known: {known}); {_REDOWNLOAD}")
    if not 1 <= ndim <= MAX_DIMS:
        raise DatasetError(
            f"{source} says it has {ndim} dimensions; IDX datasets have 1 to {MAX_DIMS}; {_REDOWNLOAD}"
        )
    header_len = 4 + 4 * ndim
    if len(header) < header_len:
        raise DatasetError(
            f"{source} is truncated inside its header ({len(header)} of {header_len} bytes); {_REDOWNLOAD}"
        )
    dims = struct.unpack(f">{ndim}I", header[4:header_len])
    if any(d == 0 for d in dims):
        raise DatasetError(f"{source} has an empty dimension (shape {_shape_text(dims)}); {_REDOWNLOAD}")
    return IDX_DTYPES[code], dims, header_len


def _payload_size(dtype: np.dtype, dims: tuple[int, ...]) -> int:
    # Python ints: a header claiming 4 x 2**32 elements cannot overflow here.
    return math.prod(dims) * dtype.itemsize


def _size_mismatch(source: str, dims: tuple[int, ...], expected: int, actual: int) -> DatasetError:
    if actual < expected:
        return DatasetError(
            f"{source} is truncated: header says {_shape_text(dims)} ({expected} bytes) "
            f"but only {actual} bytes follow; {_REDOWNLOAD}"
        )
    return DatasetError(
        f"{source} is corrupt: header says {_shape_text(dims)} ({expected} bytes) "
        f"but {actual} bytes follow (trailing data); {_REDOWNLOAD}"
    )


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """Parse a whole decompressed IDX file held in memory.

    ``source`` names the file in error messages. The result has the file's
    shape and a native-byte-order dtype, and owns its memory (it does not keep
    ``data`` alive).
    """
    dtype, dims, header_len = _parse_header(data, source)
    expected = _payload_size(dtype, dims)
    actual = len(data) - header_len
    if actual != expected:
        raise _size_mismatch(source, dims, expected, actual)
    flat = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header_len)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def _payload_stream(raw: BinaryIO) -> BinaryIO:
    """Wrap ``raw`` in a gzip reader if it starts with the gzip magic.

    Sniffing rather than trusting the extension copes with browsers that
    transparently decompress ``*.gz`` downloads but keep the name.
    """
    magic = raw.read(2)
    raw.seek(0)
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def _read_upto(stream: BinaryIO, limit: int) -> bytes:
    """Read at most ``limit`` bytes in chunks: memory grows with the data, not the request."""
    parts: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(_CHUNK, remaining))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def read_idx_bytes(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> bytes:
    """Return the decompressed bytes of an IDX file (``.gz`` or raw), validated in size.

    The header is read first; a payload larger than ``max_bytes`` is refused
    before reading further, and at most one byte past the declared payload is
    ever read, so neither a lying header nor a gzip bomb can make us allocate
    more than the real, expected data. The bytes are what checksums are
    computed on (the gzip wrapper differs between mirrors, the payload does not).
    """
    path = Path(path)
    source = str(path)
    try:
        with open(path, "rb") as raw, _payload_stream(raw) as stream:
            head = _read_upto(stream, 4)
            if len(head) == 4 and head[0] == 0 and head[1] == 0:
                head += _read_upto(stream, 4 * head[3])
            dtype, dims, _ = _parse_header(head, source)
            expected = _payload_size(dtype, dims)
            if expected > max_bytes:
                raise DatasetError(
                    f"{source} is too large: header says {_shape_text(dims)} ({expected} bytes), "
                    f"more than the {max_bytes} bytes accepted; it is a different or damaged file: {_REDOWNLOAD}"
                )
            body = _read_upto(stream, expected + 1)
    except FileNotFoundError:
        raise DatasetError(f"{source} does not exist") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{source} is a damaged or truncated gzip file ({exc}); {_REDOWNLOAD}") from None
    except OSError as exc:
        raise DatasetError(f"cannot read {source}: {exc.strerror or exc}") from None
    if len(body) != expected:
        raise _size_mismatch(source, dims, expected, len(body))
    return head + body


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a numpy array, see :func:`read_idx_bytes`."""
    return parse_idx(read_idx_bytes(path, max_bytes), str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The raw IDX bytes of ``array``; refuses arrays :func:`parse_idx` would refuse."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use one of uint8, int8, int16, int32, float32, float64")
    if not 1 <= array.ndim <= MAX_DIMS:
        raise ValueError(f"IDX stores 1 to {MAX_DIMS} dimensions, got shape {array.shape}")
    if any(d == 0 or d >= 2**32 for d in array.shape):
        raise ValueError(f"IDX dimensions must be 1 .. 2**32-1, got shape {array.shape}")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compresslevel: int = 9) -> None:
    """Write ``array`` as IDX, gzipped when ``path`` ends in ``.gz``, atomically.

    The gzip header carries no timestamp or name, so the same array always
    gives the same bytes (the bundled subset is reproducible byte for byte).
    """
    data = encode_idx(array)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=compresslevel, mtime=0)
    atomic_write_bytes(path, data)
