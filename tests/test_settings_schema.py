"""Saved settings are validated on read; a bad value is dropped with a log line (issue 14, defect 7)."""

from __future__ import annotations

import os
import time

import pytest

from gui_helpers import open_main_window
from mnist_desktop.core.settings_schema import validate
from mnist_desktop.gui import settings_access

DEEP = "[" * 10_000 + "]" * 10_000  # json.loads would raise RecursionError on this


@pytest.mark.parametrize("key, raw, reason", [
    ("canvas/brush", "inf", "finite"),
    ("canvas/brush", "1e300", "outside"),
    ("canvas/brush", "nan", "finite"),
    ("canvas/brush", "thick", "not a number"),
    ("canvas/grid", "maybe", "true or false"),
    ("training/config", DEEP, "nested deeper"),
    ("training/config", '{"lr": ' * 50 + "1" + "}" * 50, "nested deeper"),
    ("training/config", "[1, 2]", "not a JSON object"),
    ("training/config", "x" * 100_000, "limit"),
    ("model/last", "/dev/zero", "not a regular file"),
    ("model/last", "/nonexistent/model.ckpt", "cannot be used"),
    ("window/geometry", "a string", "window data"),
    ("dirs/model", "/nonexistent/folder", "not an existing folder"),
], ids=lambda v: str(v)[:24])
def test_bad_values_are_refused_with_a_reason(key, raw, reason):
    value, why = validate(key, raw)
    assert value is None and reason in why


def test_fifo_as_model_is_refused(tmp_path):
    fifo = tmp_path / "model.ckpt"
    os.mkfifo(fifo)
    assert "not a regular file" in validate("model/last", str(fifo))[1]


def test_good_values_pass():
    assert validate("canvas/brush", "36") == (36.0, None)
    assert validate("canvas/grid", "true") == (True, None)
    assert validate("training/config", '{"model": "cnn", "epochs": 2}') == ({"model": "cnn", "epochs": 2}, None)
    assert validate("unknown/key", object())[1] is None  # other versions' keys are left alone


@pytest.mark.gui
def test_window_starts_with_hostile_settings_and_closes_at_once(qtbot, monkeypatch, tmp_path):
    fifo = tmp_path / "last.ckpt"
    os.mkfifo(fifo)
    hostile = {"canvas/brush": "inf", "canvas/grid": "maybe", "training/config": DEEP,
               "model/last": str(fifo), "window/geometry": "junk", "dirs/model": "/no/such/folder"}
    lines: list[str] = []  # what the app logs, whatever logging set-up earlier tests left behind
    monkeypatch.setattr(settings_access.log, "warning", lambda msg, *args: lines.append(msg % args))
    window = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training",), settings=hostile,
                              bundled=False)  # waits until a model is active: the FIFO did not hang it
    assert window.session.model is not None and window.session.model.path != str(fifo)
    assert window.brush_slider.minimum() <= window.brush_slider.value() <= window.brush_slider.maximum()
    dropped = " ".join(lines)
    for key in ("canvas/brush", "training/config", "model/last", "window/geometry"):
        assert f"dropped {key}" in dropped, dropped
    assert window.settings.value("canvas/brush") is None  # removed: it cannot fail again next launch
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 5 and not window.worker_thread.isRunning()


@pytest.mark.gui
def test_dev_zero_as_last_model_falls_back_to_the_bundled_one(qtbot, monkeypatch, tmp_path):
    window = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training",),
                              settings={"model/last": "/dev/zero"}, bundled=False)
    assert window.session.model is not None and "loading" not in window.model_label.text()
    window.close()
