"""Safe checkpoints: a zip of ``.npy`` arrays plus ``metadata.json``. No pickle.

Why not pickle: a checkpoint is something people download and share, and
unpickling runs arbitrary code. Arrays are read with ``allow_pickle=False`` and
every entry is size-checked before it is read, so a hostile or corrupt file can
only produce a :class:`CheckpointError`, never code execution or a huge allocation.

Layout inside the zip::

    metadata.json                 format, model, dataset, class names, metrics, ...
    params/<module>/<name>.npy    one array per Haiku parameter
    doubt/<name>.npy              optional: OOD statistics (see core/models/doubt_stats.py)

A network built in the editor is named by its layer list ("conv:16:5:2,...") and
its metadata also holds ``architecture``, the same layers as JSON (optional:
checkpoints of the presets and of versions before specs have none). On load the
two must agree and pass the same checks as the editor's, before any array is read.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import os
import platform
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.core.errors import CheckpointError
from mnist_desktop.core.fileio import ZIP_READ_ERRORS, atomic_writer, sweep_stale_temps
from mnist_desktop.core.safe_io import PathProblem, check_regular_file, check_save_target, read_npy_bounded, read_zip_entry
from mnist_desktop.core.models.spec import SpecError, architecture_of, from_json, is_custom, validate_model_name
from mnist_desktop.core.data.preprocess import PREPROCESS_VERSION
from mnist_desktop.core.models.doubt_stats import DoubtStats, parse_doubt

FORMAT_NAME = "mnist-desktop-checkpoint"
FORMAT_VERSION = 1
MAX_METADATA_BYTES = 1 << 20  # 1 MiB of JSON is far more than any honest checkpoint needs
MAX_ARRAY_BYTES = 64 << 20  # the largest model (MLP) is ~1 MB
MAX_ENTRIES = 64
#: Trained weights stay far below this; larger finite values (3e38 was found in
#: the wild) overflow every logit to inf/NaN, so such a file is refused on load.
MAX_ABS_WEIGHT = 1e6

Params = dict[str, dict[str, np.ndarray]]
Shapes = dict[str, dict[str, tuple[tuple[int, ...], str]]]


class _NetworkShapes(Mapping[str, Shapes]):
    """``{architecture: expected parameter shapes}`` of every network in ``core.models.networks``.

    Lazy, because importing the networks imports JAX and Haiku (seconds): the
    window reads its first model with the NumPy forward's table instead
    (``numpy_forward.PARAM_SHAPES``) while JAX loads.
    """

    def __getitem__(self, name: str) -> Shapes:
        from mnist_desktop.core.models.networks import MODELS, param_shapes

        if name not in MODELS and not (is_custom(name) and _valid_model_name(name)):
            raise KeyError(name)
        return param_shapes(name)

    def __iter__(self) -> Iterator[str]:
        from mnist_desktop.core.models.networks import MODELS

        return iter(MODELS)

    def __len__(self) -> int:
        from mnist_desktop.core.models.networks import MODELS

        return len(MODELS)


def _valid_model_name(name: str) -> bool:
    try:
        validate_model_name(name)
    except SpecError:
        return False
    return True


NETWORK_SHAPES: Mapping[str, Shapes] = _NetworkShapes()


@dataclass
class Checkpoint:
    """A loaded model: what to build, its weights, and where it came from."""

    model_name: str
    params: Params
    metadata: dict[str, Any] = field(default_factory=dict)
    #: calibration + OOD statistics; None for models saved before they existed
    doubt: DoubtStats | None = None

    @property
    def class_names(self) -> list[str]:
        return class_names_for(self.metadata.get("class_names"))

    @property
    def dataset(self) -> str:
        return str(self.metadata.get("dataset", "mnist"))

    @property
    def test_accuracy(self) -> float | None:
        value = (self.metadata.get("metrics") or {}).get("test_accuracy")
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _versions() -> dict[str, str]:
    from importlib import metadata as md

    out = {"python": platform.python_version()}
    for dist in ("mnist-desktop", "jax", "jaxlib", "dm-haiku", "optax", "numpy"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def _json_safe(value: Any) -> Any:
    """Turn numpy scalars/arrays and tuples into JSON-friendly values."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_checkpoint(
    path: str | os.PathLike,
    model_name: str,
    params: Mapping[str, Mapping[str, Any]],
    metadata: Mapping[str, Any] | None = None,
    *,
    allow_special: bool = False,
    doubt: DoubtStats | None = None,
) -> Path:
    """Write ``params`` and ``metadata`` to ``path`` atomically; return the path.

    The previous file at ``path`` survives any failure (read-only folder, full
    disk, vanished directory): those raise :class:`CheckpointError` naming the path.
    The target is checked first (:func:`check_save_target`: no device, no
    read-only file, no symlink unless ``allow_special``), and temp files a
    killed earlier save left beside it are swept.
    """
    try:
        target = check_save_target(path, "model", allow_special=allow_special)
    except PathProblem as err:
        raise CheckpointError(f"could not save the model: {err}") from None
    sweep_stale_temps(target)
    meta = dict(_json_safe(metadata or {}))
    meta.update(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        model=model_name,
        preprocess_version=PREPROCESS_VERSION,
        created=meta.get("created") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        versions=_versions(),
    )
    meta.setdefault("class_names", [str(i) for i in range(10)])
    meta.setdefault("dataset", "mnist")
    if is_custom(model_name):
        meta["architecture"] = architecture_of(model_name)[0].to_json()
    else:
        meta.pop("architecture", None)
    meta.pop("doubt", None)
    if doubt is not None:
        meta["doubt"] = _json_safe(doubt.metadata())
    try:
        with atomic_writer(target) as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("metadata.json", json.dumps(meta, indent=2, sort_keys=True))
                for module, group in params.items():
                    for name, value in group.items():
                        buf = io.BytesIO()
                        np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
                        zf.writestr(f"params/{module}/{name}.npy", buf.getvalue())
                for name, value in (doubt.arrays() if doubt is not None else {}).items():
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, value, allow_pickle=False)
                    zf.writestr(f"doubt/{name}.npy", buf.getvalue())
    except OSError as err:
        raise CheckpointError(
            f"could not save the model to {target}: {err.strerror or err}. "
            "Choose a folder you can write to; any earlier file there is unchanged."
        ) from err
    return target


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a usable mnist-desktop model: {what}")


