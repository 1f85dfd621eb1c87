"""The drawings index (``labels.csv``): read leniently, written atomically with a backup.

Why lenient: the index is a convenience -- the sample files are the truth (see
:mod:`.sample_files`) -- and the old strict reader turned a UTF-8 byte-order
mark, one non-UTF-8 byte, a lost header line, a file cut short or one huge
field into "no drawings", after which the next Add wrote an index of one. Here
every line is read on its own: what can be read is kept, and each kind of
damage is *reported* (never fatal), so the store can repair it and say so.

Why a backup: every write first keeps the previous index as ``labels.csv.bak``
(a hard link, so it costs no copy), and damaged indexes are kept aside as
``labels.damaged-<time>.csv`` before anything replaces them.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from mnist_desktop.core.fileio import atomic_write_bytes

MAX_INDEX_BYTES = 16 << 20  # ~200,000 rows: far beyond any hand-drawn set
MAX_LINE_CHARS = 4096  # an honest row is < 100 characters; csv's own limit (128 KiB) raised an error
BACKUP_SUFFIX = ".bak"


@dataclass
class IndexRead:
    """What :func:`read_index` found: rows it could read and what was wrong."""

    rows: list[dict[str, str]] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)  # lost or garbled content: worth a repair
    notes: list[str] = field(default_factory=list)  # harmless oddities fixed on the next write (BOM, ...)
    exists: bool = False
    unreadable: str | None = None  # the index cannot be read at all (a folder, no permission, ...)


def read_index(path: Path, fields: Sequence[str], id_looks_valid) -> IndexRead:
    """Read ``path`` line by line; see the module docstring. Never raises for content."""
    out = IndexRead()
    try:
        info = path.lstat()
    except FileNotFoundError:
        return out
    except OSError as err:
        out.exists, out.unreadable = True, f"cannot read {path}: {err.strerror or err}"
        return out
    out.exists = True
    mode = path.stat().st_mode if stat.S_ISLNK(info.st_mode) and path.exists() else info.st_mode
    if not stat.S_ISREG(mode):
        out.unreadable = f"{path} is not a regular file (a folder or a special file stands in its place)"
        return out
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_INDEX_BYTES + 1)
    except OSError as err:
        out.unreadable = f"cannot read {path}: {err.strerror or err}"
        return out
    if len(raw) > MAX_INDEX_BYTES:
        out.damage.append(f"it is larger than {MAX_INDEX_BYTES >> 20} MB; only the first {MAX_INDEX_BYTES >> 20} MB were read")
        raw = raw[:MAX_INDEX_BYTES]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        out.notes.append("it started with a byte-order mark (an editor added it)")
    lines = raw.split(b"\n")
    cut_short = bool(lines) and lines[-1] != b""  # a complete file ends with a newline
    if not cut_short:
        lines.pop()
    header = list(fields)
    start = 0
    first = _split(lines[0]) if lines else None
    if first is not None and "id" in first and "label" in first:
        header, start = first, 1
    elif lines:
        out.damage.append("its header line is missing (rows were read in the usual column order)")
    for number, line in enumerate(lines[start:], start=start + 1):
        where = f"line {number}"
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            out.damage.append(f"{where} is {len(line):,} characters long (an index row is short); it was skipped")
            continue
        text = line.decode("utf-8", errors="replace")
        if "\ufffd" in text:
            out.damage.append(f"{where} holds bytes that are not UTF-8 text")
            text = text.replace("\ufffd", "")  # what is left may still be a good row
        values = _split(text.encode("utf-8"))
        if values is None:
            out.damage.append(f"{where} cannot be read as CSV; it was skipped")
            continue
        row = dict(zip(header, values))
        if number == len(lines) and cut_short:
            complete = len(values) >= len(header)
            if not complete:
                out.damage.append(f"{where} is cut short (the file is truncated)")
            if not id_looks_valid(row.get("id", "")) or not str(row.get("label", "")).strip().isdigit():
                continue
        out.rows.append(row)
    return out


def _split(line: bytes) -> list[str] | None:
    try:
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        return next(csv.reader([text]), [])
    except csv.Error:
        return None


def encode_rows(fields: Sequence[str], rows: Iterable[Mapping[str, str]]) -> bytes:
    """The index text (UTF-8, ``\\n`` line ends, header first)."""
    lines = [",".join(fields)]
    for row in rows:
        lines.append(",".join(_quote(str(row.get(f, ""))) for f in fields))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _quote(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_index(path: Path, data: bytes) -> None:
    """Keep the previous index as ``.bak``, then replace the index atomically (OSError on failure)."""
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    with contextlib.suppress(FileNotFoundError):
        if path.is_file() and not path.is_symlink():
            link = path.with_name(f".{path.name}.bak-link.tmp")
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            try:
                os.link(path, link)  # the old inode survives the replace below
                os.replace(link, backup)
            except OSError:
                with contextlib.suppress(OSError):
                    link.unlink()
                shutil.copyfile(path, backup)
    atomic_write_bytes(path, data)


def keep_damaged_copy(path: Path) -> Path | None:
    """Move a damaged index (or whatever stands in its place) aside, never overwriting one kept earlier."""
    if not os.path.lexists(path):
        return None
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        aside = path.with_name(f"{path.stem}.damaged-{stamp}{'-' + str(n) if n else ''}{path.suffix}")
        if not os.path.lexists(aside):
            if path.is_dir() and not path.is_symlink():
                os.rename(path, aside)
            else:
                shutil.copyfile(path, aside)
            return aside
    return None
