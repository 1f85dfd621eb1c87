"""Learned weights: the pictures a model looks for, refreshed live while it trains.

* logistic regression → its ten class templates (the weight column of each class),
* MLP → the 300 first-layer units as 28×28 tiles, strongest first, paged; click to enlarge,
* CNN → the 16 conv1 kernels and a conv2 connection summary.

The worker publishes weights every ~50 training steps and after each epoch
(``paramsUpdated``), so a person watches noise turn into strokes. Rendering is
skipped while the view is hidden and coalesced to ~10 per second when shown.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QToolButton, QVBoxLayout, QWidget

from mnist_desktop.core.analysis.weights import TileSet, weight_tile_sets
from mnist_desktop.gui.handles import RunHandle
from mnist_desktop.gui.insight.colours import sequential_cmap
from mnist_desktop.gui.insight.matrix_view import MatrixView
from mnist_desktop.gui.insight.mosaic_view import MosaicView
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.insight.splitter import AdaptiveSplitter
from mnist_desktop.gui.model_session import ActiveModel, ModelSession
from mnist_desktop.gui.run_controller import RunController

REFRESH_MS = 100
UNITS_PER_PAGE = 30

OVERVIEW = {
    "logreg": "Logistic regression scores a digit by laying each class's template over it: ink on red "
              "pixels adds to that class's score, ink on blue pixels subtracts, white pixels don't matter.",
    "mlp": "Each tile is one first-layer unit of the MLP: the 28×28 pattern of input weights it responds "
           "to (red = ink here excites it, blue = inhibits). Strongest units first; click a tile to enlarge.",
    "cnn": "The CNN's first layer slides small kernels over the drawing, each making one feature map; its "
           "second layer combines those maps. Red = positive weight, blue = negative, white = 0.",
}
WAITING = "Learned weights of the active model appear here once a model is loaded or trained."


def _title(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label


def _note(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class _LogregPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.mosaic = MosaicView(colorbar=True, label_points=10)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mosaic, 1)

    def show_sets(self, sets: list[TileSet]) -> None:
        (templates,) = sets
        lim = templates.limit
        self.mosaic.set_tiles(templates.tiles, None, (-lim, lim), labels=templates.labels)


class _MlpPage(QWidget):
    """A page of unit tiles, page buttons, and the clicked unit enlarged."""

    def __init__(self) -> None:
        super().__init__()
        self.grid = MosaicView(colorbar=True, label_points=7.5)
        self.grid.tileClicked.connect(self._on_tile_clicked)
        self.enlarged = MosaicView(colorbar=False)
        self.enlarged.setMinimumSize(140, 140)
        self.enlarged_caption = _note("Click a tile to enlarge it.")
        self.enlarged_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.prev_button = QToolButton(text="◀", toolTip="Previous page (stronger units)")
        self.next_button = QToolButton(text="▶", toolTip="Next page (weaker units)")
        self.page_label = QLabel()
        self.prev_button.clicked.connect(lambda: self.set_page(self.page - 1))
        self.next_button.clicked.connect(lambda: self.set_page(self.page + 1))
        pager = QHBoxLayout()
        pager.addWidget(self.prev_button)
        pager.addWidget(self.page_label, 1, Qt.AlignmentFlag.AlignHCenter)
        pager.addWidget(self.next_button)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.enlarged, 1)
        side_layout.addWidget(self.enlarged_caption)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(pager)
        left_layout.addWidget(self.grid, 1)
        split = AdaptiveSplitter([3, 1.2])
        split.addWidget(left)
        split.addWidget(side)
        row = QVBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(split)
        self.page = 0
        self.selected: int | None = None  # index into the sorted tiles
        self._set: TileSet | None = None

    def pages(self) -> int:
        return max(1, math.ceil(len(self._set.tiles) / UNITS_PER_PAGE)) if self._set else 1

    def show_sets(self, sets: list[TileSet]) -> None:
        (units,) = sets
        self._set = units
        self.set_page(min(self.page, self.pages() - 1))

    def set_page(self, page: int) -> None:
        if self._set is None:
            return
        self.page = max(0, min(page, self.pages() - 1))
        start = self.page * UNITS_PER_PAGE
        stop = min(start + UNITS_PER_PAGE, len(self._set.tiles))
        lim = self._set.limit
        self.grid.set_tiles(self._set.tiles[start:stop], None, (-lim, lim),
                            labels=self._set.labels[start:stop])
        self.page_label.setText(f"units {start + 1}–{stop} of {len(self._set.tiles)}, strongest first")
        self.prev_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(self.page < self.pages() - 1)
        self._show_enlarged()

    def _on_tile_clicked(self, index: int) -> None:
        self.selected = self.page * UNITS_PER_PAGE + index
        self._show_enlarged()

    def _show_enlarged(self) -> None:
        units = self._set
        if units is None or self.selected is None or self.selected >= len(units.tiles):
            self.grid.select(None)
            return
        on_page = self.selected - self.page * UNITS_PER_PAGE
        self.grid.select(on_page if 0 <= on_page < UNITS_PER_PAGE else None)
        tile = units.tiles[self.selected]
        # the enlarged tile gets its own symmetric scale: its detail matters, not its strength
        lim = float(max(np.abs(tile).max(), 1e-6))
        self.enlarged.set_tiles(tile[None], 1, (-lim, lim))
        norm = float(np.sqrt((tile.astype(np.float64) ** 2).sum()))
        self.enlarged_caption.setText(f"unit {units.labels[self.selected]} · rank {self.selected + 1} · "
                                      f"weight norm {norm:.2f} · scale ±{lim:.3f}")


class _CnnPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.conv1_title = _title("conv1 kernels")
        self.conv1_note = _note()
        self.conv1 = MosaicView(colorbar=True, label_points=8.5)
        self.conv2_title = _title("conv2")
        self.conv2_note = _note()
        self.conv2 = MatrixView(colorbar=True)
        split = AdaptiveSplitter([1, 1.3])
        for widgets in ((self.conv1_title, self.conv1_note, self.conv1),
                        (self.conv2_title, self.conv2_note, self.conv2)):
            part = QWidget()
            part_layout = QVBoxLayout(part)
            part_layout.setContentsMargins(0, 0, 4, 0)
            for widget in widgets:
                part_layout.addWidget(widget, 1 if isinstance(widget, (MosaicView, MatrixView)) else 0)
            split.addWidget(part)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def show_sets(self, sets: list[TileSet]) -> None:
        conv1, conv2 = sets
        self.conv1_title.setText(conv1.title)
        self.conv2_title.setText(conv2.title)
        self.conv1_note.setText(conv1.explanation)
        self.conv1.set_tiles(conv1.tiles, None, (-conv1.limit, conv1.limit), labels=conv1.labels)
        self.conv2_note.setText(conv2.explanation)
        matrix = conv2.tiles[0]
        self.conv2.set_matrix(matrix, levels=(0.0, conv2.limit), cmap=sequential_cmap(), tick_every=1,
                              row_label=conv2.row_label, col_label=conv2.column_label)


class WeightsView(InsightPanel):
    """What the active (or training) model learned, as pictures."""

    export_name = "weights"

    def __init__(self, session: ModelSession | None = None, runs: RunController | None = None):
        super().__init__(WAITING)
        self.session = session
        self.source_label = _note()
        self.stack = QStackedWidget()
        self.empty_label = QLabel("No model yet.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages: dict[str, Any] = {"logreg": _LogregPage(), "mlp": _MlpPage(), "cnn": _CnnPage()}
        self.stack.addWidget(self.empty_label)
        for page in self.pages.values():
            self.stack.addWidget(page)
        self.body.addWidget(self.source_label)
        self.body.addWidget(self.stack, 1)
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self._render)
        self._pending: tuple[str, Any, list[str] | None] | None = None
        self.source = ""  # what the weights shown come from, in words ("Active model: …")
        self._training: dict[str, Any] | None = None
        self._step = 0
        self.model_name: str | None = None
        self.sets: list[TileSet] = []
        if session is not None:
            session.modelChanged.connect(self._on_model_changed)
        if runs is not None:
            runs.runStarted.connect(self._follow_run)

    # -- inputs ----------------------------------------------------------------
    def attach_worker(self, worker: Any) -> None:
        worker.paramsUpdated.connect(self._on_params_updated)

    def _follow_run(self, handle: RunHandle) -> None:
        """Whoever started it, a run's live weights are what this view shows while it trains."""
        handle.started.connect(self._on_train_started)
        handle.step.connect(lambda event: setattr(self, "_step", int(event.get("step", 0))))
        handle.finished.connect(self._on_train_finished)
        handle.failed.connect(self._on_train_finished)

    def _on_model_changed(self, model: ActiveModel) -> None:
        if model.params is not None:
            self.source = f"Active model: {model.name} ({model.title})"
            self.show_params(model.model_name, model.params, list(model.class_names))

    def _on_params_updated(self, model_name: str, params: Any) -> None:
        if self._training is None:
            return  # the active model's weights also arrive through activeModelChanged
        from mnist_desktop.core.models.networks import MODELS  # here, not at the top: the window must not wait for JAX

        title = MODELS[model_name].title if model_name in MODELS else model_name
        self.source = f"Live from the training run: {title}, step {self._step:,}"
        self.show_params(model_name, params, self._training.get("class_names"))

    def following_training(self) -> bool:
        """True while a training run's live weights are what this view follows."""
        return self._training is not None

    def _on_train_started(self, info: dict) -> None:
        self._training = info
        self._step = 0

    def _on_train_finished(self, _result: Any = None) -> None:
        self._training = None
        active = self.session.model if self.session is not None else None
        if active is not None:  # back to the active model (a new one arrives by itself)
            self._on_model_changed(active)

    def show_params(self, model_name: str, params: Any, class_names: list[str] | None = None) -> None:
        """Show ``params`` of ``model_name`` (rendered now if visible, else when shown)."""
        self._pending = (model_name, params, list(class_names) if class_names else None)
        if self.is_on_screen() and not self._timer.isActive():
            self._timer.start()

    def on_screen_changed(self, on_screen: bool) -> None:
        if on_screen and self._pending is not None:
            self._render()  # what arrived while this tab was not selected

    # -- rendering -------------------------------------------------------------
    def refresh_now(self) -> None:
        """Render pending weights immediately, visible or not (tests, export)."""
        self._timer.stop()
        self._render()

    def _render(self) -> None:
        if self._pending is None:
            return
        model_name, params, class_names = self._pending
        self._pending = None
        try:
            sets = weight_tile_sets(model_name, params, class_names)
        except (ValueError, KeyError) as err:
            self.sets, self.model_name = [], model_name
            self.empty_label.setText(f"Cannot show the weights of this model: {err}")
            self.stack.setCurrentWidget(self.empty_label)
            return
        self.sets, self.model_name = sets, model_name
        if model_name in OVERVIEW:
            self.set_explanation(OVERVIEW[model_name])
        else:
            from mnist_desktop.core.analysis.spec_weights import architecture_overview

            self.set_explanation(architecture_overview(model_name))
        self.source_label.setText(self.source)
        # a custom network uses the page of the preset its first layer resembles
        page = self.pages.get(model_name) or self.pages[{"templates": "logreg", "units": "mlp"}.get(sets[0].key, "cnn")]
        page.show_sets(sets)
        self.stack.setCurrentWidget(page)