def _read_metadata(path: Path, zf: zipfile.ZipFile, architectures: Mapping[str, Shapes]) -> dict[str, Any]:
    try:
        info = zf.getinfo("metadata.json")
    except KeyError:
        raise _fail(path, "it has no metadata.json (was it saved by mnist-desktop?)") from None
    raw = read_zip_entry(zf, info, MAX_METADATA_BYTES, lambda why: _fail(path, why))
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise _fail(path, f"metadata.json is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise _fail(path, "metadata.json must hold a JSON object")
    if meta.get("format") != FORMAT_NAME:
        raise _fail(path, f"metadata 'format' is {str(meta.get('format'))[:60]!r}, expected {FORMAT_NAME!r}")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail(path, f"'format_version' must be a whole number, got {type(version).__name__} "
                          f"{json.dumps(version)[:20]}; the file was not written by mnist-desktop or was edited")
    if version > FORMAT_VERSION:
        raise _fail(path, f"format_version {version} is not supported: it is newer than this app reads ({FORMAT_VERSION}); update mnist-desktop")
    if version < 1:
        raise _fail(path, f"format_version {version} is not a valid version (versions start at 1)")
    prep = meta.get("preprocess_version", PREPROCESS_VERSION)
    if isinstance(prep, bool) or not isinstance(prep, int) or prep < 1:
        raise _fail(path, f"'preprocess_version' must be a whole number ≥ 1, got {json.dumps(prep)[:20]}")
    if prep > PREPROCESS_VERSION:
        raise _fail(path, f"it expects image preprocessing version {prep}, this app has {PREPROCESS_VERSION}; "
                          "its answers would be wrong here: update mnist-desktop")
    model = meta.get("model")
    # a network named by its layers must carry them as JSON too; a preset must be one this reader knows
    known = isinstance(model, str) and ("architecture" in meta if is_custom(model) else model in architectures)
    if not known:
        raise _fail(path, f"unknown model architecture {str(model)[:60]!r} (known: {', '.join(architectures)})")
    if "architecture" in meta:
        _check_architecture(path, model, meta["architecture"])
    names = meta.get("class_names", [str(i) for i in range(10)])
    if not (isinstance(names, list) and len(names) == 10 and all(isinstance(n, str) and 0 < len(n) <= 64 for n in names)):
        raise _fail(path, "'class_names' must be a list of 10 short strings")
    if not isinstance(meta.get("dataset", "mnist"), str) or len(meta.get("dataset", "")) > 64:
        raise _fail(path, "'dataset' must be a short string")
    for key in ("metrics", "hyperparameters"):
        if key in meta and not isinstance(meta[key], dict):
            raise _fail(path, f"{key!r} must be a JSON object")
    return meta


def _check_architecture(path: Path, model: str, spec: object) -> None:
    """The optional ``architecture`` field: a valid spec whose layers are the ``model`` name's."""
    try:
        arch = from_json(spec)
        validate_model_name(model)
    except SpecError as err:
        raise _fail(path, f"its 'architecture' is refused: {err}") from None
    if architecture_of(model)[0] != arch:
        raise _fail(path, f"its 'architecture' ({arch.to_compact()[:80]!r}) does not match its 'model' ({model[:80]!r})")


def _read_array(path: Path, zf: zipfile.ZipFile, entry: str, shape: tuple[int, ...], dtype: str,
                model: str) -> np.ndarray:
    """One parameter: streamed with a running size limit, header checked before the payload."""
    info = zf.getinfo(entry)
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    limit = min(MAX_ARRAY_BYTES, expected_bytes + 4096)  # the header is < 4 KiB
    data = read_zip_entry(zf, info, limit, lambda why: _fail(path, why))
    where = entry.removeprefix("params/").removesuffix(".npy")
    return read_npy_bounded(
        data, lambda why: _fail(path, f"{where} {why} (the {model!r} architecture needs {shape} {dtype})"),
        shape=shape, dtype=dtype, max_bytes=limit)


def load_checkpoint(path: str | os.PathLike, architectures: Mapping[str, Shapes] = NETWORK_SHAPES) -> Checkpoint:
    """Read and validate a checkpoint; anything wrong raises :class:`CheckpointError`.

    Validation: the metadata names a known architecture, and every parameter the
    architecture needs is present with the exact shape and dtype, finite, with no
    extra or missing entries. ``architectures`` says which are known and what
    they need (default: the Haiku networks).
    """
    try:
        src = check_regular_file(path, "model file")
    except PathProblem as err:
        raise CheckpointError(str(err)) from None
    try:
        zf = zipfile.ZipFile(src)
    except FileNotFoundError:
        raise CheckpointError(f"model file not found: {src}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{src} is a folder, not a model file") from None
    except ZIP_READ_ERRORS as err:
        raise _fail(src, f"it is not a checkpoint archive ({err})") from None
    with zf:
        try:
            if len(zf.infolist()) > MAX_ENTRIES:
                raise _fail(src, f"it has {len(zf.infolist())} entries (limit {MAX_ENTRIES})")
            meta = _read_metadata(src, zf, architectures)
            expected = architectures.get(meta["model"])
            if expected is None:
                raise _fail(src, f"this reader does not know the {meta['model'][:60]!r} architecture")
            params: Params = {}
            entries = {n for n in zf.namelist() if n.startswith("params/")}
            wanted = {f"params/{m}/{p}.npy" for m, group in expected.items() for p in group}
            if entries != wanted:
                missing, extra = sorted(wanted - entries), sorted(entries - wanted)
                detail = "; ".join(
                    part for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"unexpected {', '.join(e[:80] for e in extra[:5])}" if extra else "",
                    ) if part
                )
                raise _fail(src, f"its parameters do not match the {meta['model']!r} architecture ({detail})")
            for module, group in expected.items():
                for name, (shape, dtype) in group.items():
                    entry = f"params/{module}/{name}.npy"
                    arr = _read_array(src, zf, entry, shape, dtype, meta["model"])
                    if not np.all(np.isfinite(arr)):
                        raise _fail(src, f"{module}/{name} contains NaN or infinite values")
                    biggest = float(np.max(np.abs(arr))) if arr.size else 0.0
                    if biggest > MAX_ABS_WEIGHT:
                        raise _fail(src, f"{module}/{name} holds a weight of {biggest:.3g}, far beyond any trained "
                                         f"model (limit {MAX_ABS_WEIGHT:g}); its outputs would overflow to NaN")
                    params.setdefault(module, {})[name] = arr
            doubt = _read_doubt(src, zf, meta)
        except ZIP_READ_ERRORS as err:
            raise _fail(src, f"the archive is damaged ({err})") from None
    return Checkpoint(meta["model"], params, meta, doubt)


