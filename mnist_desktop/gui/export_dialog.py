"""File → Export Model…: the active model as ONNX or safetensors, checked, with a clear answer.

The export runs on the worker thread (it reads the weights and, for ONNX, runs
the file in onnxruntime beside the JAX model on 100 test digits) as a job whose
handle answers, so the GUI thread never touches JAX. The file type
follows the filter chosen; a missing optional package is said in one sentence
before any dialog or work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

FILTERS = {"onnx": "ONNX model — graph and weights (*.onnx)", "safetensors": "Weights only — safetensors (*.safetensors)"}


def describe_report(report: dict[str, Any]) -> str:
    """The sentence(s) shown when an export finished."""
    if "error" in report:
        return f"The model was not exported: {report['error']}"
    size = report["bytes"] / 1024
    text = (f"Exported {report['model']} as {report['format']} to {report['path']} ({size:,.0f} KB, "
            f"{report['write_seconds'] * 1000:.0f} ms).")
    if report.get("max_abs_difference") is not None:
        text += (f"\n\nChecked in onnxruntime on {report['checked_images']} test digits: the same prediction for "
                 f"{report['same_predictions']} of them; the largest logit difference from the app is "
                 f"{report['max_abs_difference']:.1e}.")
    elif report.get("check_skipped"):
        text += f"\n\nNot checked: {report['check_skipped']}."
    if report["format"] == "onnx":
        text += "\n\nInput 'image': N×28×28×1 float32 in [0, 1] (white ink on black); output 'logits': N×10."
    return text


class ModelExporter(QObject):
    """Owns the Export action; ``finished(report)`` fires when the worker has written (or refused) a file."""

    finished = Signal(dict)

    def __init__(self, parent: QWidget, session: Any):
        super().__init__(parent)
        self._parent, self._session = parent, session
        self.worker: Any = None
        self.box: QMessageBox | None = None
        self.action = QAction("&Export Model…", parent)
        self.action.setStatusTip("Write the active model as ONNX (for other programs) or its weights as safetensors")
        self.action.triggered.connect(self.open_dialog)
        self.action.setEnabled(False)
        session.modelChanged.connect(lambda model: self.action.setEnabled(model is not None and model.params is not None))

    def attach_worker(self, worker: Any) -> None:
        self.worker = worker

    def open_dialog(self) -> None:
        active = self._session.model
        if active is None or active.params is None or self.worker is None:
            return
        settings = QSettings()
        folder = Path(str(settings.value("dirs/export", str(Path.home()))))
        suggested = folder / f"{Path(active.name).stem or 'model'}.onnx"
        path, chosen = QFileDialog.getSaveFileName(self._parent, "Export model", str(suggested),
                                                   ";;".join(FILTERS.values()))
        if not path:
            return
        fmt = next((k for k, v in FILTERS.items() if v == chosen), "onnx")
        if Path(path).suffix.lower() != f".{fmt}":
            path += f".{fmt}"
        settings.setValue("dirs/export", str(Path(path).parent))
        self.export(path, fmt)

    def export(self, path: str, fmt: str) -> bool:
        """Start exporting the active model; False (with the reason shown) if it cannot start."""
        from mnist_desktop.core.models.export import ExportError, check_target, export_available, export_model

        active = self._session.model
        try:
            missing = export_available(fmt)
            if missing:
                raise ExportError(missing)
            check_target(path)
        except ExportError as err:
            self._show(QMessageBox.Icon.Warning, str(err))
            return False
        handle = self.worker.submit(export_model, fmt=fmt, path=path, class_names=list(active.class_names),
                                    dataset=str(active.dataset or "mnist"))
        handle.finished.connect(self._on_done)
        handle.failed.connect(lambda message: self._on_done({"error": message}))
        return True

    def _on_done(self, result: Any) -> None:
        report = dict(result)
        self._show(QMessageBox.Icon.Warning if "error" in report else QMessageBox.Icon.Information, describe_report(report))
        self.finished.emit(report)

    def _show(self, icon: QMessageBox.Icon, text: str) -> None:
        self.box = QMessageBox(icon, "Export model", text, QMessageBox.StandardButton.Ok, self._parent)
        self.box.setObjectName("export-message")
        self.box.open()
