"""Checked paths and bounded reads: what every loader and every save goes through.

Why one module: the hostile pass behind issue 14 found the same few holes in
many places -- a FIFO or ``/dev/zero`` opened as a model (hangs, or memory grows
without bound), a zip entry whose declared size is a lie (a 1 MB model inflating
to gigabytes), a ``.npy`` header declaring a gigantic shape (allocated before
anything checks it), a 300-character file name (``OSError`` traceback), a save
target that is a device, a symlink or a read-only file (silently replaced, or
found only after the training it was meant to keep). Each rule lives here once:

* :func:`check_regular_file` -- only regular files are opened as models, images
  or data; every other kind of path gets a message naming it and what to do.
* :func:`check_save_target` -- before long work: the target is absent or a
  regular writable file, its folder exists and is writable, it is no device
  and (unless asked) no symlink, and its name fits the filesystem.
* :func:`read_zip_entry` -- streams an entry with a running limit on the bytes
  actually produced, whatever the header says.
* :func:`read_npy_bounded` -- checks a ``.npy`` header against the expected
  shape and dtype before the payload is touched.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

_READ_CHUNK = 64 * 1024


class PathProblem(Exception):
    """A path cannot be used; the message names it and says what to do.

    Callers re-raise it as their own user-facing error type (CheckpointError,
    ImageError, DatasetError, ConfigError) so the domain stays clear.
    """


def name_too_long(path: Path) -> bool:
    """True when a component of ``path`` is longer than the filesystem allows."""
    for part in path.parts:
        if len(os.fsencode(part)) > 255:
            return True
    return len(os.fsencode(str(path))) > 4095


def describe_kind(mode: int) -> str:
    """'a folder', 'a named pipe (FIFO)', 'a device' ... for a ``st_mode``."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _writable(path: Path, mode: int) -> bool:
    """Writable for us *and* not marked read-only (root may write anything, but a
    file or folder someone made read-only is a statement that it should stay)."""
    return os.access(path, os.W_OK) and bool(mode & 0o222)


