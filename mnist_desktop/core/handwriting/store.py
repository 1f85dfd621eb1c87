"""Learn my handwriting, part 1: the person's own labelled drawings, kept on disk.

A model that reads MNIST at 99 % can still misread *one person's* digits every
time -- a European 1 with a long up-stroke is an MNIST 7. The person fixes that
here: drawings they label (or correct) are kept in a small personal dataset,
which is first of all a **test set** (how well does the active model read *me*?)
and then the training data for a short fine-tune.

On disk (``user_data_dir()/personal``; flat, so a person can look inside)::

    labels.csv          id,label,source,created,predicted   -- the index, written atomically
    samples/<id>.png    the raw drawing (canvas picture, 8-bit grey)
    samples/<id>.npy    its 28x28 float32 model input (read with allow_pickle=False)

The PNG is the truth: it carries its own label (see :mod:`.sample_files` for
the write order), the ``.npy`` is recomputed from it when missing, and the
index is rewritten atomically with a backup (:mod:`.index_file`). A damaged
index is repaired from the files, never read as an empty set; a damage that
needs the person's say opens the store read-only (``blocked``) until
:meth:`PersonalDataset.repair` (:mod:`.recovery`). An Add never shrinks the set.

Fine-tuning on them lives in :mod:`.finetune`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as _dt
import hashlib
import io
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from mnist_desktop.core.errors import ConfigError, DatasetError, ImageError, MnistDesktopError
from mnist_desktop.core.fileio import ZIP_READ_ERRORS, atomic_write_bytes, atomic_writer
from mnist_desktop.core.handwriting import recovery
from mnist_desktop.core.handwriting.index_file import MAX_INDEX_BYTES, encode_rows, write_index
from mnist_desktop.core.handwriting.sample_files import (
    MAX_PNG_BYTES, PNG_MAGIC, npy_bytes, png_bytes, read_npy, read_png)
from mnist_desktop.core.paths import user_data_dir
from mnist_desktop.core.data.preprocess import load_image, to_model_input
from mnist_desktop.core.safe_io import read_zip_entry

NUM_CLASSES = 10
INDEX_NAME = "labels.csv"
SAMPLES_DIR = "samples"
INDEX_FIELDS = ("id", "label", "source", "created", "predicted")
EXPORT_FIELDS = ("file", "label", "source", "created", "predicted")
SOURCES = ("example", "correction", "session", "import")
# ids become file names: keep them to a safe alphabet so a tampered index cannot point outside the folder
_ID_RE = recovery.ID_RE
MAX_ZIP_ENTRIES = 20_000
MAX_PNG_PIXELS = 4096 * 4096
DIGIT_DATASETS = ("mnist", "mnist-subset")


def personal_dir() -> Path:
    """Where the personal set lives by default: the user's data folder, not the repo."""
    return user_data_dir() / "personal"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_sample_id() -> str:
    """Sortable by time, unique by a random suffix: ``20250101-120000-a1b2c3``."""
    return f"{_dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_label(label: Any) -> int:
    """A digit 0-9 (int, numpy int or a string like ``"7"``), else :class:`ConfigError`."""
    if isinstance(label, str):
        text = label.strip()
        if not text.isdigit():
            raise ConfigError("label", f"{label!r} is not a digit 0-9")
        label = int(text)
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise ConfigError("label", f"{label!r} is not a digit 0-9")
    if not 0 <= int(label) < NUM_CLASSES:
        raise ConfigError("label", f"{int(label)} is not a digit 0-9")
    return int(label)


@dataclass(frozen=True)
class Sample:
    """One labelled drawing; ``predicted`` is what the model read when it was saved (or None)."""

    id: str
    label: int
    source: str = "example"
    created: str = ""
    predicted: int | None = None

    def row(self) -> dict[str, str]:
        return {"id": self.id, "label": str(self.label), "source": self.source, "created": self.created,
                "predicted": "" if self.predicted is None else str(self.predicted)}

    def meta(self) -> dict[str, Any]:
        """What the PNG itself records, so the set can be rebuilt without the index."""
        return {"label": self.label, "source": self.source, "created": self.created, "predicted": self.predicted}


@dataclass
class Split:
    """A seeded, stratified split of the personal set into training and held-out ids."""

    train_ids: list[str]
    held_out_ids: list[str]

    @classmethod
    def of(cls, personal: "PersonalDataset", train_ids: Sequence[str], held_out_ids: Sequence[str]) -> "Split":
        """A split fixed earlier (when a run started), keeping only drawings that still exist."""
        present = set(personal.ids())
        return cls([i for i in train_ids if i in present], [i for i in held_out_ids if i in present])


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


