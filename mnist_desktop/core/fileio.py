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
import time
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


#: A temp file older than this was left by a killed process (a save takes well
#: under a second), so it is safe to remove; younger ones may be a live save.
STALE_TEMP_AGE_S = 600.0


def temp_pattern(target: Path) -> str:
    """The glob that matches the temp files :func:`atomic_writer` makes for ``target``."""
    return f".{glob_escape(target.name)}.*.tmp"


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def sweep_stale_temps(target: str | os.PathLike, max_age_s: float = STALE_TEMP_AGE_S) -> list[Path]:
    """Remove ``.NAME.*.tmp`` leftovers of a save to ``target`` killed mid-write.

    Only files older than ``max_age_s`` go, so a save running in another
    process is never disturbed. Returns what was removed.
    """
    path = Path(target)
    cutoff = time.time() - max_age_s
    removed: list[Path] = []
    try:
        leftovers = list(path.parent.glob(temp_pattern(path)))
    except OSError:
        return removed
    for leftover in leftovers:
        with contextlib.suppress(OSError):
            if leftover.is_file() and not leftover.is_symlink() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                removed.append(leftover)
    return removed


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
