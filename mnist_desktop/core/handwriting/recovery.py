"""Opening and repairing the drawings store: the sample files are the truth.

Why this exists (issue 14, defects 1, 2, 6, 8): a damaged ``labels.csv`` used to
load as an empty set, and the next Add wrote an index of one -- twelve
drawings gone. Now :func:`scan` reads the index leniently, checks it against
the ``samples`` folder, and never writes; :func:`repair` then fixes what it
found. Nothing is ever deleted by a repair: damaged indexes are kept aside,
drawings without a readable label are moved to ``unlabelled/``.

What the scan settles, in order:

* the layout -- ``samples`` being a file, or ``labels.csv`` a folder, *blocks*
  writes (the store opens read-only) until :func:`repair` moves the odd thing
  aside;
* index rows -- read line by line; each damaged line is reported;
* listed rows whose PNG is gone -- a delete that was cut short (the PNG goes
  first), finished by the next write;
* a missing or damaged ``.npy`` -- recomputed from the PNG;
* PNGs the index does not list -- put back, with the label their own metadata
  carries (or, for older files, the label in ``labels.csv.bak``); a PNG with no
  label anywhere blocks writes, so a repair by the person decides.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.core.errors import DatasetError, ImageError, MnistDesktopError
from mnist_desktop.core.fileio import atomic_write_bytes, sweep_stale_temps
from mnist_desktop.core.handwriting.index_file import BACKUP_SUFFIX, keep_damaged_copy, read_index
from mnist_desktop.core.handwriting.sample_files import npy_bytes, png_bytes, read_meta, read_npy, read_png

if TYPE_CHECKING:
    from mnist_desktop.core.handwriting.store import HandwritingSet, Sample

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
UNLABELLED_DIR = "unlabelled"


def _is_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def scan(ds: "HandwritingSet") -> None:
    """Fill ``ds`` from disk and record what needs repair; writes nothing."""
    from mnist_desktop.core.handwriting.store import INDEX_FIELDS, SAMPLES_DIR

    samples_dir = ds.root / SAMPLES_DIR
    if os.path.lexists(samples_dir) and not _is_dir(samples_dir):
        ds.damage.append(f"{samples_dir} is a file, not the folder that holds the drawings")
        ds.blocked = (f"{samples_dir} is a file where the folder of drawings belongs. Nothing can be saved "
                      "until it is moved aside: Repair does that (the file is kept).")
    index = read_index(ds.index_path, INDEX_FIELDS, lambda i: bool(ID_RE.match(str(i).strip())))
    if index.unreadable:
        ds.damage.append(index.unreadable)
        ds.blocked = f"{index.unreadable}. Repair moves it aside and rebuilds the index from your drawings."
    ds.damage += [f"{ds.index_path.name}: {d}" for d in index.damage]
    ds.fixes += [f"{ds.index_path.name}: {n}" for n in index.notes]
    listed: dict[str, Sample] = {}
    for n, row in enumerate(index.rows, start=2):
        try:
            sample = ds._sample_from_row(row)
            if sample.id in listed:
                raise DatasetError(f"id {sample.id} is listed twice")
        except MnistDesktopError as err:
            ds.problems.append(f"{ds.index_path.name} line {n}: {err}")
            ds.fixes.append(f"line {n} dropped")
            continue
        listed[sample.id] = sample
    on_disk = _files(samples_dir, ".png")
    for sample in listed.values():
        if sample.id not in on_disk:
            ds.problems.append(f"{sample.id}: its drawing {sample.id}.png is missing (deleted?); the row is dropped")
            ds.fixes.append(f"row {sample.id} dropped")
            continue
        if _take(ds, sample):
            ds.samples.append(sample)
    orphans = sorted(on_disk - listed.keys())
    if orphans:
        _recover_orphans(ds, orphans)
    stray = _files(samples_dir, ".npy") - on_disk
    ds._stray_inputs = sorted(stray)
    ds._known_count = len(ds.samples)


def _files(folder: Path, suffix: str) -> set[str]:
    if not _is_dir(folder):
        return set()
    try:
        return {p.stem for p in folder.iterdir() if p.suffix == suffix and ID_RE.match(p.stem)}
    except OSError:
        return set()


def _take(ds: "HandwritingSet", sample: "Sample") -> bool:
    """Load the model input of a listed/recovered sample, recomputing it from the PNG if needed."""
    try:
        ds._inputs[sample.id] = ds._read_input(sample.id)
        return True
    except DatasetError as err:
        reason = str(err)
    try:
        picture, _meta = read_png(ds.drawing_path(sample.id))
        model_input = to_model_input(picture)
        if model_input is None:
            raise DatasetError("the drawing is blank")
    except (DatasetError, ImageError) as err:
        ds.problems.append(f"{sample.id}: {reason}, and its drawing cannot replace it ({err}); left out")
        return False
    ds._inputs[sample.id] = model_input.astype(np.float32)
    ds._rebuild_inputs.add(sample.id)
    ds.problems.append(f"{sample.id}: {reason}; it was rebuilt from its drawing")
    return True


def _recover_orphans(ds: "HandwritingSet", orphans: list[str]) -> None:
    from mnist_desktop.core.handwriting.store import INDEX_FIELDS

    backup_rows: dict[str, Mapping[str, str]] | None = None
    recovered: list[Sample] = []
    for sample_id in orphans:
        meta = read_meta(ds.drawing_path(sample_id))
        row: Mapping[str, Any] | None = (
            {k: "" if v is None else str(v) for k, v in dict(meta, id=sample_id).items()} if meta else None)
        if row is None:
            if backup_rows is None:
                backup = read_index(ds.index_path.with_name(ds.index_path.name + BACKUP_SUFFIX), INDEX_FIELDS,
                                    lambda i: bool(ID_RE.match(str(i).strip())))
                backup_rows = {str(r.get("id", "")).strip(): r for r in backup.rows}
            row = backup_rows.get(sample_id)
        try:
            sample = ds._sample_from_row(row) if row is not None else None
        except MnistDesktopError:
            sample = None
        if sample is None:
            ds.unlabelled.append(sample_id)
            continue
        if _take(ds, sample):
            recovered.append(sample)
    recovered.sort(key=lambda s: (s.created, s.id))
    ds.samples.extend(recovered)
    if recovered:
        ds.damage.append(f"{len(recovered)} drawing{'s were' if len(recovered) != 1 else ' was'} on disk but not "
                         "in the index (a save was cut short or the index was damaged); "
                         f"{'they are' if len(recovered) != 1 else 'it is'} back in the set")
    if ds.unlabelled:
        ds.damage.append(f"{len(ds.unlabelled)} drawing{'s' if len(ds.unlabelled) != 1 else ''} on disk "
                         "have no readable label")
        ds.blocked = ds.blocked or (
            f"{len(ds.unlabelled)} of your drawings have no readable label (the index is damaged and they are "
            "older files without one of their own). Nothing is saved until you choose Repair: it keeps every "
            f"labelled drawing, moves the others to {ds.root / UNLABELLED_DIR} and keeps the damaged index.")


def repair(ds: "HandwritingSet") -> str:
    """Fix everything :func:`scan` found; return a one-paragraph summary for the person.

    Keeps a copy of a damaged index, moves a file standing in for ``samples``
    aside, moves unlabelled drawings to ``unlabelled/``, writes missing model
    inputs and metadata, sweeps leftovers of killed saves, and writes the index.
    """
    from mnist_desktop.core.handwriting.store import SAMPLES_DIR

    done: list[str] = []
    try:
        samples_dir = ds.root / SAMPLES_DIR
        ds.root.mkdir(parents=True, exist_ok=True)
        if ds.damage and os.path.lexists(ds.index_path):
            kept = keep_damaged_copy(ds.index_path)
            if kept is not None:
                done.append(f"the damaged index is kept as {kept.name}")
        if os.path.lexists(samples_dir) and not _is_dir(samples_dir):
            aside = samples_dir.with_name(f"samples.not-a-folder-{_dt.datetime.now():%Y%m%d-%H%M%S}")
            os.rename(samples_dir, aside)
            done.append(f"the file that stood in for the samples folder is now {aside.name}")
        samples_dir.mkdir(exist_ok=True)
        if ds.unlabelled:
            target = ds.root / UNLABELLED_DIR
            target.mkdir(exist_ok=True)
            for sample_id in ds.unlabelled:
                for suffix in (".png", ".npy"):
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(samples_dir / f"{sample_id}{suffix}", target / f"{sample_id}{suffix}")
            done.append(f"{len(ds.unlabelled)} drawing(s) without a label were moved to {target}")
            ds.unlabelled = []
        for sample in ds.samples:
            _complete_files(ds, sample)
        for stray in ds._stray_inputs:
            with contextlib.suppress(FileNotFoundError):
                (samples_dir / f"{stray}.npy").unlink()
        ds._stray_inputs = []
        for folder in (ds.root, samples_dir):
            for leftover in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    if leftover.stat().st_mtime < _dt.datetime.now().timestamp() - 60:
                        leftover.unlink()
        sweep_stale_temps(ds.index_path)
    except OSError as err:
        raise DatasetError(f"could not repair your drawings in {ds.root}: {err.strerror or err}. "
                           "Check that the folder is writable; nothing was deleted.") from None
    ds.blocked = None
    ds.save(allow_shrink=True)
    summary = "; ".join(ds.damage) or "; ".join(ds.fixes)
    ds.damage, ds.fixes = [], []
    return (f"Your drawings were checked and repaired ({summary}). {len(ds)} drawings are in the set"
            + (f"; {', '.join(done)}." if done else "."))


def _complete_files(ds: "HandwritingSet", sample: "Sample") -> None:
    """Write a recomputed model input, and metadata into an older PNG that has none."""
    if sample.id in ds._rebuild_inputs:
        atomic_write_bytes(ds.input_path(sample.id), npy_bytes(ds._inputs[sample.id]))
        ds._rebuild_inputs.discard(sample.id)
    png = ds.drawing_path(sample.id)
    if read_meta(png) is None:
        picture, _ = read_png(png)
        atomic_write_bytes(png, png_bytes(picture, sample.meta()))
