"""Learn my handwriting: a personal set of labelled drawings, measured and fine-tuned on.

A model that reads MNIST at 99 % can still misread *one person's* digits every
time -- a European 1 with a long up-stroke is an MNIST 7. The person fixes that
here: drawings they label (or correct) are kept in a small personal dataset,
which is first of all a **test set** (how well does the active model read *me*?)
and then the training data for a short fine-tune.

On disk (``user_data_dir()/personal``; flat, so a person can look inside)::

    labels.csv          id,label,source,created,predicted   -- the index, written atomically
    samples/<id>.png    the raw drawing (canvas picture, 8-bit grey)
    samples/<id>.npy    its 28x28 float32 model input (read with allow_pickle=False)

The index is written last when adding and first when deleting, so a crash can
leave an unlisted file behind but never a listed sample without its files.

Fine-tuning mixes the personal training split (oversampled) with MNIST
*replay* so the model learns the person's style without forgetting MNIST. The
result is a weight-space blend of the original and the tuned weights
(Wortsman et al. 2022, "WiSE-FT"): keeping 75 % of the change loses nothing on
the person's drawings and cuts the MNIST cost by more than half (bundled model,
synthetic hand of tests/test_personal.py, three seeds: held-out 100 % at both
1.0 and 0.75; full MNIST test -0.19..-0.28 points at 1.0, -0.07..-0.10 at 0.75).
A forgetting check on MNIST training images that were not replayed then blends
further back if MNIST still slipped. The GUI runs the same code in two halves on
its worker thread (:func:`build_finetune_data` for the trainer,
:func:`finish_finetune_job` afterwards); :func:`finetune` runs both for tests
and scripts.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import hashlib
import io
import math
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from .errors import ConfigError, DatasetError, ImageError, MnistDesktopError
from .fileio import atomic_write_bytes, atomic_writer
from .paths import user_data_dir
from .preprocess import load_image, to_model_input

NUM_CLASSES = 10
INDEX_NAME = "labels.csv"
SAMPLES_DIR = "samples"
INDEX_FIELDS = ("id", "label", "source", "created", "predicted")
EXPORT_FIELDS = ("file", "label", "source", "created", "predicted")
SOURCES = ("example", "correction", "session", "import")
# ids become file names: keep them to a safe alphabet so a tampered index cannot point outside the folder
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_INDEX_BYTES = 16 << 20  # ~200,000 rows: far beyond any hand-drawn set
MAX_ZIP_ENTRIES = 20_000
MAX_PNG_BYTES = 8 << 20
MAX_PNG_PIXELS = 4096 * 4096
MAX_NPY_BYTES = 64 << 10  # a 28x28 float32 array is 3,264 bytes
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
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


def _png_bytes(drawing: np.ndarray) -> bytes:
    """Encode a grey drawing (float [0, 1] or uint8) as an 8-bit grey PNG."""
    arr = np.asarray(drawing)
    if arr.ndim != 2 or arr.size == 0:
        raise ImageError(f"a drawing must be a non-empty 2-D grey picture, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.asarray(arr, np.float64)
        if not np.isfinite(arr).all():
            raise ImageError("the drawing contains NaN or infinite pixels")
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, "PNG")
    return buf.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array, np.float32), allow_pickle=False)
    return buf.getvalue()


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
        self.problems: list[str] = []  # what load() had to leave out, for the person to see
        self._inputs: dict[str, np.ndarray] = {}

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
        """Read the index and every model input; bad rows/files are skipped into ``problems``.

        A missing folder or index is an empty set, not an error: the set starts empty.
        """
        ds = cls(root)
        path = ds.index_path
        if not path.exists():
            return ds
        try:
            if path.stat().st_size > MAX_INDEX_BYTES:
                raise DatasetError(f"{path} is larger than {MAX_INDEX_BYTES >> 20} MB; it is not a personal-set index")
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DatasetError(f"{path} is not UTF-8 text; restore it from an export or delete it to start again") from None
        except OSError as err:
            raise DatasetError(f"cannot read {path}: {err.strerror or err}") from None
        seen: set[str] = set()
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            try:
                sample = ds._sample_from_row(row)
                if sample.id in seen:
                    raise DatasetError(f"id {sample.id} is listed twice")
                model_input = ds._read_input(sample.id)
                if not ds.drawing_path(sample.id).is_file():
                    raise DatasetError(f"its drawing {ds.drawing_path(sample.id).name} is missing")
            except MnistDesktopError as err:
                ds.problems.append(f"{path.name} line {n}: {err}")
                continue
            seen.add(sample.id)
            ds.samples.append(sample)
            ds._inputs[sample.id] = model_input
        return ds

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
        try:
            if path.stat().st_size > MAX_NPY_BYTES:
                raise DatasetError(f"{path.name} is too large for a 28x28 model input")
            with path.open("rb") as handle:
                array = np.load(handle, allow_pickle=False)
        except FileNotFoundError:
            raise DatasetError(f"its model input {path.name} is missing") from None
        except (OSError, ValueError, EOFError) as err:
            raise DatasetError(f"{path.name} is not a valid .npy array ({err})") from None
        try:
            return _check_model_input(array, path.name)
        except ImageError as err:
            raise DatasetError(str(err)) from None

    def save(self) -> None:
        """Write the index atomically (the sample files are already on disk)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=INDEX_FIELDS, lineterminator="\n")
        writer.writeheader()
        for sample in self.samples:
            writer.writerow(sample.row())
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.index_path, buf.getvalue().encode("utf-8"))
        except OSError as err:
            raise DatasetError(f"could not save your personal set index {self.index_path}: {err.strerror or err}. "
                               "Check that the folder is writable; the previous index is unchanged.") from None

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
        label = check_label(label)
        predicted = None if predicted is None else check_label(predicted)
        if source not in SOURCES:
            raise ConfigError("source", f"{source!r} is not one of {', '.join(SOURCES)}")
        if model_input is None:
            model_input = to_model_input(np.asarray(drawing))
            if model_input is None:
                raise ImageError("the canvas is empty: draw a digit first")
        model_input = _check_model_input(model_input, "drawing")
        png = _png_bytes(drawing)
        sample_id = sample_id or new_sample_id()
        while sample_id in self:
            sample_id = new_sample_id()
        if not _ID_RE.match(sample_id):
            raise ConfigError("id", f"{sample_id[:40]!r} may only use letters, digits, '-' and '_'")
        sample = Sample(sample_id, label, source, created or _now(), predicted)
        paths = (self.drawing_path(sample_id), self.input_path(sample_id))
        try:
            paths[0].parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(paths[0], png)
            atomic_write_bytes(paths[1], _npy_bytes(model_input))
        except OSError as err:
            for path in paths:
                path.unlink(missing_ok=True)
            raise DatasetError(f"could not save the drawing in {paths[0].parent}: {err.strerror or err}. "
                               "Check that the folder is writable.") from None
        self.samples.append(sample)
        self._inputs[sample_id] = model_input
        try:
            self.save()
        except DatasetError:
            self.samples.pop()
            self._inputs.pop(sample_id, None)
            for path in paths:
                path.unlink(missing_ok=True)
            raise
        return sample

    def relabel(self, sample_id: str, label: Any) -> Sample:
        """Give a sample another label (the drawing is unchanged)."""
        label = check_label(label)
        for i, sample in enumerate(self.samples):
            if sample.id == sample_id:
                old = sample
                self.samples[i] = dataclasses.replace(sample, label=label)
                try:
                    self.save()
                except DatasetError:
                    self.samples[i] = old
                    raise
                return self.samples[i]
        raise KeyError(sample_id)

    def delete(self, sample_ids: Iterable[str]) -> int:
        """Remove samples (index first, then files); return how many were removed."""
        doomed = set(sample_ids)
        before = list(self.samples)
        self.samples = [s for s in self.samples if s.id not in doomed]
        removed = [s.id for s in before if s.id in doomed]
        if not removed:
            return 0
        try:
            self.save()
        except DatasetError:
            self.samples = before
            raise
        for sample_id in removed:
            self._inputs.pop(sample_id, None)
            for path in (self.drawing_path(sample_id), self.input_path(sample_id)):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass  # an orphan file is harmless: the index no longer lists it
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
        try:
            zf = zipfile.ZipFile(source)
        except FileNotFoundError:
            raise DatasetError(f"{source}: no such file") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
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
            if index.file_size > MAX_INDEX_BYTES:
                raise DatasetError(f"{source}: {index.filename} is too large ({index.file_size:,} bytes)")
            try:
                text = zf.read(index).decode("utf-8-sig")
            except (UnicodeDecodeError, zipfile.BadZipFile, OSError, ValueError) as err:
                raise DatasetError(f"{source}: {index.filename} cannot be read as UTF-8 text ({err})") from None
            prefix = index.filename[: -len(INDEX_NAME)]
            reader = csv.DictReader(io.StringIO(text))
            if not reader.fieldnames or "file" not in reader.fieldnames or "label" not in reader.fieldnames:
                raise DatasetError(f"{source}: {index.filename} needs the columns 'file' and 'label'")
            used: set[str] = set()
            for n, row in enumerate(reader, start=2):
                name = str(row.get("file") or "").strip()
                where = name or f"{INDEX_NAME} line {n}"
                try:
                    self._import_row(zf, by_name, prefix, row, name, used, report)
                except MnistDesktopError as err:
                    report.skipped.append((where, str(err).removeprefix(f"{name}: ")))
                except KeyError as err:  # e.g. a zip entry listed twice in a corrupt archive
                    report.skipped.append((where, f"cannot be read ({err})"))
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
        if info.file_size > MAX_PNG_BYTES:
            raise ImageError(f"{info.file_size:,} bytes is more than the {MAX_PNG_BYTES >> 20} MB limit")
        stem = Path(name).stem
        sample_id = stem if _ID_RE.match(stem) else None
        if sample_id is not None and sample_id in self:
            report.duplicates += 1
            return
        try:
            data = zf.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:
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
        sample = self.add(drawing, label, source="import", predicted=predicted, model_input=model_input,
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


# =========================================================================== fine-tuning


@dataclass
class FinetuneOptions:
    """How to fine-tune on the personal set; ``validate`` names any bad field.

    Defaults: about a third of every batch is the person's drawings, the rest
    MNIST replay; three short epochs at a low learning rate with augmentation and
    the bundled model's label smoothing. With 100 drawings this is ~200 steps,
    5-10 s on a 2-core CPU.
    """

    held_out: float = 0.3  # fraction of each digit's drawings kept aside to measure
    seed: int = 0
    replay: int = 3000  # MNIST training images mixed in, so MNIST is not forgotten
    guard: int = 2000  # other MNIST training images, never trained on: the forgetting check
    personal_share: float = 1 / 3  # target fraction of personal drawings in the training mix
    epochs: float = 3.0
    learning_rate: float = 1e-3
    batch_size: int = 64
    augment: bool = True
    label_smoothing: float = 0.1  # as the bundled model was trained: a different loss would shift it
    blend: float = 0.75  # share of the weight change kept (WiSE-FT); less if the forgetting check asks
    max_mnist_drop: float = 0.003  # 0.3 percentage points

    def validate(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(name, why)

        if not isinstance(self.held_out, (int, float)) or not 0.0 <= self.held_out <= 0.8:
            raise bad("held_out", f"must be between 0 and 0.8, got {self.held_out}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**31:
            raise bad("seed", f"must be a whole number in [0, 2³¹), got {self.seed}")
        for name in ("replay", "guard"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 100_000:
                raise bad(name, f"must be a whole number from 0 to 100,000, got {value}")
        if not isinstance(self.personal_share, (int, float)) or not 0.05 <= self.personal_share <= 1.0:
            raise bad("personal_share", f"must be between 0.05 and 1, got {self.personal_share}")
        if not isinstance(self.blend, (int, float)) or not 0.0 < self.blend <= 1.0:
            raise bad("blend", f"must be more than 0 and at most 1, got {self.blend}")
        if not isinstance(self.max_mnist_drop, (int, float)) or not 0.0 <= self.max_mnist_drop <= 1.0:
            raise bad("max_mnist_drop", f"must be between 0 and 1, got {self.max_mnist_drop}")
        # epochs, learning rate and batch size are checked by TrainConfig.validate

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "FinetuneOptions":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


def replay_dataset_name(data_dir: str | None = None) -> str:
    """Full MNIST when it is on disk, otherwise the bundled subset: fine-tuning never downloads."""
    from .datasets import dataset_status

    return "mnist" if dataset_status("mnist", data_dir).startswith("found") else "mnist-subset"


def finetune_config(model_name: str, dataset_name: str, options: FinetuneOptions | None = None, **overrides: Any):
    """The :class:`~.training.TrainConfig` of a fine-tune run (shared by GUI and tests)."""
    from .training import TrainConfig

    opts = options or FinetuneOptions()
    config = TrainConfig(model=model_name, dataset=dataset_name, optimizer="adam", learning_rate=opts.learning_rate,
                         batch_size=opts.batch_size, epochs=opts.epochs, validation_split=0.0, seed=opts.seed,
                         schedule="cosine", augment=opts.augment, label_smoothing=opts.label_smoothing, log_every=5)
    return dataclasses.replace(config, **overrides)


def _mnist_partition(n_train: int, options: FinetuneOptions) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (guard, replay) index sets into the MNIST training images, seeded.

    Small datasets (the bundled subset) are shared out so both stay non-empty.
    """
    order = np.random.default_rng(options.seed).permutation(n_train)
    guard = min(options.guard, n_train // 3)
    replay = min(options.replay, n_train - guard)
    return np.sort(order[:guard]), np.sort(order[guard:guard + replay])


def _check_digit_dataset(dataset: Any) -> None:
    names = tuple(getattr(dataset, "class_names", ()))
    if getattr(dataset, "name", "") not in DIGIT_DATASETS or names != tuple(str(i) for i in range(NUM_CLASSES)):
        raise DatasetError(
            f"fine-tuning on your handwriting needs a digit model and MNIST for replay, not "
            f"{getattr(dataset, 'title', getattr(dataset, 'name', '?'))}; open an MNIST model first")


def finetune_data(personal: PersonalDataset, dataset: Any, options: FinetuneOptions | None = None,
                  split: Split | None = None):
    """The trainer's data: personal train split oversampled + MNIST replay; val = personal held-out; test = MNIST test.

    Oversampling (repeating the person's drawings) gives them about
    ``personal_share`` of every batch; augmentation in the trainer makes each
    repeat a slightly different drawing. ``split`` defaults to ``personal.split``.
    """
    from .datasets import to_model_array
    from .training import TrainData

    opts = options or FinetuneOptions()
    opts.validate()
    _check_digit_dataset(dataset)
    split = split or personal.split(opts.held_out, opts.seed)
    if len(split.train_ids) < 1:
        raise DatasetError("your personal set has no drawings to train on yet: add a few (Add as example / Correct it)")
    px, py = personal.arrays(split.train_ids)
    hx, hy = personal.arrays(split.held_out_ids)
    _, replay_idx = _mnist_partition(len(dataset.train_labels), opts)
    n_replay = len(replay_idx)
    share = float(opts.personal_share)
    copies = 1 if share >= 1.0 or n_replay == 0 else max(1, round(share / (1.0 - share) * n_replay / len(px)))
    replay_x = to_model_array(dataset.train_images[replay_idx]) if n_replay else np.zeros((0, 28, 28, 1), np.float32)
    train_x = np.concatenate([np.tile(px[..., None], (copies, 1, 1, 1)), replay_x])
    train_y = np.concatenate([np.tile(py, copies), np.asarray(dataset.train_labels[replay_idx], np.int32)])
    return TrainData(
        train_x=train_x.astype(np.float32), train_y=train_y.astype(np.int32),
        test_x=to_model_array(dataset.test_images), test_y=np.asarray(dataset.test_labels, np.int32),
        val_x=hx[..., None].astype(np.float32), val_y=hy,
        class_names=tuple(dataset.class_names), dataset=dataset.name,
    )


def build_finetune_data(dataset: Any, config: Any, extra: Mapping[str, Any]):
    """The worker's builder hook: ``extra`` carries ``personal_dir`` and :class:`FinetuneOptions` fields.

    Called by ``Worker._build_data`` as ``{"builder": "mnist_desktop.core.personal:build_finetune_data", ...}``.
    The trainer's seed wins over ``extra["seed"]`` so the split matches the run. With
    ``train_ids``/``held_out_ids`` (the split the GUI fixed when it started the run)
    drawings added while the data loads cannot slip into either side.
    """
    options = FinetuneOptions.from_dict({**dict(extra), "seed": int(getattr(config, "seed", extra.get("seed", 0)))})
    personal = PersonalDataset.load(extra.get("personal_dir") or None)
    split = Split.of(personal, extra["train_ids"], extra["held_out_ids"]) if "train_ids" in extra else None
    return finetune_data(personal, dataset, options, split)


@dataclass
class FinetuneReport:
    """Before/after numbers of a fine-tune: the person's held-out drawings and MNIST test."""

    personal_before: float | None
    personal_after: float | None
    mnist_before: float
    mnist_after: float
    mnist_dataset: str
    mnist_count: int
    n_train: int
    n_held_out: int
    blend: float  # 1.0 = the tuned weights; less = blended back towards the original to protect MNIST
    guard_before: float | None = None
    guard_after: float | None = None
    confusion_before: np.ndarray | None = None  # on the held-out drawings, rows = true digit
    confusion_after: np.ndarray | None = None
    train_ids: list[str] = field(default_factory=list)
    held_out_ids: list[str] = field(default_factory=list)
    status: str = "completed"

    @property
    def mnist_drop(self) -> float:
        """Accuracy lost on MNIST test (positive = worse), as a fraction."""
        return self.mnist_before - self.mnist_after

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("confusion_before", "confusion_after"):
            out[key] = None if out[key] is None else np.asarray(out[key]).tolist()
        out["mnist_drop"] = self.mnist_drop
        return out

    def summary(self) -> str:
        def pct(v: float | None) -> str:
            return "–" if v is None else f"{v:.1%}"

        lines = [f"your held-out drawings ({self.n_held_out}): {pct(self.personal_before)} → {pct(self.personal_after)}",
                 f"{self.mnist_dataset} test ({self.mnist_count:,}): {self.mnist_before:.2%} → {self.mnist_after:.2%}"]
        lines.append(f"kept {self.blend:.0%} of the weight change (the rest is the original model)")
        return "\n".join(lines)


def _blend(base: Any, tuned: Any, alpha: float) -> Any:
    import jax

    return jax.tree_util.tree_map(lambda a, b: np.asarray((1.0 - alpha) * np.asarray(a) + alpha * np.asarray(b), np.asarray(a).dtype), base, tuned)


GUARD_MARGIN = 0.5
BLEND_STEP = 0.125


def blend_steps(start: float) -> list[float]:
    """``start``, then smaller shares of the change down to 0 (the original model)."""
    steps = [float(start)]
    while steps[-1] > 1e-9:
        steps.append(max(0.0, round(steps[-1] - BLEND_STEP, 6)))
    return steps


def finish_finetune(model_name: str, base_params: Any, tuned_params: Any, personal: PersonalDataset, dataset: Any,
                    options: FinetuneOptions | None = None, status: str = "completed",
                    split: Split | None = None) -> tuple[Any, FinetuneReport]:
    """Check for forgetting, blend back if needed, and measure before/after.

    Starts from ``options.blend`` of the weight change and steps back towards
    the original until the forgetting check passes. The check uses MNIST
    *training* images that were not replayed (the guard slice), so the MNIST
    test numbers in the report stay an honest, untouched measurement; it aims
    for half the allowed drop because the guard is a sample too.
    """
    from .datasets import to_model_array
    from .evaluation import evaluate

    opts = options or FinetuneOptions()
    split = split or personal.split(opts.held_out, opts.seed)
    guard_idx, _ = _mnist_partition(len(dataset.train_labels), opts)
    alpha, guard_before, guard_after = opts.blend, None, None
    final = tuned_params if alpha == 1.0 else _blend(base_params, tuned_params, alpha)
    if len(guard_idx):
        gx = to_model_array(dataset.train_images[guard_idx])
        gy = np.asarray(dataset.train_labels[guard_idx], np.int32)
        guard_before = evaluate(model_name, base_params, gx, gy).accuracy
        # aim for half the allowed drop: the guard is a sample too, and the test set
        # (a different sample) must stay within the full allowance
        target = opts.max_mnist_drop * GUARD_MARGIN
        for alpha in blend_steps(opts.blend):
            final = tuned_params if alpha == 1.0 else _blend(base_params, tuned_params, alpha)
            guard_after = evaluate(model_name, final, gx, gy).accuracy
            if guard_before - guard_after <= target + 1e-12:
                break
    hx, hy = personal.arrays(split.held_out_ids)
    before = evaluate(model_name, base_params, hx[..., None], hy) if len(hy) else None
    after = evaluate(model_name, final, hx[..., None], hy) if len(hy) else None
    tx, ty = to_model_array(dataset.test_images), np.asarray(dataset.test_labels, np.int32)
    mnist_before = evaluate(model_name, base_params, tx, ty).accuracy
    mnist_after = evaluate(model_name, final, tx, ty).accuracy
    report = FinetuneReport(
        personal_before=None if before is None else before.accuracy,
        personal_after=None if after is None else after.accuracy,
        mnist_before=mnist_before, mnist_after=mnist_after, mnist_dataset=dataset.name, mnist_count=len(ty),
        n_train=len(split.train_ids), n_held_out=len(split.held_out_ids), blend=alpha,
        guard_before=guard_before, guard_after=guard_after,
        confusion_before=None if before is None else before.confusion,
        confusion_after=None if after is None else after.confusion,
        train_ids=list(split.train_ids), held_out_ids=list(split.held_out_ids), status=status,
    )
    import jax

    return jax.device_get(final), report


def finetune(params: Any, model_name: str, personal: PersonalDataset, mnist_dataset: Any,
             options: FinetuneOptions | None = None, *, on_event: Callable[[Any], None] | None = None,
             trainer_ready: Callable[[Any], None] | None = None) -> tuple[Any, FinetuneReport]:
    """Fine-tune ``params`` on the personal set with MNIST replay; return (new params, report).

    Pure in the sense that matters: nothing is saved and ``params`` is not
    modified. ``on_event`` sees every trainer event (for a progress display);
    ``trainer_ready`` gets the :class:`~.training.Trainer` (to cancel it).
    """
    from .training import DoneEvent, Trainer

    opts = options or FinetuneOptions()
    config = finetune_config(model_name, mnist_dataset.name, opts)
    split = personal.split(opts.held_out, opts.seed)
    trainer = Trainer(config, finetune_data(personal, mnist_dataset, opts, split), initial_params=params)
    if trainer_ready is not None:
        trainer_ready(trainer)
    done = None
    for event in trainer.run():
        if on_event is not None:
            on_event(event)
        if isinstance(event, DoneEvent):
            done = event
    assert done is not None
    if done.status == "diverged":
        raise MnistDesktopError(f"fine-tuning failed: {done.message}; your model is unchanged")
    return finish_finetune(model_name, params, done.params, personal, mnist_dataset, opts, status=done.status, split=split)


# =========================================================================== GUI worker jobs
# Run on the worker thread via ``Worker.jobRequested``: called as ``job(active_model_name,
# active_params, **kwargs)``; they return plain dicts (numpy arrays allowed).


def measure_job(active_model: str | None, active_params: Any, *, personal_dir: str | None = None,
                exclude_ids: Sequence[str] = (), model_name: str | None = None, params: Any = None,
                mnist: str | None = None) -> dict[str, Any]:
    """Accuracy and confusion of a model on the personal set (all samples but ``exclude_ids``).

    ``exclude_ids`` are the drawings a fine-tuned model trained on: measuring on
    them would flatter it. With ``mnist`` (a dataset name) the MNIST test
    accuracy is measured too, for the side-by-side number.
    """
    from .evaluation import evaluate

    model_name = model_name or active_model
    params = active_params if params is None else params
    if model_name is None or params is None:
        raise MnistDesktopError("no model is loaded yet")
    personal = PersonalDataset.load(personal_dir)
    excluded = set(exclude_ids)
    ids = [i for i in personal.ids() if i not in excluded]
    x, y = personal.arrays(ids)
    out: dict[str, Any] = {"ids": ids, "labels": y, "count": len(ids), "excluded": len(personal) - len(ids),
                           "model_name": model_name, "problems": list(personal.problems)}
    if len(ids):
        result = evaluate(model_name, params, x[..., None], y)
        out.update(accuracy=result.accuracy, confusion=result.confusion, per_class=result.per_class_accuracy,
                   predictions=result.predictions, confidence=result.probabilities.max(axis=1),
                   correct=int((result.predictions == y).sum()))
    else:
        out.update(accuracy=None, confusion=np.zeros((NUM_CLASSES, NUM_CLASSES), int), per_class=np.full(NUM_CLASSES, np.nan),
                   predictions=np.zeros(0, int), confidence=np.zeros(0, np.float32), correct=0)
    if mnist:
        from .data_prep import train_data_from
        from .datasets import load_dataset

        data = train_data_from(load_dataset(mnist))
        out["mnist_accuracy"] = evaluate(model_name, params, data.test_x, data.test_y).accuracy
        out["mnist_dataset"] = mnist
        out["mnist_count"] = len(data.test_y)
    return out


def finetuned_model_path(base_name: str, models_dir: str | Path | None = None) -> Path:
    """``<models>/<base>-personal-<stamp>.ckpt``: never the bundled or any existing file."""
    folder = Path(models_dir) if models_dir else user_data_dir() / "models"
    base = re.sub(r"-personal-\d{8}-\d{6}(-\d+)?$", "", base_name or "model") or "model"
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", base)[:60]
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    path = folder / f"{base}-personal-{stamp}.ckpt"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{base}-personal-{stamp}-{n}.ckpt"
    return path


def save_finetuned(path: str | Path, model_name: str, params: Any, base_info: Mapping[str, Any],
                   report: FinetuneReport, options: FinetuneOptions, config: Mapping[str, Any] | None = None) -> Path:
    """Save the tuned model with metadata saying where it came from and what it trained on."""
    from .checkpoints import save_checkpoint

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(f"cannot create {target.parent}: {err.strerror or err}") from None
    base_meta = dict(base_info.get("metadata") or {})
    for key in ("created", "versions", "format", "format_version", "model", "preprocess_version"):
        base_meta.pop(key, None)
    summary = {k: v for k, v in report.to_dict().items() if not k.startswith("confusion")}
    meta = {
        **base_meta,
        "dataset": base_info.get("dataset", "mnist"),
        "class_names": list(base_info.get("class_names") or [str(i) for i in range(NUM_CLASSES)]),
        "finetuned_from": str(base_info.get("path") or base_info.get("name") or ""),
        "hyperparameters": dict(config or {}),
        "metrics": {"test_accuracy": report.mnist_after, "test_dataset": report.mnist_dataset,
                    "personal_held_out_accuracy": report.personal_after},
        "personal_finetune": {**summary, "options": options.to_dict()},
        "status": report.status,
    }
    return save_checkpoint(target, model_name, params, meta)


def finish_finetune_job(active_model: str | None, active_params: Any, *, model_name: str, base_params: Any,
                        tuned_params: Any, personal_dir: str | None, dataset: str, options: Mapping[str, Any],
                        base_info: Mapping[str, Any], config: Mapping[str, Any] | None = None,
                        models_dir: str | None = None, status: str = "completed",
                        train_ids: Sequence[str] | None = None, held_out_ids: Sequence[str] = ()) -> dict[str, Any]:
    """After the worker's fine-tune run: guard + blend, before/after report, save as a new model."""
    from .datasets import load_dataset

    opts = FinetuneOptions.from_dict(options)
    personal = PersonalDataset.load(personal_dir)
    split = None if train_ids is None else Split.of(personal, train_ids, held_out_ids)
    mnist = load_dataset(dataset)
    final, report = finish_finetune(model_name, base_params, tuned_params, personal, mnist, opts, status=status, split=split)
    path = save_finetuned(finetuned_model_path(str(base_info.get("name") or model_name), models_dir),
                          model_name, final, base_info, report, opts, config)
    return {"report": report, "path": str(path), "params": final, "model_name": model_name}


def trained_on_ids(metadata: Mapping[str, Any] | None) -> list[str]:
    """The personal drawings a fine-tuned model trained on (from its checkpoint metadata)."""
    info = (metadata or {}).get("personal_finetune") or {}
    ids = info.get("train_ids") if isinstance(info, Mapping) else None
    return [str(i) for i in ids] if isinstance(ids, list) else []


def accuracy_text(value: float | None) -> str:
    """``0.9734`` → ``97.3%``; ``None``/NaN → ``–``."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"
