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
from PySide6.QtCore import QByteArray, QSettings, Qt, QThread, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
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
from mnist_desktop.core.data.preprocess import load_image
from mnist_desktop.core.models.describe import dataset_title, not_digit_note
from mnist_desktop.gui.settings_access import read_setting
from mnist_desktop.gui.canvas import DrawingCanvas
from mnist_desktop.gui.dock_sizes import DockWidthKeeper
from mnist_desktop.gui.digit_views import ModelInputView, PredictionView, label_smoothing_note
from mnist_desktop.core.formatting import format_fraction
from mnist_desktop.gui.model_session import ActiveModel, ModelSession
from mnist_desktop.gui.run_controller import RunController

RIGHT_COLUMN_MAX = 260  # px: "what the model sees" and the bars; more would only shrink the canvas
MODEL_FILTER = "mnist-desktop models (*.ckpt *.npz *.zip);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;All files (*)"


class MainWindow(QMainWindow):
    """Draw a digit, see it read; train and inspect through the docks.

    The window builds the :class:`~.model_session.ModelSession` (what reads the
    canvas and what it said) and the :class:`~.run_controller.RunController`
    (training runs) and hands them to the panels; panels never see the window.
    """

    def __init__(self, initial_model: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("MNIST Desktop")
        self.settings = QSettings()
        self._initial_model = initial_model
        self.worker: Any = None
        self.worker_thread: QThread | None = None
        self._jax_loader: QThread | None = None  # quick_start.JaxLoader: imports JAX off the GUI thread
        self.quit_guard: Any = None  # quit_prompt.QuitGuard, made with the worker
        self._quit_confirmed = False
        self.saved_runs: set[int] = set()  # runs whose model was saved to a file this session

        self.canvas = DrawingCanvas()
        self.input_view = ModelInputView()
        self.prediction_view = PredictionView()
        self.session = ModelSession(self.canvas, self)
        self.runs = RunController(self)
        session = self.session
        session.inputChanged.connect(self.input_view.set_image)
        session.inputOverlayChanged.connect(self.input_view.set_overlay)
        session.predicted.connect(lambda probabilities, _analysis: self.prediction_view.set_probabilities(probabilities))
        session.classNamesChanged.connect(self._show_class_names)
        session.modelChanged.connect(self._on_model_changed)
        session.modelLoading.connect(lambda path: self.model_label.setText(f"loading model {Path(path).name}…"))
        session.modelFailed.connect(self._on_model_failed)
        session.statusMessage.connect(self.statusBar().showMessage)

        self._build_central()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self.docks: dict[str, QDockWidget] = {}
        from mnist_desktop.gui.docks import create_docks

        create_docks(self)
        self._default_dock_state = self.saveState()  # View → Reset Layout goes back to this
        from mnist_desktop.gui.image_drop import CanvasDropTarget

        CanvasDropTarget(self.canvas, self.load_image_file)  # drop a picture file or image on the canvas
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

        # the answer column keeps a reading width; every other pixel goes to the canvas
        right_column = QWidget()
        right_column.setMaximumWidth(RIGHT_COLUMN_MAX)
        right = QVBoxLayout(right_column)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.input_view)
        right.addWidget(self.prediction_view, 1)

        central = QWidget()
        row = QHBoxLayout(central)
        row.addLayout(left, 1)
        row.addWidget(right_column, 0)
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
        self.paste_image_action = action("&Paste Image", self.paste_image, QKeySequence.StandardKey.Paste,
                                         "Put a copied picture or image file on the canvas")
        self.reset_layout_action = action("&Reset Layout", self.reset_layout, None, "Put every panel back where it started")
        self.shortcuts_action = action("&Keyboard Shortcuts…", self.show_shortcuts, "Ctrl+/", "Every shortcut, from the menus")
        for act in (self.canvas.undo_action, self.canvas.redo_action, self.canvas.clear_action,
                    self.canvas.eraser_action, self.canvas.grid_action):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(act)
        self.save_model_action.setEnabled(False)
        from mnist_desktop.gui.export_dialog import ModelExporter

        self.exporter = ModelExporter(self, self.session)

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for act in (self.open_model_action, self.save_model_action, self.exporter.action, self.default_model_action, None,
                    self.load_image_action, self.save_drawing_action, None, self.quit_action):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        edit_menu = bar.addMenu("&Edit")
        for act in (self.canvas.undo_action, self.canvas.redo_action, self.canvas.clear_action, None,
                    self.paste_image_action, None, self.canvas.eraser_action):
            edit_menu.addSeparator() if act is None else edit_menu.addAction(act)
        self.view_menu = bar.addMenu("&View")
        self.view_menu.addAction(self.canvas.grid_action)
        self.view_menu.addAction(self.reset_layout_action)
        self.view_menu.addSeparator()
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
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
        """Read the model with NumPy at once and load JAX on a thread; the worker starts after.

        The first strokes are answered by the NumPy preview (see gui/quick_start.py)
        while JAX imports, instead of waiting seconds for it. Both begin on the next
        event-loop turn, after the window has painted.
        """
        QTimer.singleShot(0, self._start_quickly)

    def _start_quickly(self) -> None:
        if self.session.closed or self._jax_loader is not None or self.worker is not None:
            return
        from mnist_desktop.gui.quick_start import JaxLoader, NumpyPreview

        preview = NumpyPreview.load(self._startup_model_path())
        if preview is not None:
            self.model_label.setText(f"Model: {preview.name} · starting JAX…")
            self.session.set_preview(preview)
        self._jax_loader = JaxLoader(self)
        self._jax_loader.finished.connect(self.start_worker)
        self._jax_loader.start()

    def _startup_model_path(self) -> str:
        return str(self._initial_model or read_setting(self.settings, "model/last", "") or bundled_model_path())

    def start_worker(self) -> None:
        if self.worker is not None or self.session.closed:
            return
        from mnist_desktop.core.jax_setup import configure_jax, device_description
        from mnist_desktop.gui.worker import Worker

        configure_jax()
        self.worker_thread = QThread(self)
        self.worker_thread.setObjectName("jax-worker")
        self.worker = Worker()
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.finished.connect(self.worker.deleteLater)
        w = self.worker
        w.error.connect(self._on_worker_error)
        w.busy.connect(self._on_busy)
        self.session.attach_worker(w)
        self.runs.attach_worker(w)
        from mnist_desktop.gui.quit_prompt import QuitGuard

        self.quit_guard = QuitGuard(self, session=self.session, runs=self.runs, listed_runs=self._listed_runs,
                                    saved_runs=self.saved_runs, save=self._save_before_quit, close=self._quit_now)
        self.worker_thread.start()
        self.device_label.setText(f"Device: {device_description()}")
        self._attach_panels()
        self.load_model(self._startup_model_path())

    def _attach_panels(self) -> None:
        """Panels that talk to the worker get it now (they were built before it existed)."""
        self.exporter.attach_worker(self.worker)
        for dock in self.docks.values():
            attach = getattr(dock.widget(), "attach_worker", None)
            if attach:
                attach(self.worker)

    def load_model(self, path: str) -> None:
        self.session.load_model(path)

    def load_default_model(self) -> None:
        self.load_model(str(bundled_model_path()))

    def _show_class_names(self, names: list) -> None:
        if self.prediction_view.class_names() != names:
            self.prediction_view.set_class_names(names)

    def _on_model_changed(self, model: ActiveModel) -> None:
        hyper = model.metadata.get("hyperparameters") or {}
        smoothing = hyper.get("label_smoothing")
        smoothing_note = (label_smoothing_note(float(smoothing), len(model.class_names))
                          if isinstance(smoothing, (int, float)) else "")
        foreign = not_digit_note(model.class_names, model.dataset)  # issue 14: say when it is not a digit model
        self.prediction_view.set_model_kind(f"{dataset_title(model.dataset)} model" if foreign else "")
        self.prediction_view.set_note(" ".join(t for t in (foreign[:1].upper() + foreign[1:], smoothing_note) if t))
        self._show_model_line(model)
        self.save_model_action.setEnabled(True)
        path = model.path
        if path and Path(path).resolve() != bundled_model_path().resolve():
            self.settings.setValue("model/last", path)
        elif path:
            self.settings.remove("model/last")

    def _show_model_line(self, model: ActiveModel) -> None:
        acc = model.test_accuracy
        acc_text = f" · test accuracy {format_fraction(acc, 2)}" if isinstance(acc, float) and math.isfinite(acc) else ""
        self.model_label.setText(f"Model: {model.name} ({model.title}, {model.param_count:,} parameters, "
                                 f"{model.dataset or '?'}){acc_text}")

    def _on_model_failed(self, path: str, message: str) -> None:
        active = self.session.model
        if active is not None:
            self._show_model_line(active)  # restore the status line
        else:
            self.model_label.setText("no model loaded — File → Open Model… or train one")
        if self.settings.value("model/last", "") == path:
            self.settings.remove("model/last")  # don't fail again on next launch
            if active is None and Path(path).resolve() != bundled_model_path().resolve():
                self.load_default_model()
        if not self.session.closed:
            QMessageBox.warning(self, "Could not open model", f"{message}\n\nThe current model stays active.")

    def _on_worker_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _on_busy(self, what: str) -> None:
        if what:
            self.statusBar().showMessage(what)
        else:
            self.statusBar().clearMessage()

    # ------------------------------------------------------------------ files
    def _dialog_dir(self, key: str, fallback: Path) -> str:
        return str(read_setting(self.settings, f"dirs/{key}", str(fallback)))

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self._dialog_dir("model", user_data_dir() / "models"), MODEL_FILTER)
        if path:
            self.settings.setValue("dirs/model", str(Path(path).parent))
            self.load_model(path)

    def save_model_dialog(self) -> None:
        model = self.session.model
        if model is None or model.params is None:
            return
        suggested = Path(self._dialog_dir("model", user_data_dir() / "models")) / f"{model.name}.ckpt"
        path, _ = QFileDialog.getSaveFileName(self, "Save model", str(suggested), MODEL_FILTER)
        if path:
            self.save_model(path)

    def save_model(self, path: str, model: ActiveModel | None = None) -> bool:
        """Save the active model (or ``model``: a run's); errors are shown and the old file stays intact."""
        from mnist_desktop.core.models.checkpoints import save_checkpoint

        active = model is None or model is self.session.model
        model = self.session.model if model is None else model
        if model is None:
            return False
        try:
            save_checkpoint(path, model.model_name, model.params, model.save_metadata())
        except MnistDesktopError as err:
            QMessageBox.warning(self, "Could not save model", str(err))
            return False
        if active:
            self.session.mark_saved(str(path))  # written: quitting loses nothing now
        if model.run_number is not None:
            self.saved_runs.add(model.run_number)
        self.settings.setValue("dirs/model", str(Path(path).parent))
        self.statusBar().showMessage(f"Saved model to {path}", 5000)
        return True

    def _save_before_quit(self, unsaved: Any) -> bool:
        """The quit prompt's Save: ask where, then write ``unsaved.model``."""
        suggested = Path(self._dialog_dir("model", user_data_dir() / "models")) / f"{unsaved.model.name}.ckpt"
        path, _ = QFileDialog.getSaveFileName(self, f"Save {unsaved.title}", str(suggested), MODEL_FILTER)
        return bool(path) and self.save_model(path, unsaved.model)

    def _listed_runs(self) -> list:
        history = getattr(self.docks["training"].widget(), "history", None) if "training" in self.docks else None
        return history.runs() if history is not None else []

    def _quit_now(self) -> None:
        self._quit_confirmed = True
        self.close()

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
        self.session.show_picture(image)

    def paste_image(self) -> None:
        """Edit → Paste Image (Ctrl+V): a copied picture, or a copied image file, onto the canvas."""
        from mnist_desktop.gui.image_drop import deliver, image_source

        if not deliver(image_source(QApplication.clipboard().mimeData()), self.load_image_file):
            self.statusBar().showMessage("Nothing to paste: copy a picture or an image file first", 5000)

    def reset_layout(self) -> None:
        """View → Reset Layout: every dock back in its place, shown, docked and tabbed as at first start."""
        for dock in self.docks.values():
            dock.setFloating(False)
        self.restoreState(self._default_dock_state)
        QTimer.singleShot(0, self._unelide_dock_tabs)

    def show_shortcuts(self) -> None:
        from mnist_desktop.gui.shortcuts_dialog import ShortcutsDialog

        ShortcutsDialog(self).exec()

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
        # every value is validated (core.settings_schema): brush=inf or a FIFO as model/last is dropped, not fatal
        geometry = read_setting(self.settings, "window/geometry")
        if geometry is None or not self.restoreGeometry(QByteArray(geometry)):
            self.resize(1100, 720)
        width = read_setting(self.settings, "canvas/brush")
        if width is not None:
            slider = self.brush_slider
            slider.setValue(int(min(max(width, slider.minimum()), slider.maximum())))
        self.canvas.set_grid_visible(bool(read_setting(self.settings, "canvas/grid", False)))
        self.canvas.grid_action.setChecked(self.canvas.is_grid_visible())

    def restore_dock_state(self) -> None:
        """Call after all docks are added."""
        state = read_setting(self.settings, "window/state")
        restored = state is not None and self.restoreState(QByteArray(state))
        if "training" in self.docks:  # the canvas, not the docks, grows with the window
            self.dock_widths = DockWidthKeeper(self, self.docks["training"], restored=bool(restored))
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
        if self.quit_guard is not None and not self._quit_confirmed and not self.quit_guard.may_close():
            event.ignore()  # the person chose Cancel, a save dialog was cancelled, or a run is stopping first
            return
        self.session.close()
        self.runs.shut_down()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("canvas/brush", self.canvas.brush_width())
        self.settings.setValue("canvas/grid", self.canvas.is_grid_visible())
        self.shutdown_worker()
        super().closeEvent(event)

    def shutdown_worker(self) -> None:
        """Stop any run and join the worker thread (no 'QThread destroyed while running')."""
        if self._jax_loader is not None:
            self._jax_loader.wait()  # an import cannot be interrupted; it ends by itself
        if self.worker is not None:
            self.worker.stop_training()
        thread = self.worker_thread
        if thread is not None and thread.isRunning():
            thread.quit()
            if not thread.wait(10_000):
                thread.terminate()
                thread.wait()
