"""Help → Keyboard Shortcuts, View → Reset Layout, and pictures dropped or pasted onto the canvas."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import QApplication

from gui_helpers import open_main_window
from mnist_desktop.core.paths import resources_dir
from mnist_desktop.gui.shortcuts_dialog import ShortcutsDialog, collect_shortcuts

pytestmark = pytest.mark.gui
SEVEN = resources_dir() / "samples" / "seven.png"


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    return open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training", "weights", "saliency"))


def test_shortcuts_dialog_lists_every_shortcut_of_every_menu(qtbot, window, monkeypatch):
    shown = []
    monkeypatch.setattr(ShortcutsDialog, "exec", lambda self: shown.append(self) or 0)
    window.shortcuts_action.trigger()  # Help → Keyboard Shortcuts…
    dialog = shown[0]
    rows = dict(dialog.rows())
    assert rows["Open Model"] == QKeySequence(QKeySequence.StandardKey.Open).toString(QKeySequence.SequenceFormat.NativeText)
    assert rows["Undo Stroke"] == "Ctrl+Z" and rows["Paste Image"] == "Ctrl+V" and rows["Keyboard Shortcuts"] == "Ctrl+/"
    assert "Ctrl+Shift+Z" in rows["Redo Stroke"]
    every = [a for a in window.findChildren(QAction) if not a.shortcut().isEmpty() and a.text()]
    assert {a.text().replace("&", "").removesuffix("…") for a in every} <= set(rows)  # none missing
    headings = [name for name, keys in dialog.rows() if not keys]
    assert headings[:3] == ["File", "Edit", "View"]


def test_a_new_action_appears_in_the_list_without_editing_it(window):
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+F"))
    window.view_menu.addAction(extra)
    assert any(s.action == "Frobnicate" and s.group == "View" and s.keys == "Ctrl+Alt+F"
               for s in collect_shortcuts(window))


def test_reset_layout_brings_back_the_default_dock_arrangement(qtbot, window):
    training, weights, saliency = (window.docks[k] for k in ("training", "weights", "saliency"))
    default_area = window.dockWidgetArea(training)
    assert window.tabifiedDockWidgets(weights)  # tabbed with the others at first
    weights.setFloating(True)
    weights.resize(300, 200)
    saliency.close()
    window.removeDockWidget(training)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, training)
    training.show()
    window.reset_layout_action.trigger()  # View → Reset Layout
    qtbot.waitUntil(lambda: not weights.isFloating() and saliency.isVisible(), timeout=5_000)
    assert window.dockWidgetArea(training) == default_area
    assert window.tabifiedDockWidgets(weights)
    assert window.reset_layout_action in window.view_menu.actions()


def drop_on(canvas, mime: QMimeData) -> tuple[bool, bool]:
    """(accepted on enter, accepted on drop), as a drag from another application would go."""
    pos = canvas.rect().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, enter)
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, drop)
    return enter.isAccepted(), drop.isAccepted()


def wait_for_label(qtbot, window):
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is not None, timeout=10_000)
    return window.prediction_view.predicted_label()


def test_dropping_an_image_file_puts_it_on_the_canvas(qtbot, window):
    assert window.canvas.is_empty()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SEVEN))])
    assert drop_on(window.canvas, mime) == (True, True)
    assert not window.canvas.is_empty()
    assert wait_for_label(qtbot, window) == 7


def test_dropping_image_data_puts_it_on_the_canvas(qtbot, window):
    mime = QMimeData()
    mime.setImageData(QImage(str(SEVEN)))
    assert drop_on(window.canvas, mime) == (True, True)
    assert wait_for_label(qtbot, window) == 7


def test_dropping_something_else_is_refused_and_changes_nothing(qtbot, window, tmp_path):
    mime = QMimeData()
    mime.setText("hello")
    assert drop_on(window.canvas, mime) == (False, False)
    assert window.canvas.is_empty()


def test_ctrl_v_pastes_a_copied_picture(qtbot, window):
    QApplication.clipboard().setImage(QImage(str(SEVEN)))
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.canvas.is_empty(), timeout=5_000)
    assert wait_for_label(qtbot, window) == 7
    window.canvas.clear()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SEVEN))])  # a file copied in a file manager
    QApplication.clipboard().setMimeData(mime)
    window.paste_image_action.trigger()
    qtbot.waitUntil(lambda: not window.canvas.is_empty(), timeout=5_000)


def test_pasting_with_nothing_usable_says_so(qtbot, window):
    QApplication.clipboard().setText("not a picture")
    window.paste_image_action.trigger()
    assert "Nothing to paste" in window.statusBar().currentMessage()
    assert window.canvas.is_empty()


def test_a_broken_dropped_file_is_reported_and_the_canvas_kept(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a, **k: warnings.append((title, text)))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(broken))])
    drop_on(window.canvas, mime)
    assert warnings and warnings[0][0] == "Could not load image" and "broken.png" in warnings[0][1]
    assert window.canvas.is_empty()
