"""Dataset browser: what the models learn from — samples, class counts, mean images.

Works for every dataset in ``core.datasets.DATASETS`` (MNIST, Fashion-MNIST, the
bundled subset). Loading a full set means decompressing ~50 MB, so it always
happens on a QThreadPool thread; the GUI shows "Loading…" meanwhile and a clear
message (what to run to get it) when the dataset is not on this computer. Until a
dataset is shown, and after one fails, the pictures give way to a sentence saying
why — never empty axes, never the last dataset's pictures under another's name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.data.availability import dataset_status
from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.core.data.datasets import Dataset, available_datasets, load_dataset
from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.analysis.weights import class_means
from mnist_desktop.gui.insight.colours import grey_cmap, text_colour
from mnist_desktop.gui.insight.mosaic_view import MosaicView, make_static
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.insight.pictures import digit_icon, thumbnail_grid
from mnist_desktop.gui.placeholder import sentence_pages
from mnist_desktop.gui.insight.splitter import AdaptiveSplitter
from mnist_desktop.gui.model_session import ModelSession

EXPLANATION = ("The images a model learns from. Pick a dataset and a class; the bars count each class, "
               "the mean images show the average digit. Double-click a sample to put it on the canvas.")
PAGE_SIZE = 100
ICON_SIDE = 42
SPLITS = (("train", "Training set"), ("test", "Test set"))


@dataclass
class LoadedSet:
    """A dataset plus the per-split class means (computed off the GUI thread)."""

    dataset: Dataset
    means: dict[str, np.ndarray]

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        d = self.dataset
        return (d.train_images, d.train_labels) if split == "train" else (d.test_images, d.test_labels)


def load_for_browser(name: str) -> LoadedSet:
    """Load ``name`` (never downloads) and compute its class means; slow for full sets."""
    dataset = load_dataset(name)
    means = {"train": class_means(dataset.train_images, dataset.train_labels, len(dataset.class_names)),
             "test": class_means(dataset.test_images, dataset.test_labels, len(dataset.class_names))}
    return LoadedSet(dataset, means)


class _LoaderSignals(QObject):
    loaded = Signal(int, object)  # request token, LoadedSet
    failed = Signal(int, str)


class _Loader(QRunnable):
    def __init__(self, token: int, name: str):
        super().__init__()
        self.token, self.name = token, name
        self.signals = _LoaderSignals()

    def run(self) -> None:
        try:
            loaded = load_for_browser(self.name)
        except MnistDesktopError as err:
            self._send(self.signals.failed, str(err))
        except Exception as err:  # noqa: BLE001 - shown to the user, the app keeps running
            self._send(self.signals.failed, f"could not load {self.name}: {err}")
        else:
            self._send(self.signals.loaded, loaded)

    def _send(self, signal: Signal, payload: object) -> None:
        try:
            signal.emit(self.token, payload)
        except RuntimeError:  # the app quit while we loaded: nobody is listening any more
            pass


class DatasetBrowser(InsightPanel):
    """Browse a dataset's samples by class, with counts and mean images."""

    export_name = "dataset"

    def __init__(self, session: ModelSession | None = None, _runs: Any = None):
        super().__init__(EXPLANATION)
        self.session = session
        self._cache: dict[str, LoadedSet] = {}
        self._jobs: dict[int, _Loader] = {}
        self._token = 0
        self.loaded: LoadedSet | None = None
        self.page = 0

        self.dataset_box = QComboBox()
        self.split_box = QComboBox()
        for key, title in SPLITS:
            self.split_box.addItem(title, key)
        self.class_box = QComboBox()
        self.prev_button = QToolButton(text="◀", toolTip="Previous page")
        self.next_button = QToolButton(text="▶", toolTip="Next page")
        self.page_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.dataset_box, 2)
        row.addWidget(self.split_box, 1)
        filter_row = QHBoxLayout()
        filter_row.addWidget(QLabel("Show:"))
        for widget, stretch in ((self.class_box, 1), (self.prev_button, 0), (self.page_label, 0), (self.next_button, 0)):
            filter_row.addWidget(widget, stretch)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.grid = thumbnail_grid(ICON_SIDE, QSize(ICON_SIDE + 22, ICON_SIDE + 22))
        self.grid.itemActivated.connect(self._on_sample_activated)

        self.counts_plot = pg.PlotWidget()
        self._setup_counts_plot()
        self.means_view = MosaicView(label_points=8.5)
        self.means_view.tileClicked.connect(lambda index: self.class_box.setCurrentIndex(index + 1))
        means_box = QWidget()
        means_layout = QVBoxLayout(means_box)
        means_layout.setContentsMargins(0, 0, 0, 0)
        self.means_title = QLabel("Mean image per class (click one to filter)")
        means_layout.addWidget(self.means_title)
        means_layout.addWidget(self.means_view, 1)
        stats = AdaptiveSplitter([2, 3], ratio=1.0)
        stats.addWidget(self.counts_plot)
        stats.addWidget(means_box)
        split = AdaptiveSplitter([3, 2], ratio=1.4)
        split.addWidget(self.grid)
        split.addWidget(stats)
        self.pages, self.placeholder = sentence_pages(split, "Open this tab to load the dataset.",
                                                      "datasets-placeholder")
        self.body.addLayout(row)
        self.body.addLayout(filter_row)
        self.body.addWidget(self.message)
        self.body.addWidget(self.pages, 1)

        for name, title in available_datasets():
            status = dataset_status(name)
            suffix = "" if status == "bundled" or status.startswith("found") else f" — {status}"
            self.dataset_box.addItem(title + suffix, name)
        self.dataset_box.setCurrentIndex(max(0, self.dataset_box.findData("mnist-subset")))
        self._fill_class_box(class_names_for(None))
        self.dataset_box.currentIndexChanged.connect(lambda _: self.load(self.dataset_box.currentData()))
        self.split_box.currentIndexChanged.connect(lambda _: self._show(reset_page=True))
        self.class_box.currentIndexChanged.connect(lambda _: self._show(reset_page=True))
        self.prev_button.clicked.connect(lambda: self._set_page(self.page - 1))
        self.next_button.clicked.connect(lambda: self._set_page(self.page + 1))
        self._started = False

    def figure_dataset(self) -> str:
        if self.loaded is None:
            return ""
        return f"{self.loaded.dataset.title}, {self.split_box.currentText().lower()}"

    def _setup_counts_plot(self) -> None:
        plot = self.counts_plot
        plot.setBackground(self.palette().color(self.backgroundRole()))
        fg = text_colour(self)
        make_static(plot, fg)
        plot.setTitle("Images per class", color=fg.name())
        plot.setMinimumSize(140, 100)
        self._bars: pg.BarGraphItem | None = None

    def on_screen_changed(self, on_screen: bool) -> None:
        if on_screen and not self._started:  # load lazily: an unopened browser costs nothing
            self._started = True
            self.load(self.dataset_box.currentData())

    # -- loading -----------------------------------------------------------------
    def load(self, name: str) -> None:
        """Show dataset ``name``, loading it on a pool thread unless cached."""
        self._started = True
        self._token += 1
        if name in self._cache:
            self._on_loaded(self._token, self._cache[name])
            return
        self.message.setText(f"Loading {self.dataset_box.currentText()}…")
        if self.loaded is None or self.loaded.dataset.name != name:  # no other dataset's pictures meanwhile
            self.pages.setCurrentIndex(0)
            self.placeholder.setText(f"Loading {self.dataset_box.currentText()}…")
        job = _Loader(self._token, name)
        job.signals.loaded.connect(self._on_loaded)
        job.signals.failed.connect(self._on_failed)
        self._jobs[self._token] = job
        QThreadPool.globalInstance().start(job)

    def _on_loaded(self, token: int, loaded: LoadedSet) -> None:
        self._jobs.pop(token, None)
        self._cache[loaded.dataset.name] = loaded
        if token != self._token:
            return  # the person picked another dataset meanwhile
        self.loaded = loaded
        self.message.setText(f"{loaded.dataset.title}: {len(loaded.dataset.train_images):,} training and "
                             f"{len(loaded.dataset.test_images):,} test images · from {loaded.dataset.source}")
        self._fill_class_box(list(loaded.dataset.class_names))
        self._set_controls_enabled(True)
        self._show(reset_page=True)
        self.pages.setCurrentIndex(1)

    def _on_failed(self, token: int, message: str) -> None:
        self._jobs.pop(token, None)
        if token != self._token:
            return
        self.loaded = None
        self.grid.clear()
        self.means_view.clear()
        if self._bars is not None:
            self.counts_plot.removeItem(self._bars)
            self._bars = None
        self.page_label.setText("")
        self.message.setText(f"⚠ {message.splitlines()[0]}")
        self.pages.setCurrentIndex(0)
        self.placeholder.setText(f"Could not show {self.dataset_box.currentText()}.\n\n{message}\n\n"
                                 "Pick another dataset above.")
        self._set_controls_enabled(False)

    def _set_controls_enabled(self, enabled: bool) -> None:
        """Class filter, paging and export only mean something while a dataset is shown."""
        for widget in (self.class_box, self.split_box, self.prev_button, self.next_button, self.export_button,
                       self.export_action):
            widget.setEnabled(enabled)

    def is_loading(self) -> bool:
        return bool(self._jobs)

    def _fill_class_box(self, names: list[str]) -> None:
        current = self.class_box.currentIndex()
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItem("All classes", -1)
        for index, name in enumerate(names):
            self.class_box.addItem(f"{index}: {name}" if name != str(index) else name, index)
        self.class_box.setCurrentIndex(max(0, current))
        self.class_box.blockSignals(False)

    # -- showing -------------------------------------------------------------------
    def selection(self) -> np.ndarray:
        """Indices (into the chosen split) of the samples that pass the class filter."""
        if self.loaded is None:
            return np.zeros(0, np.int64)
        _, labels = self.loaded.split(self.split_box.currentData())
        wanted = self.class_box.currentData()
        return np.arange(len(labels)) if wanted is None or wanted < 0 else np.flatnonzero(labels == wanted)

    def _set_page(self, page: int) -> None:
        self.page = page
        self._show(reset_page=False)

    def _show(self, reset_page: bool) -> None:
        if self.loaded is None:
            return
        if reset_page:
            self.page = 0
        images, labels = self.loaded.split(self.split_box.currentData())
        chosen = self.selection()
        pages = max(1, math.ceil(len(chosen) / PAGE_SIZE))
        self.page = max(0, min(self.page, pages - 1))
        start = self.page * PAGE_SIZE
        shown = chosen[start:start + PAGE_SIZE]
        self.page_label.setText(f"{start + 1 if len(shown) else 0}–{start + len(shown)} of {len(chosen):,}")
        self.prev_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(self.page < pages - 1)
        names = list(self.loaded.dataset.class_names)
        self.grid.setUpdatesEnabled(False)
        self.grid.clear()
        for index in shown:
            label = int(labels[index])
            item = QListWidgetItem(digit_icon(images[index], ICON_SIDE), names[label])
            item.setData(Qt.ItemDataRole.UserRole, int(index))
            item.setToolTip(f"#{index}: {names[label]} — double-click to put it on the canvas")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.grid.addItem(item)
        self.grid.setUpdatesEnabled(True)
        self._show_stats(labels, names)

    def _show_stats(self, labels: np.ndarray, names: list[str]) -> None:
        assert self.loaded is not None
        counts = np.bincount(np.asarray(labels, np.int64), minlength=len(names))[:len(names)]
        self.counts = counts
        wanted = self.class_box.currentData()
        plot = self.counts_plot
        if self._bars is not None:
            plot.removeItem(self._bars)
        brushes = [QColor(8, 69, 148) if wanted in (None, -1, i) else QColor(158, 202, 225) for i in range(len(counts))]
        self._bars = pg.BarGraphItem(x=np.arange(len(counts)), height=counts, width=0.7, brushes=brushes, pen=None)
        plot.addItem(self._bars)
        plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(len(counts))]])
        plot.setXRange(-0.6, len(counts) - 0.4, padding=0)
        plot.setYRange(0, max(1, int(counts.max())) * 1.08, padding=0)
        plot.setToolTip("\n".join(f"{i}: {n} — {c:,} images" for i, (n, c) in enumerate(zip(names, counts))))
        means = self.loaded.means[self.split_box.currentData()]
        short = [n if len(n) <= 7 else n[:6] + "…" for n in names]
        self.means_view.set_tiles(means, None, (0.0, float(max(means.max(), 1e-6))), grey_cmap(), labels=short)
        self.means_view.select(wanted if wanted is not None and wanted >= 0 else None)

    def shown_indices(self) -> list[int]:
        return [int(self.grid.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.grid.count())]

    def _on_sample_activated(self, item: QListWidgetItem) -> None:
        if self.loaded is None or self.session is None:
            return
        images, _ = self.loaded.split(self.split_box.currentData())
        index = int(item.data(Qt.ItemDataRole.UserRole))
        self.session.show_picture(np.asarray(images[index], np.float32) / 255.0)
