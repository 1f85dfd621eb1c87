"""Trading the person's drawings as a zip: export for a backup or another computer, import back.

An archive is ``images/<id>.png`` plus ``labels.csv`` (file,label,source,created,predicted).
Nothing in an imported zip is trusted: entries are read by name (never extracted),
sizes are checked before reading, every PNG is decoded and its model input is
recomputed from the picture, and bad entries are skipped with a reason.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image

from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.core.errors import ConfigError, DatasetError, ImageError, MnistDesktopError
from mnist_desktop.core.fileio import ZIP_READ_ERRORS, atomic_writer
from mnist_desktop.core.safe_io import read_zip_entry
from mnist_desktop.core.handwriting.store import _ID_RE, INDEX_NAME, MAX_INDEX_BYTES, HandwritingSet, check_label

EXPORT_FIELDS = ("file", "label", "source", "created", "predicted")
MAX_ZIP_ENTRIES = 20_000
MAX_PNG_BYTES = 8 << 20
MAX_PNG_PIXELS = 4096 * 4096
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class ImportReport:
    """What an import did; ``skipped`` holds ``(entry, reason)`` for every file left out."""

    added: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0

    def summary(self) -> str:
        parts = [f"imported {len(self.added)} drawing{'s' if len(self.added) != 1 else ''}"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already in your set")
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)}")
        text = ", ".join(parts)
        return text[0].upper() + text[1:]

    def details(self) -> str:
        return "\n".join(f"{name}: {reason}" for name, reason in self.skipped)


def _decode_png(data: bytes, name: str) -> np.ndarray:
    """Decode untrusted PNG bytes to a numpy picture; any problem is an ImageError naming ``name``."""
    if not data.startswith(PNG_MAGIC):
        raise ImageError(f"{name}: not a PNG file")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            width, height = img.size
            if width * height > MAX_PNG_PIXELS:
                raise ImageError(f"{name}: {width}x{height} pixels is larger than the {MAX_PNG_PIXELS:,}-pixel limit")
            img.load()
            has_alpha = "A" in img.getbands() or "transparency" in img.info
            return np.asarray(img.convert("RGBA" if has_alpha else "L"))
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageError(f"{name}: cannot read the PNG ({err})") from None


def export_zip(store: HandwritingSet, path: str | Path) -> int:
    """Write every drawing as ``images/<id>.png`` plus ``labels.csv`` to a zip, atomically."""
    target = Path(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    try:
        with atomic_writer(target) as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for sample in store.samples:
                name = f"images/{sample.id}.png"
                zf.writestr(name, store.drawing_path(sample.id).read_bytes())
                writer.writerow({**{k: v for k, v in sample.row().items() if k != "id"}, "file": name})
            zf.writestr(INDEX_NAME, buf.getvalue())
    except OSError as err:
        raise DatasetError(f"could not export your drawings to {target}: {err.strerror or err}. "
                           "Choose a folder you can write to; any earlier file there is unchanged.") from None
    return len(store.samples)

def import_zip(store: HandwritingSet, path: str | Path) -> ImportReport:
    """Add the drawings of an exported zip; every entry is checked, bad ones are skipped.

    Entries are read by name from the archive -- nothing is extracted, so
    names like ``../x`` cannot write anywhere -- and sizes are checked before
    reading. Each PNG must decode and hold a digit; its model input is
    recomputed from the picture (nothing in the zip is trusted as an array,
    nothing is ever unpickled). Samples whose id is already in the set are
    counted as duplicates, so importing an export twice adds nothing.
    """
    source = Path(path)
    store._check_writable()
    try:
        zf = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise DatasetError(f"{source}: no such file") from None
    except ZIP_READ_ERRORS as err:
        raise DatasetError(f"{source} is not a zip archive of drawings ({err})") from None
    report = ImportReport()
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise DatasetError(f"{source} has {len(infos)} entries (limit {MAX_ZIP_ENTRIES})")
        by_name = {info.filename: info for info in infos}
        index = by_name.get(INDEX_NAME) or next((i for n, i in by_name.items() if n.endswith("/" + INDEX_NAME)), None)
        if index is None:
            raise DatasetError(f"{source} has no {INDEX_NAME}; export your drawings from MNIST Desktop to get one")
        try:  # streamed with a running limit: the declared size may be a lie
            text = read_zip_entry(zf, index, MAX_INDEX_BYTES, lambda why: DatasetError(f"{source}: {why}")
                                  ).decode("utf-8-sig")
        except (UnicodeDecodeError, *ZIP_READ_ERRORS) as err:
            raise DatasetError(f"{source}: {index.filename} cannot be read as UTF-8 text ({err})") from None
        prefix = index.filename[: -len(INDEX_NAME)]
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "file" not in reader.fieldnames or "label" not in reader.fieldnames:
            raise DatasetError(f"{source}: {index.filename} needs the columns 'file' and 'label'")
        used: set[str] = set()
        try:
            for n, row in enumerate(reader, start=2):
                name = str(row.get("file") or "").strip()
                where = name or f"{INDEX_NAME} line {n}"
                try:
                    _import_row(store, zf, by_name, prefix, row, name, used, report)
                except MnistDesktopError as err:
                    report.skipped.append((where, str(err).removeprefix(f"{name}: ")))
                except KeyError as err:  # e.g. a zip entry listed twice in a corrupt archive
                    report.skipped.append((where, f"cannot be read ({err})"))
        except csv.Error as err:  # e.g. a field over csv's size limit
            report.skipped.append((index.filename, f"the rest cannot be read as CSV ({err})"))
        finally:
            if report.added:  # one index write for the whole import; each PNG is already safe on disk
                store.save()
    return report

def _import_row(store: HandwritingSet, zf: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo], prefix: str,
                row: Mapping[str, Any], name: str, used: set[str], report: ImportReport) -> None:
    if not name:
        raise ImageError("no file named in this row")
    if name in used:
        raise ImageError("listed twice")
    used.add(name)
    label = check_label(row.get("label") or "")
    info = by_name.get(prefix + name) or by_name.get(name)
    if info is None or info.is_dir():
        raise ImageError("not found in the zip")
    stem = Path(name).stem
    sample_id = stem if _ID_RE.match(stem) else None
    if sample_id is not None and sample_id in store:
        report.duplicates += 1
        return
    try:
        data = read_zip_entry(zf, info, MAX_PNG_BYTES,
                              lambda why: ImageError(f"{why}; over the {MAX_PNG_BYTES >> 20} MB limit"))
    except ZIP_READ_ERRORS as err:
        raise ImageError(f"cannot be read from the zip ({err})") from None
    picture = _decode_png(data, name)
    model_input = to_model_input(picture)
    if model_input is None:
        raise ImageError("the picture is blank")
    predicted_text = str(row.get("predicted") or "").strip()
    try:
        predicted = check_label(predicted_text) if predicted_text else None
    except ConfigError:
        predicted = None
    created = str(row.get("created") or "").strip()[:40] or None
    drawing = _canvas_like(picture)
    sample = store._write_sample(drawing, label, source="import", predicted=predicted, model_input=model_input,
                                 sample_id=sample_id, created=created)
    report.added.append(sample.id)


def _canvas_like(picture: np.ndarray) -> np.ndarray:
    """Grey float [0, 1] with white ink on black, like the canvas, whatever the file's polarity.

    Stored drawings then look alike in the gallery and go back on the canvas as drawn.
    """
    grey = picture.astype(np.float32) / 255.0 if picture.ndim == 2 else _flatten_alpha(picture)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return 1.0 - grey if float(np.median(border)) > 0.5 else grey


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """Grey picture of an RGBA image with its transparency laid on the contrasting colour.

    Only for storing the drawing; the model input comes from ``to_model_input``,
    which composites the same way.
    """
    grey = rgba[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    weight = float(alpha.sum())
    ink_mean = float((grey * alpha).sum()) / weight if weight else 0.0
    background = 1.0 if ink_mean < 0.5 else 0.0
    return np.clip(grey * alpha + background * (1.0 - alpha), 0.0, 1.0)
