"""The frame of every insight view: an explanation, "Export PNG…", a body, and whether it is on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QRect, QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from mnist_desktop.gui.figure_export import FigureCaption, export_figure
from mnist_desktop.gui.settings_access import read_setting


class InsightPanel(QWidget):
    """A view with an explanation line on top, an "Export PNG…" button and a body.

    Subclasses put their widgets into ``self.body`` (a QVBoxLayout). The
    explanation is a sentence for a person, not a caption: what the picture is
    and how to read its colours.
    """

    export_name = "view"

    def __init__(self, explanation: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._on_screen = False
        self._dock: QDockWidget | None = None
        self.explanation = QLabel(explanation)
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.PlainText)
        # Fixed at its height for its current width (see eventFilter): a short dock squeezes
        # the pictures, never the sentence that explains them, and adds no padding around it
        self.explanation.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.explanation.installEventFilter(self)
        self.export_button = QToolButton()
        self.export_button.setText("Export PNG…")
        self.export_button.setToolTip("Save this view as a PNG picture")
        self.export_button.clicked.connect(self.export_dialog)
        self.export_action = QAction("Export View as PNG…", self)
        self.export_action.triggered.connect(self.export_dialog)
        self.addAction(self.export_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.explanation, 1)
        header.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(6)
        outer.addLayout(header)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(6)
        outer.addLayout(self.body, 1)

    def set_explanation(self, text: str) -> None:
        self.explanation.setText(text)
        self._fit_explanation()

    def _fit_explanation(self) -> None:
        # Dock layouts do not honour a word-wrapped label's height-for-width; do it by hand.
        # (QLabel.heightForWidth is clamped to the fixed height set last time, so measure the text.)
        label = self.explanation
        margins = label.contentsMargins()
        width = max(label.width() - margins.left() - margins.right() - 2 * label.margin(), 50)
        text = label.fontMetrics().boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, label.text())
        height = text.height() + margins.top() + margins.bottom() + 2 * label.margin()
        if height != label.height():
            label.setFixedHeight(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.explanation and event.type() == QEvent.Type.Resize:
            self._fit_explanation()
        return super().eventFilter(watched, event)

    # -- on screen or not --------------------------------------------------------
    # Qt 6 keeps the docks of unselected tabs "visible" (just moved out of sight), so
    # show/hide events cannot tell whether a person can see a view. The dock's
    # visibilityChanged can; views that cost work (analysis, live weights) use this.
    def is_on_screen(self) -> bool:
        return self._on_screen

    def on_screen_changed(self, on_screen: bool) -> None:
        """Override: the view became visible to the person (True) or stopped being (False)."""

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._dock is None:
            parent = self.parentWidget()
            while parent is not None and not isinstance(parent, QDockWidget):
                parent = parent.parentWidget()
            if parent is not None:
                self._dock = parent
                parent.visibilityChanged.connect(self._on_dock_visibility)
        QTimer.singleShot(0, self, self._recheck_on_screen)  # after the dock layout has settled

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self._set_on_screen(False)

    def _on_dock_visibility(self, visible: bool) -> None:
        self._set_on_screen(visible and self.isVisible())

    def _recheck_on_screen(self) -> None:
        self._set_on_screen(self.isVisible() and not self.visibleRegion().isEmpty())

    def _set_on_screen(self, on_screen: bool) -> None:
        if on_screen != self._on_screen:
            self._on_screen = on_screen
            self.on_screen_changed(on_screen)

    # -- export ------------------------------------------------------------------
    def export_png(self, path: str | Path) -> Path:
        """Save the view's figure, rendered at ≥ 2× with a caption (gui/figure_export.py)."""
        return export_figure(self, self.figure_caption(), path)

    def figure_caption(self) -> FigureCaption:
        """View, model and dataset for the exported figure's caption."""
        model = getattr(getattr(self, "session", None), "model", None)
        view = self._dock.windowTitle() if self._dock is not None else self.export_name.capitalize()
        described = f"{model.name} ({model.title}, {model.param_count:,} parameters)" if model is not None else ""
        dataset = self.figure_dataset() or (f"trained on {model.dataset}" if model is not None and model.dataset else "")
        return FigureCaption(view=view, model=described, dataset=dataset)

    def figure_dataset(self) -> str:
        """Override: the data the figure shows, when it is not the model's training set."""
        return ""

    def export_dialog(self) -> None:
        settings = QSettings()
        folder = Path(str(read_setting(settings, "dirs/export", str(Path.home()))))
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", str(folder / f"{self.export_name}.png"),
                                              "PNG image (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            self.export_png(path)
        except OSError as err:
            QMessageBox.warning(self, "Could not export view", f"{path}: {err.strerror or err}")
            return
        settings.setValue("dirs/export", str(Path(path).parent))
