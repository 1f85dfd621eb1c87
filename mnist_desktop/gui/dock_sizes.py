"""How wide the docks beside the canvas are: a sensible default, and the canvas gets what is left.

Qt's main-window layout shares extra width between the central widget and any
dock area whose contents can grow, in proportion to their size hints; the
panels' plots and lists can always grow, so a maximised window gave the docks
63 % of its width and left the canvas at 400 px. Here the right dock area keeps
a width in pixels instead — the default (:func:`default_dock_width`) until the
person drags the separator, then theirs — and a resized window gives all the
difference to the canvas. The width never takes more than :data:`MAX_SHARE` of
the window, so the canvas always stays usable.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

DEFAULT_SHARE = 0.47  # of the window width, at the default 1100 px: the form fits without scrolling
MIN_DEFAULT = 470  # px: the training form and the dock tabs need about this much
MAX_DEFAULT = 660  # px: beyond this a wider window grows the canvas, not the dock
MAX_SHARE = 0.6  # the docks never take more of the window than this


def default_dock_width(window_width: int) -> int:
    """The right dock area's width for a window ``window_width`` wide, when the person has not chosen one."""
    return int(min(max(MIN_DEFAULT, DEFAULT_SHARE * window_width), MAX_DEFAULT, MAX_SHARE * window_width))


class DockWidthKeeper(QObject):
    """Keeps ``dock``'s area at its width (default or the person's) while the window is resized.

    ``restored``: the layout came from the person's saved state, so its width is
    theirs from the start.
    """

    def __init__(self, window: QMainWindow, dock: QDockWidget, *, restored: bool = False):
        super().__init__(window)
        self.setObjectName("dock-width-keeper")
        self._window = window
        self._dock = dock
        self._restored = restored
        self._chosen: int | None = None  # the person's width, once they drag the separator
        self._window_size = QSize()
        self._expected = -1  # the width last asked for: the dock arriving at it is not the person's doing
        self._applying = False
        self._apply_soon = QTimer(self, singleShot=True, interval=0)
        self._apply_soon.timeout.connect(self.apply)
        window.installEventFilter(self)
        dock.installEventFilter(self)

    def wanted_width(self) -> int:
        width = self._window.width()
        chosen = self._chosen if self._chosen is not None else default_dock_width(width)
        return int(min(chosen, MAX_SHARE * width))

    def reset(self) -> None:
        """Forget the person's width: back to the default (View → Reset layout)."""
        self._chosen = None
        self._restored = False
        self.apply()

    def apply(self) -> None:
        """Give the dock area its width now (skipped while it floats or is hidden)."""
        dock = self._dock
        if dock.isFloating() or not dock.isVisible() or self._window.isMinimized():
            return
        if self._restored and self._chosen is None:
            self._chosen = dock.width()  # the saved layout's width is the person's
        wanted = self.wanted_width()
        self._expected = wanted
        if abs(dock.width() - wanted) > 1:
            self._applying = True
            try:
                self._window.resizeDocks([dock], [wanted], Qt.Orientation.Horizontal)
            finally:
                self._applying = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self._window and kind in (QEvent.Type.Resize, QEvent.Type.Show):
            self._window_size = self._window.size()
            self._apply_soon.start()  # after the main-window layout has shared the new width out
        elif (watched is self._dock and kind == QEvent.Type.Resize and not self._applying
              and not self._apply_soon.isActive() and self._window.size() == self._window_size
              and abs(self._dock.width() - self._expected) > 1
              and self._window.isVisible() and not self._dock.isFloating()):
            self._chosen = self._dock.width()  # the window did not change: the person dragged the separator
        return False
