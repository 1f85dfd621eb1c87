"""The panels around the canvas, each a dock the user can move, hide or float.

This is the docks' assembly: each entry builds its widget from the window's
:class:`~.model_session.ModelSession` and :class:`~.run_controller.RunController`
(never from the window itself); a widget with an ``attach_worker(worker)``
method is given the worker once JAX is up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from mnist_desktop.gui.model_session import ModelSession
from mnist_desktop.gui.run_controller import RunController

if TYPE_CHECKING:
    from mnist_desktop.gui.main_window import MainWindow

Area = Qt.DockWidgetArea
Factory = Callable[[ModelSession, RunController], QWidget]


def _lazy(module: str, name: str) -> Factory:
    """A factory that imports its panel only when called, so a broken panel can't stop start-up."""
    return lambda session, runs: getattr(importlib.import_module(module, __package__), name)(session, runs)


# (key, title, area, factory); the "look inside" views sit in tabs beside Training
# (drag a tab out to watch two at once). The two panels people act in come first, so their
# tabs stay in sight when the tab bar is narrower than all the titles.
DOCKS: list[tuple[str, str, Area, Factory]] = [
    ("training", "Training", Area.RightDockWidgetArea, _lazy(".training_panel", "TrainingPanel")),
    ("handwriting", "My handwriting", Area.RightDockWidgetArea, _lazy(".handwriting.panel", "HandwritingPanel")),
    ("weights", "Weights", Area.RightDockWidgetArea, _lazy(".insight.weights_view", "WeightsView")),
    ("activations", "Activations", Area.RightDockWidgetArea, _lazy(".insight.activations_view", "ActivationsView")),
    ("saliency", "Saliency", Area.RightDockWidgetArea, _lazy(".insight.saliency_view", "SaliencyView")),
    ("evaluation", "Evaluation", Area.RightDockWidgetArea, _lazy(".insight.evaluation_view", "EvaluationView")),
    ("datasets", "Datasets", Area.RightDockWidgetArea, _lazy(".insight.dataset_browser", "DatasetBrowser")),
    ("map", "Map", Area.RightDockWidgetArea, _lazy(".insight.map_view", "MapView")),
    ("step", "Step through", Area.RightDockWidgetArea, _lazy(".insight.step_view", "StepView")),
    ("fool", "Fool it", Area.RightDockWidgetArea, _lazy(".insight.fool_view", "FoolView")),
]


def create_docks(window: "MainWindow") -> None:
    """Add every registered panel to ``window``; tabify panels sharing an area."""
    by_area: dict[Area, list] = {}
    for key, title, area, factory in DOCKS:
        dock = window.add_dock(key, title, factory(window.session, window.runs), area)
        by_area.setdefault(area, []).append(dock)
    for docks in by_area.values():
        for other in docks[1:]:
            window.tabifyDockWidget(docks[0], other)
        if docks:
            docks[0].raise_()