def check_regular_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` if it names an existing regular file; else :class:`PathProblem`.

    Symlinks are followed (a link to a model is fine); what they point at must
    be a regular file. ``what`` ("model file", "image") goes into the message.
    """
    src = Path(path)
    if name_too_long(src):
        raise PathProblem(f"{str(src)[:80]}…: the file name is too long ({len(src.name)} characters); "
                          f"rename the {what} to something shorter")
    try:
        mode = src.stat().st_mode
    except FileNotFoundError:
        raise PathProblem(f"{what} not found: {src} (check the path)") from None
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            raise PathProblem(f"{str(src)[:80]}…: the file name is too long; rename the {what}") from None
        raise PathProblem(f"{src}: cannot open the {what} ({err.strerror or err})") from None
    if not stat.S_ISREG(mode):
        article = "an" if what[:1] in "aeiou" else "a"
        raise PathProblem(f"{src} is {describe_kind(mode)}, not {article} {what}; choose {article} {what} instead")
    return src


def check_save_target(path: str | os.PathLike, what: str = "file", *, allow_special: bool = False,
                      create_parent: bool = False) -> Path:
    """Check that ``path`` can be written *before* work whose result goes there.

    Accepted: an absent file in an existing, writable folder, or an existing
    regular file that is writable (it will be replaced atomically). Refused,
    with a message naming the path and the fix: a missing folder (unless
    ``create_parent``), a folder in place of the file, a file in place of the
    folder, a read-only file or folder, a device/FIFO/socket, and a symlink
    unless ``allow_special`` (the person asked for that exact path), and a name
    too long for the filesystem. Returns the path.
    """
    target = Path(path)
    if name_too_long(target):
        raise PathProblem(f"{str(target)[:80]}…: the file name is too long ({len(target.name)} characters); "
                          "choose a shorter name")
    parent = target.parent
    if create_parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise PathProblem(f"cannot create the folder {parent} for the {what}: {err.strerror or err}; "
                              "set MNIST_DESKTOP_HOME to a writable folder or pass a path you can write to") from None
    try:
        parent_mode = parent.stat().st_mode
    except FileNotFoundError:
        raise PathProblem(f"the folder {parent} does not exist; create it first or choose another place "
                          f"for the {what}") from None
    except OSError as err:
        raise PathProblem(f"cannot use the folder {parent}: {err.strerror or err}") from None
    if not stat.S_ISDIR(parent_mode):
        raise PathProblem(f"{parent} is {describe_kind(parent_mode)}, not a folder; "
                          f"choose a path inside a folder for the {what}")
    if not _writable(parent, parent_mode) or not os.access(parent, os.X_OK):
        raise PathProblem(f"the folder {parent} is not writable; choose a folder you can write to")
    try:
        link = target.lstat()
    except FileNotFoundError:
        return target
    except OSError as err:
        raise PathProblem(f"cannot use {target}: {err.strerror or err}") from None
    if stat.S_ISLNK(link.st_mode) and not allow_special:
        raise PathProblem(f"{target} is a symbolic link; saving would replace the link, not what it points "
                          "to. Give the real path, or remove the link first")
    try:
        mode = target.stat().st_mode
    except OSError:
        return target  # a dangling link, allowed (asked for): the caller checks where it points
    if stat.S_ISDIR(mode):
        raise PathProblem(f"{target} is a folder; give a file name such as {target / ('model.ckpt' if what == 'model' else 'file')}")
    if not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
        raise PathProblem(f"{target} is {describe_kind(mode)}; the {what} would replace it with a regular file. "
                          "Choose an ordinary file name")
    if not _writable(target, mode):
        raise PathProblem(f"{target} is read-only; the {what} would replace it. Make it writable "
                          "(chmod u+w) or choose another name")
    return target


def read_zip_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                   fail: Callable[[str], Exception]) -> bytes:
    """Read one entry, stopping as soon as more than ``limit`` bytes come out.

    The declared ``file_size`` is checked first (cheap) but is not trusted: the
    decompressed stream is counted as it is read, so an entry lying about its
    size costs at most ``limit`` bytes. ``fail(reason)`` builds the error raised.
    """
    if info.file_size > limit:
        raise fail(f"{info.filename} is {info.file_size:,} bytes (limit {limit:,})")
    out = io.BytesIO()
    with zf.open(info) as stream:
        while True:
            chunk = stream.read(min(_READ_CHUNK, limit + 1 - out.tell()))
            if not chunk:
                break
            out.write(chunk)
            if out.tell() > limit:
                raise fail(f"{info.filename} holds more than {limit:,} bytes though its header says "
                           f"{info.file_size:,}; the archive is damaged or crafted")
    return out.getvalue()


def read_npy_bounded(data: bytes, fail: Callable[[str], Exception], *,
                     shape: tuple[int, ...] | None = None, dtype: str | None = None,
                     max_bytes: int = 64 << 20) -> np.ndarray:
    """Parse ``.npy`` bytes, checking the header before any payload is allocated.

    ``fail(reason)`` builds the error; reasons read as a predicate ("has shape
    ...", "is not a valid array ...") so callers can prefix the entry's name.
    The header's shape and dtype must match ``shape``/``dtype`` when given,
    object arrays are refused (nothing is ever unpickled) and the declared
    payload must fit ``max_bytes`` and match the bytes actually present.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise fail(f"is not a valid array (unsupported .npy version {version})")
    except (ValueError, EOFError, SyntaxError, TypeError) as err:
        raise fail(f"is not a valid array ({err})") from None
    if got_dtype.hasobject:
        raise fail("is not a valid array: it declares an object array, which is never loaded (no pickle)")
    if shape is not None and tuple(got_shape) != tuple(shape):
        raise fail(f"has shape {tuple(got_shape)} where {tuple(shape)} is expected")
    if dtype is not None and str(got_dtype) != dtype:
        raise fail(f"has dtype {got_dtype} where {dtype} is expected")
    count = 1
    for dim in got_shape:
        count *= int(dim)
    declared = count * got_dtype.itemsize
    if declared > max_bytes:
        raise fail(f"declares {tuple(got_shape)} {got_dtype} ({declared:,} bytes, limit {max_bytes:,})")
    payload = data[stream.tell():]
    if len(payload) != declared:
        raise fail(f"declares {declared:,} bytes of data but holds {len(payload):,} (truncated or padded)")
    array = np.frombuffer(payload, dtype=got_dtype, count=count)
    array = array.reshape(got_shape, order="F" if fortran else "C")
    return np.array(array)  # own, writable memory