def _read_doubt(path: Path, zf: zipfile.ZipFile, meta: dict[str, Any]) -> DoubtStats | None:
    """The optional doubt section, validated; None when the model predates it."""
    entries = [n for n in zf.namelist() if n.startswith("doubt/")]
    if "doubt" not in meta:
        if entries:
            raise _fail(path, "it has doubt/ arrays but no 'doubt' metadata")
        return None
    from mnist_desktop.core.models.doubt_stats import array_shapes, feature_width, ink_clusters_of

    dim = feature_width(meta["model"])  # from shapes alone: no JAX before the window's first answer
    shapes = array_shapes(dim, ink_clusters_of(meta["doubt"], lambda what: _fail(path, what)))
    expected = {f"doubt/{name}.npy": name for name in shapes}
    if set(entries) != set(expected):
        missing, extra = sorted(set(expected) - set(entries)), sorted(set(entries) - set(expected))
        raise _fail(path, f"doubt arrays do not match (missing {', '.join(missing) or 'none'}; "
                          f"unexpected {', '.join(e[:40] for e in extra[:5]) or 'none'})")
    arrays = {name: _read_array(path, zf, entry, shapes[name], "float32", meta["model"])
              for entry, name in expected.items()}
    return parse_doubt(meta["doubt"], arrays, dim, lambda what: _fail(path, what))
