"""The panels around the canvas, each a dock the user can move, hide or float.

Each entry builds its widget from the main window; a widget that has an
``attach_worker(worker)`` method is given the worker once JAX is up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from mnist_desktop.gui.main_window import MainWindow

Area = Qt.DockWidgetArea

# (key, title, area, factory) — factories import lazily so a broken panel can't stop start-up
DOCKS: list[tuple[str, str, Area, Callable[["MainWindow"], QWidget]]] = [
    ("training", "Training", Area.RightDockWidgetArea,
     lambda window: importlib.import_module(".training_panel", __package__).TrainingPanel(window)),
    # "look inside" views: tabs beside Training (drag a tab out to watch two at once)
    *((key, title, Area.RightDockWidgetArea,
       lambda window, factory=factory: getattr(importlib.import_module(".insight", __package__), factory)(window))
      for key, title, factory in (("weights", "Weights", "create_weights_view"),
                                  ("activations", "Activations", "create_activations_view"),
                                  ("saliency", "Saliency", "create_saliency_view"),
                                  ("evaluation", "Evaluation", "create_evaluation_view"),
                                  ("datasets", "Datasets", "create_dataset_browser"))),
    ("personal", "My handwriting", Area.RightDockWidgetArea,
     lambda window: importlib.import_module(".personal_panel", __package__).PersonalPanel(window)),
    ("compare", "Compare models", Area.BottomDockWidgetArea,
     lambda window: importlib.import_module(".compare_strip", __package__).create_compare_strip(window)),
]


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
