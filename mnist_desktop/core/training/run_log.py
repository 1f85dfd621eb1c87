"""The run history kept across restarts: metrics of finished runs, as small JSON.

A person compares today's runs with yesterday's, so the runs table must survive
a restart. Only numbers are kept — settings, outcome, and the curves thinned to
at most :data:`MAX_CURVE_POINTS` points — never weights (those are saved as
models on request). The file is written atomically (``core/fileio``), holds at
most :data:`MAX_RUNS` runs (the oldest go first) and is refused above
:data:`MAX_FILE_BYTES` when read. A damaged or foreign file never stops the
app: :func:`load_run_log` moves it aside and starts an empty history, saying so.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

from mnist_desktop.core.fileio import atomic_write_bytes
from mnist_desktop.core.paths import user_data_dir

FORMAT_NAME = "mnist-desktop-runs"
FORMAT_VERSION = 1
MAX_RUNS = 200
MAX_CURVE_POINTS = 120
MAX_FILE_BYTES = 4 << 20  # 200 runs × (settings + 4 curves of 120 points) is ~1 MB

#: Numbers a run summary holds (besides its settings and curves).
SCALARS = ("number", "started_at", "steps", "steps_per_epoch", "total_steps", "best_val_accuracy",
           "test_accuracy", "test_loss", "train_seconds")
TEXTS = ("status", "message", "dataset", "dataset_title")
CURVE_GROUPS = (("train_x", "train_accuracy", "train_loss"), ("val_x", "val_accuracy", "val_loss"))
CURVES = tuple(key for group in CURVE_GROUPS for key in group)

CSV_COLUMNS = ("run", "started", "model", "dataset", "status", "best_val_accuracy", "test_accuracy",
               "test_loss", "train_seconds", "steps", "optimizer", "learning_rate", "batch_size", "epochs",
               "schedule", "weight_decay", "label_smoothing", "augment", "validation_split", "seed", "message")


def default_log_path() -> Path:
    return user_data_dir() / "runs.json"


def thin_indices(n: int, limit: int = MAX_CURVE_POINTS) -> list[int]:
    """At most ``limit`` evenly spaced indices into ``n`` points, first and last included."""
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _clean_config(config: Any) -> dict[str, Any]:
    """Settings as plain JSON scalars (anything else is dropped, not trusted)."""
    if not isinstance(config, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(key, str) and len(key) <= 64:
            if isinstance(value, (bool, str)) and len(str(value)) <= 200:
                out[key] = value
            elif _number(value) is not None:
                out[key] = value
    return out


def clean_summary(raw: Any) -> dict[str, Any] | None:
    """One run summary with only known, well-typed fields; None if it is not one."""
    if not isinstance(raw, dict) or _number(raw.get("number")) is None:
        return None
    out: dict[str, Any] = {"config": _clean_config(raw.get("config"))}
    for key in SCALARS:
        out[key] = _number(raw.get(key))
    out["number"] = int(out["number"])
    for key in TEXTS:
        value = raw.get(key)
        out[key] = value[:500] if isinstance(value, str) else ""
    for key in CURVES:
        values = raw.get(key)
        ok = isinstance(values, list) and all(_number(v) is not None for v in values)
        out[key] = [float(v) for v in values] if ok else []
    for group in CURVE_GROUPS:  # a curve's x and y lists pair up point for point
        n = min(len(out[key]) for key in group)
        for key in group:
            out[key] = out[key][:n]
    return out


def load_run_log(path: Path | None = None) -> tuple[list[dict[str, Any]], str]:
    """``(runs, warning)``: the saved runs, oldest first, and "" or what went wrong.

    A missing file is an empty history. A damaged one (not JSON, wrong format,
    too big) is renamed to ``runs.json.damaged`` so nothing is lost and the next
    save starts afresh; bad entries inside a good file are skipped.
    """
    target = path or default_log_path()
    try:
        size = target.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"it is {size:,} bytes (limit {MAX_FILE_BYTES:,})")
        data = json.loads(target.read_bytes().decode("utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ValueError("it is not an mnist-desktop run history")
        if not isinstance(data.get("format_version"), int) or data["format_version"] > FORMAT_VERSION:
            raise ValueError(f"format_version {str(data.get('format_version'))[:20]} is newer than this app reads")
        entries = data.get("runs")
        if not isinstance(entries, list):
            raise ValueError("'runs' is not a list")
    except FileNotFoundError:
        return [], ""
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as err:
        aside = target.with_name(target.name + ".damaged")
        try:
            os.replace(target, aside)
            kept = f"; the file was kept as {aside}"
        except OSError:
            kept = ""
        return [], f"the saved run history {target} could not be read ({err}){kept}. Starting an empty history."
    runs = [run for run in (clean_summary(entry) for entry in entries) if run is not None]
    skipped = len(entries) - len(runs)
    warning = f"{skipped} damaged entr{'y' if skipped == 1 else 'ies'} in {target} skipped" if skipped else ""
    return runs[-MAX_RUNS:], warning


def save_run_log(runs: Iterable[dict[str, Any]], path: Path | None = None) -> Path:
    """Write the newest :data:`MAX_RUNS` summaries atomically; raises OSError if it cannot."""
    target = path or default_log_path()
    kept = [run for run in (clean_summary(r) for r in runs) if run is not None][-MAX_RUNS:]
    for run in kept:
        for group in CURVE_GROUPS:
            picks = thin_indices(len(run[group[0]]))
            for key in group:
                run[key] = [run[key][i] for i in picks]
    payload = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "runs": kept}
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8"))
    return target


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def runs_to_csv(runs: Iterable[dict[str, Any]]) -> str:
    """One row per run (settings and outcome; no curves), for a spreadsheet or pandas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        config = run.get("config") or {}
        started = run.get("started_at")
        row = {
            "run": run.get("number"), "model": config.get("model", ""),
            "started": _dt.datetime.fromtimestamp(started).isoformat(sep=" ", timespec="seconds") if started else "",
            "dataset": config.get("dataset", run.get("dataset", "")), "status": run.get("status", ""),
            "best_val_accuracy": run.get("best_val_accuracy"), "test_accuracy": run.get("test_accuracy"),
            "test_loss": run.get("test_loss"), "train_seconds": run.get("train_seconds"), "steps": run.get("steps"),
            "message": run.get("message", ""),
        }
        for key in CSV_COLUMNS:
            if key not in row:
                row[key] = config.get(key)
        writer.writerow([_csv_value(row[key]) for key in CSV_COLUMNS])
    return buffer.getvalue()


def write_csv(runs: Iterable[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write :func:`runs_to_csv` atomically; raises OSError if it cannot."""
    target = Path(path)
    atomic_write_bytes(target, runs_to_csv(runs).encode("utf-8"))
    return target
