"""Atomic file writes: a crash, full disk or closed window never leaves half a file.

The data goes to a temporary file in the destination folder (same filesystem, so
``os.replace`` is atomic), is flushed and fsynced, then renamed over the target.
If anything fails the temporary file is removed and the old file is untouched.
Also here: what reading a damaged zip archive can raise.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

#: What ``zipfile`` raises on a damaged archive, when opening it or reading an
#: entry: besides BadZipFile, a garbled header gives zlib/EOF/Value errors, and a
#: garbled version or compression field NotImplementedError (found by fuzzing
#: model files). Loaders turn all of them into one clear message.
ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError, RuntimeError)


def _existing_mode(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file object; on clean exit it replaces ``path`` atomically."""
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes 0600 files; give the result the permissions a plain open() would
        os.chmod(tmp_name, _existing_mode(target))
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(data)
