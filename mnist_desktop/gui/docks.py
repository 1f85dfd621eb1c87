"""The panels around the canvas, each a dock the user can move, hide or float.

Each entry builds its widget from the main window; a widget that has an
``attach_worker(worker)`` method is given the worker once JAX is up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from .main_window import MainWindow

Area = Qt.DockWidgetArea

# (key, title, area, factory) — factories import lazily so a broken panel can't stop start-up
DOCKS: list[tuple[str, str, Area, Callable[["MainWindow"], QWidget]]] = []


def create_docks(window: "MainWindow") -> None:
    """Add every registered panel to ``window``; tabify panels sharing an area."""
    by_area: dict[Area, list] = {}
    for key, title, area, factory in DOCKS:
        dock = window.add_dock(key, title, factory(window), area)
        by_area.setdefault(area, []).append(dock)
    for docks in by_area.values():
        for other in docks[1:]:
            window.tabifyDockWidget(docks[0], other)
        if docks:
            docks[0].raise_()
