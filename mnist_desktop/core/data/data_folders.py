"""What is wrong with a data folder, in words that name the file and the fix.

Why: "MNIST is not available" used to be the whole story -- it never said which
file was missing, that a *folder* stood where a file belongs, or that a file
was given as the folder; and a broken ``--data-dir`` silently fell back to
``$MNIST_DESKTOP_DATA``, so the person never learnt which folder was read.
An explicit data folder is now the only place looked in, and it is checked
first (:func:`check_data_dir`); :func:`folder_report` explains a folder that
does not hold a dataset.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_desktop.core.errors import DatasetError
from mnist_desktop.core.safe_io import describe_kind, name_too_long

if TYPE_CHECKING:
    from mnist_desktop.core.data.datasets import DatasetSpec


def check_data_dir(data_dir: str | os.PathLike, title: str, hint: str) -> Path:
    """The given data folder as a Path, or DatasetError saying what it is instead."""
    folder = Path(data_dir).expanduser()
    if name_too_long(folder):
        raise DatasetError(f"the data folder name {str(folder)[:80]}… is too long for the filesystem; {hint}")
    try:
        mode = folder.stat().st_mode
    except FileNotFoundError:
        raise DatasetError(f"the data folder {folder} does not exist, so {title} cannot be read from it; {hint}") from None
    except OSError as err:
        raise DatasetError(f"cannot open the data folder {folder}: {err.strerror or err}; {hint}") from None
    if not stat.S_ISDIR(mode):
        raise DatasetError(f"{folder} is {'a file' if stat.S_ISREG(mode) else describe_kind(mode)}, not a folder: "
                           f"give the folder that holds the {title} files, not a file; {hint}")
    return folder


def folder_report(folder: Path, spec: "DatasetSpec") -> str | None:
    """One line on why ``folder`` does not hold ``spec``, or None if it does not exist at all."""
    try:
        if not folder.is_dir():
            return None
    except OSError:
        return None
    missing, odd = [], []
    for fspec in spec.files.values():
        found = False
        for name in fspec.candidates():
            path = folder / name
            try:
                mode = path.stat().st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode):
                found = True
                break
            odd.append(f"{name} is {describe_kind(mode)}, not a file")
        if not found:
            missing.append(fspec.filename)
    if not missing:
        return None
    parts = [f"missing {', '.join(missing)}"] + odd
    return f"{folder}: " + "; ".join(parts)
