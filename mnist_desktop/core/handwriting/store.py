"""Learn my handwriting, part 1: the person's own labelled drawings, kept on disk.

A model that reads MNIST at 99 % can still misread *one person's* digits every
time -- a European 1 with a long up-stroke is an MNIST 7. The person fixes that
here: drawings they label (or correct) are kept in a small handwriting set,
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
:meth:`HandwritingSet.repair` (:mod:`.recovery`). An Add never shrinks the set.

Fine-tuning on them lives in :mod:`.finetune`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from mnist_desktop.core.errors import ConfigError, DatasetError, ImageError, MnistDesktopError
from mnist_desktop.core.fileio import atomic_write_bytes
from mnist_desktop.core.handwriting import recovery
from mnist_desktop.core.handwriting.index_file import MAX_INDEX_BYTES, encode_rows, write_index  # noqa: F401 - archive reads it here
from mnist_desktop.core.handwriting.sample_files import npy_bytes, png_bytes, read_npy, read_png
from mnist_desktop.core.paths import user_data_dir
from mnist_desktop.core.data.preprocess import load_image, to_model_input

if TYPE_CHECKING:
    from mnist_desktop.core.handwriting.archive import ImportReport

NUM_CLASSES = 10
INDEX_NAME = "labels.csv"
SAMPLES_DIR = "samples"
INDEX_FIELDS = ("id", "label", "source", "created", "predicted")
SOURCES = ("example", "correction", "session", "import")
# ids become file names: keep them to a safe alphabet so a tampered index cannot point outside the folder
_ID_RE = recovery.ID_RE
DIGIT_DATASETS = ("mnist", "mnist-subset")


def handwriting_dir() -> Path:
    """Where the handwriting set lives by default: the user's data folder, not the repo."""
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
    """A seeded, stratified split of the handwriting set into training and held-out ids."""

    train_ids: list[str]
    held_out_ids: list[str]

    @classmethod
    def of(cls, handwriting: "HandwritingSet", train_ids: Sequence[str], held_out_ids: Sequence[str]) -> "Split":
        """A split fixed earlier (when a run started), keeping only drawings that still exist."""
        present = set(handwriting.ids())
        return cls([i for i in train_ids if i in present], [i for i in held_out_ids if i in present])


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


class HandwritingSet:
    """The person's labelled drawings on disk; see the module docstring for the layout.

    Not thread-safe: the GUI thread owns one instance, and the worker thread
    loads its own copy from disk by path when it needs the arrays.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else handwriting_dir()
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
    def load(cls, root: str | Path | None = None) -> "HandwritingSet":
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
            raise DatasetError(f"could not save your handwriting set index {self.index_path}: {err.strerror or err}. "
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

    # ------------------------------------------------------------------ zip (see .archive)
    def export_zip(self, path: str | Path) -> int:
        """Write every drawing and ``labels.csv`` to a zip (:func:`.archive.export_zip`)."""
        from mnist_desktop.core.handwriting.archive import export_zip

        return export_zip(self, path)

    def import_zip(self, path: str | Path) -> "ImportReport":
        """Add the drawings of an exported zip (:func:`.archive.import_zip`)."""
        from mnist_desktop.core.handwriting.archive import import_zip

        return import_zip(self, path)