def _check_model_input(array: Any, where: str) -> np.ndarray:
    """A finite (28, 28) array in [0, 1] with ink, as float32; otherwise ImageError naming ``where``."""
    arr = np.asarray(array)
    if arr.shape != (28, 28) or arr.dtype.kind not in "fiu":
        raise ImageError(f"{where}: model input must be a 28x28 number array, got {arr.shape} {arr.dtype}")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
        raise ImageError(f"{where}: model input must hold finite values in [0, 1]")
    if not arr.any():
        raise ImageError(f"{where}: model input is blank")
    return arr


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


class PersonalDataset:
    """The person's labelled drawings on disk; see the module docstring for the layout.

    Not thread-safe: the GUI thread owns one instance, and the worker thread
    loads its own copy from disk by path when it needs the arrays.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else personal_dir()
        self.samples: list[Sample] = []
        self.problems: list[str] = []  # what load() had to leave out or rebuild, for the person to see
        self.damage: list[str] = []  # what is wrong on disk and worth a repair (see .recovery)
        self.fixes: list[str] = []  # small things the next write tidies (a byte-order mark, a dropped row)
        self.blocked: str | None = None  # why writes wait for repair(); None = writable
        self.unlabelled: list[str] = []  # drawings on disk whose label cannot be read
        self._inputs: dict[str, np.ndarray] = {}
        self._rebuild_inputs: set[str] = set()
        self._stray_inputs: list[str] = []
        self._known_count = 0  # drawings known to be in the index on disk: no Add may write fewer

    # ------------------------------------------------------------------ files
    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    def drawing_path(self, sample_id: str) -> Path:
        return self.root / SAMPLES_DIR / f"{sample_id}.png"

    def input_path(self, sample_id: str) -> Path:
        return self.root / SAMPLES_DIR / f"{sample_id}.npy"

    @classmethod
    def load(cls, root: str | Path | None = None) -> "PersonalDataset":
        """Read the set from disk without writing anything (see :mod:`.recovery`).

        A missing folder or index is an empty set. A damaged index is read as far
        as it goes and checked against the sample files: ``needs_repair`` then
        says so, :meth:`repair` fixes it, and ``blocked`` (read-only) is set
        when the repair needs the person's say.
        """
        ds = cls(root)
        recovery.scan(ds)
        return ds

    @property
    def needs_repair(self) -> bool:
        """Something on disk is out of step with the set (damaged index, files to rebuild)."""
        return bool(self.damage or self.blocked or self.fixes or self._rebuild_inputs or self._stray_inputs)

    def repair(self) -> str:
        """Fix what :meth:`load` found (nothing is deleted); return a summary for the person."""
        return recovery.repair(self)

    def _check_writable(self) -> None:
        if self.blocked:
            raise DatasetError(f"Your drawings are open read-only: {self.blocked}")
        if self.needs_repair:
            recovery.repair(self)  # self-healing: the files are the truth, nothing is lost

    @staticmethod
    def _sample_from_row(row: Mapping[str, Any]) -> Sample:
        sample_id = str(row.get("id") or "").strip()
        if not _ID_RE.match(sample_id):
            raise DatasetError(f"bad id {sample_id[:40]!r}")
        label = check_label(row.get("label") or "")
        source = str(row.get("source") or "example").strip()
        predicted_text = str(row.get("predicted") or "").strip()
        predicted = check_label(predicted_text) if predicted_text else None
        created = str(row.get("created") or "").strip()[:40]
        return Sample(sample_id, label, source if source in SOURCES else "example", created, predicted)

    def _read_input(self, sample_id: str) -> np.ndarray:
        path = self.input_path(sample_id)
        array = read_npy(path)
        try:
            return _check_model_input(array, path.name)
        except ImageError as err:
            raise DatasetError(str(err)) from None

    def save(self, *, allow_shrink: bool = False) -> None:
        """Write the index atomically, keeping the previous one as ``labels.csv.bak``.

        Refuses to list fewer drawings than the index on disk holds unless
        ``allow_shrink`` (a delete or a repair): an Add never shrinks the set.
        """
        if self.blocked:
            raise DatasetError(f"Your drawings are open read-only: {self.blocked}")
        if not allow_shrink and len(self.samples) < self._known_count:
            raise DatasetError(f"refusing to write an index of {len(self.samples)} drawings over one of "
                               f"{self._known_count} in {self.index_path}; reopen the drawings and try again")
        data = encode_rows(INDEX_FIELDS, (sample.row() for sample in self.samples))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_index(self.index_path, data)
        except OSError as err:
            raise DatasetError(f"could not save your personal set index {self.index_path}: {err.strerror or err}. "
                               "Check that the folder is writable; the previous index is unchanged.") from None
        self._known_count = len(self.samples)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.samples)

    def __contains__(self, sample_id: object) -> bool:
        return any(s.id == sample_id for s in self.samples)

    def ids(self) -> list[str]:
        return [s.id for s in self.samples]

    def get(self, sample_id: str) -> Sample:
        for sample in self.samples:
            if sample.id == sample_id:
                return sample
        raise KeyError(sample_id)

    def model_input(self, sample_id: str) -> np.ndarray:
        """The (28, 28) float32 input the model reads for this sample."""
        if sample_id not in self._inputs:
            self.get(sample_id)  # KeyError for unknown ids
            self._inputs[sample_id] = self._read_input(sample_id)
        return self._inputs[sample_id]

    def drawing(self, sample_id: str) -> np.ndarray:
        """The raw drawing as grey float32 (H, W) in [0, 1] (to put back on the canvas)."""
        return load_image(self.drawing_path(sample_id))

    def arrays(self, ids: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Inputs (N, 28, 28) float32 and labels (N,) int32 for ``ids`` (default: all, in order)."""
        chosen = self.samples if ids is None else [self.get(i) for i in ids]
        if not chosen:
            return np.zeros((0, 28, 28), np.float32), np.zeros((0,), np.int32)
        x = np.stack([self.model_input(s.id) for s in chosen])
        return x, np.array([s.label for s in chosen], np.int32)

    def counts(self) -> np.ndarray:
        """Samples per digit, (10,) int."""
        return np.bincount([s.label for s in self.samples], minlength=NUM_CLASSES).astype(int)

    # ------------------------------------------------------------------ edits
    def add(self, drawing: np.ndarray, label: Any, *, source: str = "example", predicted: int | None = None,
            model_input: np.ndarray | None = None, sample_id: str | None = None, created: str | None = None) -> Sample:
        """Save a drawing and its model input under ``label``; return the new sample.

        ``drawing`` is the canvas picture (grey float in [0, 1] or uint8, white
        ink on black); ``model_input`` defaults to ``to_model_input(drawing)``.
        A blank drawing is an :class:`ImageError`.
        """
        self._check_writable()
        sample = self._write_sample(drawing, label, source=source, predicted=predicted, model_input=model_input,
                                    sample_id=sample_id, created=created)
        try:
            self.save()
        except DatasetError:
            self.samples.pop()
            self._inputs.pop(sample.id, None)
            for path in (self.drawing_path(sample.id), self.input_path(sample.id)):
                path.unlink(missing_ok=True)
            raise
        return sample

    def _write_sample(self, drawing: np.ndarray, label: Any, *, source: str, predicted: int | None,
                      model_input: np.ndarray | None, sample_id: str | None, created: str | None) -> Sample:
        """Write one sample's files (npy, then the PNG that commits it) and list it in memory."""
        label = check_label(label)
        predicted = None if predicted is None else check_label(predicted)
        if source not in SOURCES:
            raise ConfigError("source", f"{source!r} is not one of {', '.join(SOURCES)}")
        if model_input is None:
            model_input = to_model_input(np.asarray(drawing))
            if model_input is None:
                raise ImageError("the canvas is empty: draw a digit first")
        model_input = _check_model_input(model_input, "drawing")
        sample_id = sample_id or new_sample_id()
        while sample_id in self:
            sample_id = new_sample_id()
        if not _ID_RE.match(sample_id):
            raise ConfigError("id", f"{sample_id[:40]!r} may only use letters, digits, '-' and '_'")
        sample = Sample(sample_id, label, source, created or _now(), predicted)
        png = png_bytes(drawing, sample.meta())
        paths = (self.drawing_path(sample_id), self.input_path(sample_id))
        try:
            paths[0].parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(paths[1], npy_bytes(model_input))
            atomic_write_bytes(paths[0], png)  # the commit: from here on the drawing survives a crash
        except OSError as err:
            for path in paths:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            raise DatasetError(f"could not save the drawing in {paths[0].parent}: {err.strerror or err}. "
                               "Check that the folder is writable.") from None
        self.samples.append(sample)
        self._inputs[sample_id] = model_input
        return sample

    def relabel(self, sample_id: str, label: Any) -> Sample:
        """Give a sample another label (the drawing is unchanged)."""
        label = check_label(label)
        for i, sample in enumerate(self.samples):
            if sample.id == sample_id:
                self._check_writable()
                old = sample
                self.samples[i] = dataclasses.replace(sample, label=label)
                try:
                    self._rewrite_png(self.samples[i])
                    self.save()
                except DatasetError:
                    self.samples[i] = old
                    raise
                return self.samples[i]
        raise KeyError(sample_id)

    def _rewrite_png(self, sample: Sample) -> None:
        """Give the stored PNG the sample's current label (the PNG is the truth)."""
        try:
            picture, _meta = read_png(self.drawing_path(sample.id))
            atomic_write_bytes(self.drawing_path(sample.id), png_bytes(picture, sample.meta()))
        except OSError as err:
            raise DatasetError(f"could not relabel {self.drawing_path(sample.id)}: {err.strerror or err}. "
                               "Check that the folder is writable; the label is unchanged.") from None

    def delete(self, sample_ids: Iterable[str]) -> int:
        """Remove samples (drawing first, then its model input, then the index); return how many."""
        doomed = set(sample_ids)
        removed = [s.id for s in self.samples if s.id in doomed]
        if not removed:
            return 0
        self._check_writable()
        for sample_id in removed:
            try:
                self.drawing_path(sample_id).unlink(missing_ok=True)
            except OSError as err:
                raise DatasetError(f"could not delete {self.drawing_path(sample_id)}: {err.strerror or err}") from None
            with contextlib.suppress(OSError):
                self.input_path(sample_id).unlink(missing_ok=True)  # a stray .npy is swept by a repair
            self._inputs.pop(sample_id, None)
        self.samples = [s for s in self.samples if s.id not in doomed]
        self.save(allow_shrink=True)
        return len(removed)

    # ------------------------------------------------------------------ split
    def split(self, held_out: float = 0.3, seed: int = 0) -> Split:
        """Stratified, seeded split: about ``held_out`` of each digit's samples are held out.

        Each sample's side depends only on ``(seed, id)`` ranked within its
        digit, so adding a drawing moves at most one other sample across, and a
        model's metadata can say exactly which samples it trained on. A digit
        with one sample trains on it; every digit with two or more keeps at
        least one on each side.
        """
        if not isinstance(held_out, (int, float)) or not 0.0 <= held_out < 1.0:
            raise ConfigError("held_out", f"must be in [0, 1), got {held_out}")
        rank = lambda s: hashlib.sha256(f"{seed}:{s.id}".encode()).hexdigest()
        held: set[str] = set()
        for digit in range(NUM_CLASSES):
            group = sorted((s for s in self.samples if s.label == digit), key=rank)
            n = len(group)
            k = 0 if n < 2 or held_out <= 0 else min(n - 1, max(1, int(n * held_out + 0.5)))
            held.update(s.id for s in group[:k])
        return Split([s.id for s in self.samples if s.id not in held], [s.id for s in self.samples if s.id in held])

    # ------------------------------------------------------------------ zip
    def export_zip(self, path: str | Path) -> int:
        """Write every drawing as ``images/<id>.png`` plus ``labels.csv`` to a zip, atomically."""
        target = Path(path)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        try:
            with atomic_writer(target) as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for sample in self.samples:
                    name = f"images/{sample.id}.png"
                    zf.writestr(name, self.drawing_path(sample.id).read_bytes())
                    writer.writerow({**{k: v for k, v in sample.row().items() if k != "id"}, "file": name})
                zf.writestr(INDEX_NAME, buf.getvalue())
        except OSError as err:
            raise DatasetError(f"could not export your drawings to {target}: {err.strerror or err}. "
                               "Choose a folder you can write to; any earlier file there is unchanged.") from None
        return len(self.samples)

    def import_zip(self, path: str | Path) -> ImportReport:
        """Add the drawings of an exported zip; every entry is checked, bad ones are skipped.

        Entries are read by name from the archive -- nothing is extracted, so
        names like ``../x`` cannot write anywhere -- and sizes are checked before
        reading. Each PNG must decode and hold a digit; its model input is
        recomputed from the picture (nothing in the zip is trusted as an array,
        nothing is ever unpickled). Samples whose id is already in the set are
        counted as duplicates, so importing an export twice adds nothing.
        """
        source = Path(path)
        self._check_writable()
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
            too_big = lambda why: DatasetError(f"{source}: {why}")  # noqa: E731
            try:
                text = read_zip_entry(zf, index, MAX_INDEX_BYTES, too_big).decode("utf-8-sig")
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
                        self._import_row(zf, by_name, prefix, row, name, used, report)
                    except MnistDesktopError as err:
                        report.skipped.append((where, str(err).removeprefix(f"{name}: ")))
                    except KeyError as err:  # e.g. a zip entry listed twice in a corrupt archive
                        report.skipped.append((where, f"cannot be read ({err})"))
            except csv.Error as err:
                report.skipped.append((index.filename, f"the rest cannot be read as CSV ({err})"))
            finally:
                if report.added:  # one index write for the whole import; each PNG is already safe
                    self.save()
        return report

    def _import_row(self, zf: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo], prefix: str,
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
        if sample_id is not None and sample_id in self:
            report.duplicates += 1
            return
        try:
            data = read_zip_entry(zf, info, MAX_PNG_BYTES, lambda why: ImageError(f"{why}; over the "
                                                                                 f"{MAX_PNG_BYTES >> 20} MB limit"))
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
        sample = self._write_sample(drawing, label, source="import", predicted=predicted, model_input=model_input,
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
