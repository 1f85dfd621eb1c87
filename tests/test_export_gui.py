"""File → Export Model… in the window: the active model is written on the worker and checked."""

from __future__ import annotations

import pytest

from mnist_desktop.gui.export_dialog import FILTERS

pytestmark = pytest.mark.gui
pytest.importorskip("onnxruntime", reason="onnxruntime is in the [test] extra")


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    from gui_helpers import open_main_window

    return open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=())


def test_export_menu_writes_a_checked_onnx_file(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    exporter = window.exporter
    file_menu = window.menuBar().actions()[0].menu()
    assert exporter.action in file_menu.actions() and exporter.action.isEnabled()
    target = tmp_path / "digits"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), FILTERS["onnx"]))
    with qtbot.waitSignal(exporter.finished, timeout=60_000) as signal:
        exporter.action.trigger()  # File → Export Model…, a name typed without a suffix, ONNX chosen
    report = signal.args[0]
    assert report["path"] == str(target) + ".onnx" and (tmp_path / "digits.onnx").stat().st_size > 100_000
    assert report["max_abs_difference"] <= 1e-4 and report["same_predictions"] == 100
    text = exporter.box.text()
    assert "Checked in onnxruntime on 100 test digits: the same prediction for 100" in text


def test_export_refuses_with_a_sentence(qtbot, window, tmp_path, monkeypatch):
    from mnist_desktop.core.models import export

    exporter = window.exporter
    assert not exporter.export(str(tmp_path / "missing" / "m.onnx"), "onnx")
    assert "does not exist" in exporter.box.text()
    monkeypatch.setattr(export, "export_available", lambda fmt: export.MISSING_EXTRA)
    assert not exporter.export(str(tmp_path / "m.onnx"), "onnx")
    assert "pip install 'mnist-desktop[export]'" in exporter.box.text()
    assert not (tmp_path / "m.onnx").exists()
