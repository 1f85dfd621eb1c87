"""The main window: canvas, what the model sees, prediction; docks for the rest.

The window only renders and forwards intent. All JAX work happens in the
:class:`~.worker.Worker` on its own thread; this module does not import JAX, so
the window appears before JAX has even been imported.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QTabBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop import __version__
from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.paths import bundled_model_path, user_data_dir
from mnist_desktop.core.analysis.verdict import is_too_small
from mnist_desktop.core.data.preprocess import is_dark_on_light, load_image, to_model_input
from mnist_desktop.gui.canvas import DrawingCanvas
from mnist_desktop.gui.digit_views import ModelInputView, PredictionView, label_smoothing_note

PREDICT_THROTTLE_MS = 15  # at most ~60 predictions/s while drawing; the worker keeps only the newest
MODEL_FILTER = "mnist-desktop models (*.ckpt *.npz *.zip);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;All files (*)"


class MainWindow(QMainWindow):
    """Draw a digit, see it read; train and inspect through the docks."""

    activeModelChanged = Signal(dict)  # forwarded from the worker, for panels

    def __init__(self, initial_model: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("MNIST Desktop")
        self.settings = QSettings()
        self._initial_model = initial_model
        self.worker: Any = None
        self.thread: QThread | None = None
        self.active: dict[str, Any] = {}
        self.model_input: np.ndarray | None = None
        self._closing = False

        self.canvas = DrawingCanvas()
        self.input_view = ModelInputView()
        self.prediction_view = PredictionView()
        self._throttle = QTimer(self, singleShot=True, interval=PREDICT_THROTTLE_MS)
        self._throttle.timeout.connect(self._update_prediction)
        self.canvas.changed.connect(self._schedule_prediction)
        self.canvas.strokeFinished.connect(self._update_prediction)

        self._build_central()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self.docks: dict[str, QDockWidget] = {}
        from mnist_desktop.gui.docks import create_docks

        create_docks(self)
        self._restore_settings()
        self.restore_dock_state()

    # ------------------------------------------------------------------ layout
    def _build_central(self) -> None:
        brush = QSlider(Qt.Orientation.Horizontal)
        brush.setRange(8, 80)
        brush.setValue(int(self.canvas.brush_width()))
        brush.setToolTip("Brush width")
        brush.valueChanged.connect(lambda v: self.canvas.set_brush_width(float(v)))
        self.brush_slider = brush
        brush_row = QHBoxLayout()
        brush_row.addWidget(QLabel("Brush"))
        brush_row.addWidget(brush, 1)
        hint = QLabel("Left button draws · right button erases · Esc clears · Ctrl+Z undoes")
        hint.setObjectName("hint")
        hint.setStyleSheet("color: palette(placeholder-text);")

        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addLayout(brush_row)
        left.addWidget(hint)

        right = QVBoxLayout()
        right.addWidget(self.input_view)
        right.addWidget(self.prediction_view, 1)

        central = QWidget()
        row = QHBoxLayout(central)
        row.addLayout(left, 3)
        row.addLayout(right, 2)
        self.setCentralWidget(central)

    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut: QKeySequence | str | None = None, tip: str = "") -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip)
            act.triggered.connect(slot)
            return act

        self.open_model_action = action("&Open Model…", self.open_model_dialog, QKeySequence.StandardKey.Open, "Load a saved model")
        self.save_model_action = action("&Save Model…", self.save_model_dialog, QKeySequence.StandardKey.Save, "Save the active model to a file")
        self.default_model_action = action("Use &Default Model", self.load_default_model, None, "Go back to the bundled model")
        self.load_image_action = action("Load &Image…", self.load_image_dialog, "Ctrl+I", "Put a picture on the canvas")
        self.save_drawing_action = action("Save &Drawing…", self.save_drawing_dialog, "Ctrl+Shift+S", "Save the canvas as PNG")
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit, "Quit MNIST Desktop")
        self.about_action = action("&About MNIST Desktop", self.show_about)
        for act in (self.canvas.undo_action, self.canvas.redo_action, self.canvas.clear_action,
                    self.canvas.eraser_action, self.canvas.grid_action):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(act)
        self.save_model_action.setEnabled(False)

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for act in (self.open_model_action, self.save_model_action, self.default_model_action, None,
                    self.load_image_action, self.save_drawing_action, None, self.quit_action):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        edit_menu = bar.addMenu("&Edit")
        for act in (self.canvas.undo_action, self.canvas.redo_action, self.canvas.clear_action, None, self.canvas.eraser_action):
            edit_menu.addSeparator() if act is None else edit_menu.addAction(act)
        self.view_menu = bar.addMenu("&View")
        self.view_menu.addAction(self.canvas.grid_action)
        self.view_menu.addSeparator()
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

        tools = QToolBar("Main toolbar")
        tools.setObjectName("main-toolbar")
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (self.open_model_action, self.save_model_action, None, self.canvas.undo_action,
                    self.canvas.redo_action, self.canvas.clear_action, self.canvas.eraser_action, self.canvas.grid_action):
            tools.addSeparator() if act is None else tools.addAction(act)
        self.addToolBar(tools)
        self.toolbar = tools

    def _build_status_bar(self) -> None:
        self.model_label = QLabel("loading model…")
        self.device_label = QLabel("")
        status = self.statusBar()
        status.addWidget(self.model_label, 1)
        status.addPermanentWidget(self.device_label)

    def add_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Add a panel as a dock with a View-menu toggle; its state is remembered."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        self.docks[key] = dock
        return dock

    # ------------------------------------------------------------------ worker
    def start_worker_soon(self) -> None:
        """Start JAX after the window is on screen (next event-loop turn)."""
        QTimer.singleShot(0, self.start_worker)

    def start_worker(self) -> None:
        if self.worker is not None:
            return
        from mnist_desktop.core.jax_setup import configure_jax, device_description
        from mnist_desktop.gui.worker import Worker

        configure_jax()
        self.thread = QThread(self)
        self.thread.setObjectName("jax-worker")
        self.worker = Worker()
        self.worker.moveToThread(self.thread)
        self.thread.finished.connect(self.worker.deleteLater)
        w = self.worker
        w.modelChanged.connect(self._on_model_changed)
        w.modelFailed.connect(self._on_model_failed)
        w.prediction.connect(self._on_prediction)
        w.verdict.connect(self._on_verdict)
        w.error.connect(self._on_worker_error)
        w.busy.connect(self._on_busy)
        self.thread.start()
        self.device_label.setText(f"Device: {device_description()}")
        self.workerStarted()
        self.load_model(str(self._initial_model or self.settings.value("model/last", "") or bundled_model_path()))

    def workerStarted(self) -> None:
        """Hook for panels that connect to the worker (they attach after it exists)."""
        for dock in self.docks.values():
            attach = getattr(dock.widget(), "attach_worker", None)
            if attach:
                attach(self.worker)

    def load_model(self, path: str) -> None:
        self.model_label.setText(f"loading model {Path(path).name}…")
        self.worker.loadRequested.emit(path)

    def load_default_model(self) -> None:
        self.load_model(str(bundled_model_path()))

    def _on_model_changed(self, info: dict) -> None:
        self.active = info
        names = list(info.get("class_names") or [str(i) for i in range(10)])
        self.prediction_view.set_class_names(names)
        hyper = (info.get("metadata") or {}).get("hyperparameters") or {}
        smoothing = hyper.get("label_smoothing")
        doubt = info.get("doubt")
        if doubt is not None:  # the bars show calibrated probabilities: smoothing no longer caps them
            self.prediction_view.set_note(
                f"Confidence calibrated on held-out digits (temperature {doubt.temperature:.2f}): "
                "70% means right about 7 times in 10.")
        else:
            self.prediction_view.set_note(
                label_smoothing_note(float(smoothing), len(names)) if isinstance(smoothing, (int, float)) else "")
        acc = info.get("test_accuracy")
        acc_text = f" · test accuracy {acc:.2%}" if isinstance(acc, float) and math.isfinite(acc) else ""
        self.model_label.setText(f"Model: {info.get('name', '?')} ({info.get('title', info.get('model_name'))}, "
                                 f"{info.get('param_count', 0):,} parameters, {info.get('dataset', '?')}){acc_text}")
        self.save_model_action.setEnabled(True)
        path = info.get("path")
        if path and Path(path).resolve() != bundled_model_path().resolve():
            self.settings.setValue("model/last", path)
        elif path:
            self.settings.remove("model/last")
        self.activeModelChanged.emit(info)
        self._update_prediction()

    def _on_model_failed(self, path: str, message: str) -> None:
        if self.active:
            self._on_model_changed(self.active)  # restore the status line
        else:
            self.model_label.setText("no model loaded — File → Open Model… or train one")
        if self.settings.value("model/last", "") == path:
            self.settings.remove("model/last")  # don't fail again on next launch
            if not self.active and Path(path).resolve() != bundled_model_path().resolve():
                self.load_default_model()
        if not self._closing:
            QMessageBox.warning(self, "Could not open model", f"{message}\n\nThe current model stays active.")

    def _on_worker_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _on_busy(self, what: str) -> None:
        if what:
            self.statusBar().showMessage(what)
        else:
            self.statusBar().clearMessage()

    # ------------------------------------------------------------------ prediction
    def _schedule_prediction(self) -> None:
        if not self._throttle.isActive():
            self._throttle.start()

    def _update_prediction(self) -> None:
        self._throttle.stop()
        if self._closing:  # the worker is (being) shut down
            return
        self.model_input = to_model_input(self.canvas.to_bytes()) if not self.canvas.is_empty() else None
        self.input_view.set_image(self.model_input)
        if self.model_input is None:
            self.prediction_view.set_probabilities(None)
            self.canvas.set_overlay(None)
        if self.worker is not None:
            small = self.model_input is not None and is_too_small(self.canvas.to_bytes())
            self.worker.request_prediction(self.model_input, small)

    def _on_verdict(self, verdict: Any) -> None:
        self.prediction_view.set_verdict(None if self.model_input is None else verdict)

    def _on_prediction(self, probabilities: Any, analysis: Any) -> None:
        if self.model_input is None:
            self.prediction_view.set_probabilities(None)
            return
        self.prediction_view.set_probabilities(probabilities)

    # ------------------------------------------------------------------ files
    def _dialog_dir(self, key: str, fallback: Path) -> str:
        return str(self.settings.value(f"dirs/{key}", str(fallback)))

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self._dialog_dir("model", user_data_dir() / "models"), MODEL_FILTER)
        if path:
            self.settings.setValue("dirs/model", str(Path(path).parent))
            self.load_model(path)

    def save_model_dialog(self) -> None:
        if not self.active.get("params"):
            return
        suggested = Path(self._dialog_dir("model", user_data_dir() / "models")) / f"{self.active.get('name', 'model')}.ckpt"
        path, _ = QFileDialog.getSaveFileName(self, "Save model", str(suggested), MODEL_FILTER)
        if path:
            self.save_model(path)

    def save_model(self, path: str) -> bool:
        """Save the active model; errors are shown and the old file stays intact."""
        from mnist_desktop.core.models.checkpoints import save_checkpoint

        meta = dict(self.active.get("metadata") or {})
        meta.update(dataset=self.active.get("dataset", "mnist"), class_names=self.active.get("class_names"))
        try:
            save_checkpoint(path, self.active["model_name"], self.active["params"], meta, doubt=self.active.get("doubt"))
        except MnistDesktopError as err:
            QMessageBox.warning(self, "Could not save model", str(err))
            return False
        self.settings.setValue("dirs/model", str(Path(path).parent))
        self.statusBar().showMessage(f"Saved model to {path}", 5000)
        return True

    def load_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load image", self._dialog_dir("image", Path.home()), IMAGE_FILTER)
        if path:
            self.settings.setValue("dirs/image", str(Path(path).parent))
            self.load_image_file(path)

    def load_image_file(self, path: str) -> bool:
        try:
            image = load_image(path)
        except MnistDesktopError as err:
            QMessageBox.warning(self, "Could not load image", str(err))
            return False
        self.load_picture(image)
        return True

    def load_picture(self, image: np.ndarray) -> None:
        """Put a grey picture (any polarity) on the canvas as white ink on black."""
        pic = np.asarray(image, np.float32)
        normalised = to_model_input(pic)
        if normalised is None:
            self.canvas.clear()
            return
        # the canvas stores white ink; flip dark-on-light pictures as preprocessing does
        self.canvas.load_image(1.0 - pic if is_dark_on_light(pic) else pic)

    def save_drawing_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save drawing", str(Path(self._dialog_dir("image", Path.home())) / "digit.png"), "PNG image (*.png)")
        if path:
            try:
                self.canvas.save_png(path)
            except OSError as err:
                QMessageBox.warning(self, "Could not save drawing", f"{path}: {err.strerror or err}")

    def show_about(self) -> None:
        import platform

        from PySide6 import __version__ as pyside_version

        versions = [f"mnist-desktop {__version__}", f"Python {platform.python_version()}", f"PySide6 {pyside_version}"]
        try:
            import haiku
            import jax
            import optax

            versions += [f"JAX {jax.__version__}", f"dm-haiku {haiku.__version__}", f"Optax {optax.__version__}"]
        except ImportError:
            pass
        QMessageBox.about(self, "About MNIST Desktop",
                          "<h3>MNIST Desktop</h3><p>Draw a digit and watch a JAX model read it; train models "
                          "and look inside them.</p><p>" + "<br>".join(versions) + "</p>")

    # ------------------------------------------------------------------ settings / close
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 720)
        width = self.settings.value("canvas/brush", None)
        if width is not None:
            try:
                self.brush_slider.setValue(int(float(width)))
            except (TypeError, ValueError):
                pass
        self.canvas.set_grid_visible(str(self.settings.value("canvas/grid", "false")).lower() == "true")
        self.canvas.grid_action.setChecked(self.canvas.is_grid_visible())

    def restore_dock_state(self) -> None:
        """Call after all docks are added."""
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.tabifiedDockWidgetActivated.connect(lambda _dock: self._unelide_dock_tabs())
        QTimer.singleShot(0, self._unelide_dock_tabs)

    def _unelide_dock_tabs(self) -> None:
        """Tabified docks get a tab bar that elides titles to "Tr…", "W…"; show whole
        titles and scroll arrows instead (Qt creates these bars lazily)."""
        for bar in self.findChildren(QTabBar):
            if bar.parent() is self:
                bar.setElideMode(Qt.TextElideMode.ElideNone)
                bar.setUsesScrollButtons(True)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closing = True
        self._throttle.stop()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("canvas/brush", self.canvas.brush_width())
        self.settings.setValue("canvas/grid", self.canvas.is_grid_visible())
        self.shutdown_worker()
        super().closeEvent(event)

    def shutdown_worker(self) -> None:
        """Stop any run and join the worker thread (no 'QThread destroyed while running')."""
        if self.worker is not None:
            self.worker.stop_training()
        if self.thread is not None and self.thread.isRunning():
            self.thread.quit()
            if not self.thread.wait(10_000):
                self.thread.terminate()
                self.thread.wait()
