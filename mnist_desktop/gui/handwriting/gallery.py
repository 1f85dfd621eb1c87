"""The gallery of the person's drawings: thumbnails to filter, relabel, delete, put on the canvas, trade as a zip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.handwriting.archive import ImportReport
from mnist_desktop.core.handwriting.store import HandwritingSet, Sample
from mnist_desktop.gui.settings_access import read_setting
from mnist_desktop.gui.handwriting.widgets import BAD, THUMB, thumbnail
from mnist_desktop.gui.insight.pictures import thumbnail_grid
from mnist_desktop.gui.model_session import ModelSession

ZIP_FILTER = "Drawings zip (*.zip);;All files (*)"
DIR_SETTING = "dirs/personal"  # the folder last used for a drawings zip (key kept from earlier versions)
SOURCE_TEXT = {"example": "added as an example", "correction": "a correction", "session": "from a guided session",
               "import": "imported"}


def plural(count: int, word: str = "drawing") -> str:
    """``1 drawing``, ``3 drawings``."""
    return f"{count} {word}{'s' if count != 1 else ''}"


class _GalleryKeys(QObject):
    """Delete removes the selected drawings; a digit key relabels them."""

    def __init__(self, gallery: "Gallery"):
        super().__init__(gallery)
        self.gallery = gallery

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.gallery.delete_selected()
                return True
            if Qt.Key.Key_0 <= event.key() <= Qt.Key.Key_9 and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                self.gallery.relabel_selected(int(event.key()) - int(Qt.Key.Key_0))
                return True
        return False


class Gallery(QWidget):
    """Every drawing of the set as a thumbnail; misread ones framed in orange."""

    changed = Signal()  # the set on disk changed (relabel, delete, import)
    status = Signal(str, bool)  # a message for the person, is it an error

    def __init__(self, store: HandwritingSet, session: ModelSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.session = session
        self.misread: dict[str, int] = {}  # sample id -> what the active model reads instead
        self._build()

    def _build(self) -> None:
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.title = QLabel("")
        self.title.setStyleSheet("font-weight: bold;")
        head.addWidget(self.title, 1)
        self.filter_combo = QComboBox()
        self.filter_combo.addItem("All digits", None)
        for d in range(10):
            self.filter_combo.addItem(f"Only {d}s", d)
        self.filter_combo.addItem("Misread by the model", "misread")
        self.filter_combo.currentIndexChanged.connect(self._apply_filter)
        head.addWidget(self.filter_combo)
        col.addLayout(head)
        self.counts_label = QLabel("")
        self.counts_label.setStyleSheet("color: palette(placeholder-text);")
        col.addWidget(self.counts_label)

        self.grid = thumbnail_grid(THUMB, QSize(THUMB + 14, THUMB + 24))
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setMinimumHeight(150)
        self.grid.setToolTip("Select drawings; press a digit key to relabel, Delete to remove")
        self.grid.itemSelectionChanged.connect(self.update_buttons)
        self.grid.itemDoubleClicked.connect(lambda item: self.put_on_canvas(item.data(Qt.ItemDataRole.UserRole)))
        self.grid.installEventFilter(_GalleryKeys(self))
        col.addWidget(self.grid, 1)

        tools = QHBoxLayout()
        self.relabel_button = QToolButton()
        self.relabel_button.setText("Relabel")
        self.relabel_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        relabel_menu = QMenu(self.relabel_button)
        self.relabel_actions: list[QAction] = []
        for d in range(10):
            act = relabel_menu.addAction(f"as {d}")
            act.triggered.connect(lambda _=False, d=d: self.relabel_selected(d))
            self.relabel_actions.append(act)
        self.relabel_button.setMenu(relabel_menu)
        self.delete_button = QToolButton()
        self.delete_button.setText("Delete")
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.canvas_button = QToolButton()
        self.canvas_button.setText("Put on canvas")
        self.canvas_button.setToolTip("Show this drawing on the canvas (double-click does the same)")
        self.canvas_button.clicked.connect(self._put_selected_on_canvas)
        self.import_button = QToolButton()
        self.import_button.setText("Import…")
        self.import_button.setToolTip("Add drawings from a zip exported by MNIST Desktop")
        self.import_button.clicked.connect(self.import_dialog)
        self.export_button = QToolButton()
        self.export_button.setText("Export…")
        self.export_button.setToolTip("Save all drawings as a zip of PNGs plus labels.csv")
        self.export_button.clicked.connect(self.export_dialog)
        for w in (self.relabel_button, self.delete_button, self.canvas_button):
            tools.addWidget(w)
        tools.addStretch(1)
        tools.addWidget(self.import_button)
        tools.addWidget(self.export_button)
        col.addLayout(tools)

    # ------------------------------------------------------------------ showing
    def set_misread(self, misread: dict[str, int]) -> None:
        self.misread = dict(misread)
        self.refresh()

    def _style_item(self, item: QListWidgetItem, sample: Sample) -> None:
        wrong = self.misread.get(sample.id)
        item.setData(Qt.ItemDataRole.UserRole, sample.id)
        item.setText(f"{sample.label}  (read {wrong})" if wrong is not None else str(sample.label))
        try:
            image = self.store.model_input(sample.id)
        except (MnistDesktopError, KeyError):
            image = np.zeros((28, 28), np.float32)
        item.setIcon(QIcon(thumbnail(image, misread=wrong is not None)))
        lines = [f"Labelled {sample.label} · {SOURCE_TEXT.get(sample.source, sample.source)}"]
        if sample.predicted is not None and sample.source == "correction":
            lines.append(f"The model read {sample.predicted} when you saved it")
        if wrong is not None:
            lines.append(f"The active model reads it as {wrong}")
        if sample.created:
            lines.append(sample.created.replace("T", " ")[:16])
        item.setToolTip("\n".join(lines))
        if wrong is not None:
            item.setForeground(BAD)
        else:
            item.setData(Qt.ItemDataRole.ForegroundRole, None)

    def _item_for(self, sample: Sample) -> QListWidgetItem:
        item = QListWidgetItem()
        self._style_item(item, sample)
        return item

    def add_item(self, sample: Sample) -> None:
        """Show a drawing just added (cheaper than :meth:`refresh`)."""
        self.grid.addItem(self._item_for(sample))
        self._apply_filter()
        self._update_titles()

    def refresh(self) -> None:
        """Rebuild every thumbnail from the set (keeps the selection)."""
        selected = set(self.selected_ids())
        self.grid.setUpdatesEnabled(False)
        self.grid.clear()
        for sample in self.store.samples:
            item = self._item_for(sample)
            self.grid.addItem(item)
            item.setSelected(sample.id in selected)
        self.grid.setUpdatesEnabled(True)
        self._apply_filter()
        self._update_titles()
        self.update_buttons()

    def _update_titles(self) -> None:
        n = len(self.store)
        self.title.setText(f"Your drawings ({n})")
        counts = self.store.counts()
        self.counts_label.setText("  ".join(f"{d}: {c}" for d, c in enumerate(counts)) if n else
                                  "None yet — add some, or start a guided session.")
        if self.store.problems:
            self.counts_label.setToolTip("Some saved drawings could not be read:\n" + "\n".join(self.store.problems[:20]))

    def _apply_filter(self) -> None:
        which = self.filter_combo.currentData()
        for i in range(self.grid.count()):
            item = self.grid.item(i)
            sid = item.data(Qt.ItemDataRole.UserRole)
            if which is None:
                hide = False
            elif which == "misread":
                hide = sid not in self.misread
            else:
                hide = self.store.get(sid).label != which if sid in self.store else True
            item.setHidden(hide)

    def update_buttons(self) -> None:
        selected = self.grid.selectedItems()
        for w in (self.relabel_button, self.delete_button):
            w.setEnabled(bool(selected))
        self.canvas_button.setEnabled(len(selected) == 1)
        self.export_button.setEnabled(len(self.store) > 0)

    # ------------------------------------------------------------------ selection
    def ids(self) -> list[str]:
        """Ids shown, in order (hidden by the filter included)."""
        return [self.grid.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.grid.count())]

    def selected_ids(self) -> list[str]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.grid.selectedItems()]

    def select_ids(self, ids: list[str]) -> None:
        wanted = set(ids)
        for i in range(self.grid.count()):
            item = self.grid.item(i)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) in wanted)

    # ------------------------------------------------------------------ editing
    def relabel_selected(self, label: int) -> int:
        changed = 0
        for sid in self.selected_ids():
            try:
                if self.store.get(sid).label != label:
                    self.store.relabel(sid, label)
                    changed += 1
            except (MnistDesktopError, KeyError) as err:
                self.status.emit(f"Could not relabel: {err}", True)
                break
        if changed:
            self.refresh()
            self.changed.emit()
            self.status.emit(f"Relabelled {plural(changed)} as {label}.", False)
        return changed

    def delete_selected(self, confirm: bool = True) -> int:
        ids = self.selected_ids()
        if not ids:
            return 0
        if confirm and len(ids) > 1:
            answer = QMessageBox.question(self, "Delete drawings", f"Delete {len(ids)} drawings? This cannot be undone.")
            if answer != QMessageBox.StandardButton.Yes:
                return 0
        try:
            removed = self.store.delete(ids)
        except MnistDesktopError as err:
            self.status.emit(str(err), True)
            return 0
        self.refresh()
        self.changed.emit()
        self.status.emit(f"Deleted {plural(removed)}.", False)
        return removed

    def put_on_canvas(self, sample_id: str) -> bool:
        try:
            picture = self.store.drawing(sample_id)
        except (MnistDesktopError, KeyError) as err:
            self.status.emit(f"Could not open that drawing: {err}", True)
            return False
        self.session.show_picture(picture)
        return True

    def _put_selected_on_canvas(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.put_on_canvas(ids[0])

    # ------------------------------------------------------------------ zip
    @staticmethod
    def _dialog_dir() -> str:
        return str(read_setting(QSettings(), DIR_SETTING, str(Path.home())))

    def export_dialog(self) -> None:
        if not len(self.store):
            self.status.emit("Nothing to export yet.", True)
            return
        suggested = str(Path(self._dialog_dir()) / "my-handwriting.zip")
        path, _ = QFileDialog.getSaveFileName(self, "Export drawings", suggested, ZIP_FILTER)
        if path:
            QSettings().setValue(DIR_SETTING, str(Path(path).parent))
            self.export_to(path)

    def export_to(self, path: str | Path) -> bool:
        try:
            n = self.store.export_zip(path)
        except MnistDesktopError as err:
            self.status.emit(str(err), True)
            return False
        self.status.emit(f"Exported {n} drawings to {path}.", False)
        return True

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import drawings", self._dialog_dir(), ZIP_FILTER)
        if not path:
            return
        QSettings().setValue(DIR_SETTING, str(Path(path).parent))
        report = self.import_from(path)
        if report is not None and report.skipped:
            box = QMessageBox(QMessageBox.Icon.Warning, "Some drawings were skipped",
                              f"{report.summary()}.\n\nThe skipped files were left out; everything else was added.",
                              QMessageBox.StandardButton.Ok, self)
            box.setDetailedText(report.details())
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
            box.open()

    def import_from(self, path: str | Path) -> ImportReport | None:
        """Import a zip; returns the :class:`ImportReport` (None if the file was refused)."""
        try:
            report = self.store.import_zip(path)
        except MnistDesktopError as err:
            self.status.emit(str(err), True)
            return None
        self.refresh()
        if report.added:
            self.changed.emit()
        text = report.summary() + "."
        if report.skipped:
            shown = "; ".join(f"{name}: {why}" for name, why in report.skipped[:3])
            more = f" (+{len(report.skipped) - 3} more)" if len(report.skipped) > 3 else ""
            text += f" Skipped {shown}{more}."
        self.status.emit(text, bool(report.skipped) and not report.added)
        return report
