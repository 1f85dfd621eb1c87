"""The canvas's actions (undo, redo, clear, eraser, grid): shortcuts that also work without a window."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget


def canvas_action(widget: QWidget, text: str, theme: QIcon.ThemeIcon | None, keys: Sequence[QKeySequence],
                  slot: Callable, tip: str) -> QAction:
    """An action of ``widget`` with shortcuts (shown in its tooltip) that work while it has focus."""
    action = QAction(text, widget)
    if theme is not None:
        action.setIcon(QIcon.fromTheme(theme))
    action.setShortcuts(list(keys))
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    shortcut_text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
    action.setToolTip(f"{tip} ({shortcut_text})")
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    widget.addAction(action)
    return action


def trigger_shortcut(actions: Iterable[QAction], event: QKeyEvent) -> bool:
    """Trigger the enabled action whose shortcut is exactly ``event``'s key; True if one was.

    The fallback for key events delivered straight to the widget (tests, a window
    that is not active): a real shortcut consumes the key and never gets here.
    """
    pressed = QKeySequence(event.keyCombination())
    for action in actions:
        if action.isEnabled() and any(
            seq.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch for seq in action.shortcuts()
        ):
            action.trigger()
            return True
    return False
