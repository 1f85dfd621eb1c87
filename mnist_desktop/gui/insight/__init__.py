"""Look inside a model: learned weights, activations, saliency, evaluation, datasets,
the map of the test digits, the step-through of the forward pass and the fool-it lab.

Each view is an :class:`~.common.InsightPanel` built from the main window by a
factory here (registered in ``gui/docks.py``); views that talk to the worker
have ``attach_worker``. Imports are lazy so a broken view cannot stop start-up.
(The factories are ``create_*``: a plain ``weights_view`` would be shadowed by the
submodule of that name as soon as it is imported.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from mnist_desktop.gui.main_window import MainWindow


def create_weights_view(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.weights_view import WeightsView

    return WeightsView(window)


def create_activations_view(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.activations_view import ActivationsView

    return ActivationsView(window)


def create_saliency_view(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.saliency_view import SaliencyView

    return SaliencyView(window)


def create_evaluation_view(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.evaluation_view import EvaluationView

    return EvaluationView(window)


def create_dataset_browser(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.dataset_browser import DatasetBrowser

    return DatasetBrowser(window)


def create_map_view(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.map_view import MapView

    return MapView(window)


def create_step_view(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.step_view import StepView

    return StepView(window)


def create_fool_view(window: "MainWindow") -> "QWidget":
    from mnist_desktop.gui.insight.fool_view import FoolView

    return FoolView(window)
