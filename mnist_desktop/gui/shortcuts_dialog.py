"""Help → Keyboard Shortcuts: every shortcut the window answers, read from its actions.

The list is generated from the QActions themselves (menus first, in menu
order, then actions that live on the window or a panel without a menu entry),
so it can never disagree with what the keys do.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class Shortcut:
    group: str  # the menu it is in ("File", "Edit", …) or "Canvas and panels"
    action: str  # what it does, as the menu says it
    keys: str  # e.g. "Ctrl+O", several separated by ", "


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").removesuffix("…").removesuffix("...").strip()


def _keys(action: QAction) -> str:
    return ", ".join(seq.toString(QKeySequence.SequenceFormat.NativeText) for seq in action.shortcuts() if not seq.isEmpty())


def _menu_actions(menu: QMenu) -> list[QAction]:
    found: list[QAction] = []
    for action in menu.actions():
        if action.menu() is not None:
            found += _menu_actions(action.menu())
        elif not action.isSeparator():
            found.append(action)
    return found


def collect_shortcuts(window: QMainWindow) -> list[Shortcut]:
    """Every action of ``window`` with a shortcut, grouped by menu; each action listed once."""
    seen: set[int] = set()
    out: list[Shortcut] = []
    for top in window.menuBar().actions():
        menu = top.menu()
        if menu is None:
            continue
        for action in _menu_actions(menu):
            keys = _keys(action)
            if keys and id(action) not in seen:
                seen.add(id(action))
                out.append(Shortcut(_clean(top.text()), _clean(action.text()), keys))
    for action in window.findChildren(QAction):  # window- and panel-level actions without a menu entry
        keys = _keys(action)
        if keys and id(action) not in seen and action.text():
            seen.add(id(action))
            out.append(Shortcut("Canvas and panels", _clean(action.text()), keys))
    return out


class ShortcutsDialog(QDialog):
    """A table of :func:`collect_shortcuts`, one section per menu."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard Shortcuts")
        self.setObjectName("shortcuts-dialog")
        self.shortcuts = collect_shortcuts(window)
        table = QTableWidget(0, 2)
        table.setObjectName("shortcuts-table")
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.setShowGrid(False)
        group = None
        for shortcut in self.shortcuts:
            if shortcut.group != group:
                group = shortcut.group
                row = table.rowCount()
                table.insertRow(row)
                heading = QTableWidgetItem(group)
                font = heading.font()
                font.setBold(True)
                heading.setFont(font)
                table.setItem(row, 0, heading)
                table.setSpan(row, 0, 1, 2)
            row = table.rowCount()
            table.insertRow(row)
            table.setItem(row, 0, QTableWidgetItem("    " + shortcut.action))
            table.setItem(row, 1, QTableWidgetItem(shortcut.keys))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        table.resizeRowsToContents()
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        note = QLabel("Drawing: left button draws, right button erases. Drop or paste (Ctrl+V) a picture "
                      "on the canvas to have it read.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(table, 1)
        layout.addWidget(buttons)
        rows_height = sum(table.rowHeight(r) for r in range(table.rowCount())) + header.height() + 6
        self.resize(max(520, table.horizontalHeader().sectionSize(1) + 360), min(680, rows_height + 120))

    def rows(self) -> list[tuple[str, str]]:
        """(action, keys) as the table shows them (section headings have no keys)."""
        out = []
        for row in range(self.table.rowCount()):
            keys = self.table.item(row, 1)
            out.append((self.table.item(row, 0).text().strip(), keys.text() if keys is not None else ""))
        return out
