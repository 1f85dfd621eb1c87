"""The model session: the one place that knows which model reads the canvas and what it said.

Panels used to read ``window.active`` dicts and paint on ``window.canvas``; now
they get this object (and the worker) from the main window and never see the
window itself. It owns:

* the active model (:class:`ActiveModel`: name, architecture, params, metadata,
  class names), replaced when the worker reports ``modelChanged``;
* the current drawing's 28×28 model input, recomputed (throttled) as the
  person draws, and the latest prediction for it;
* which class names label the prediction (a training run's while it reads the
  canvas, else the active model's);
* the analysis demand: activations and saliency cost a backward pass per
  drawing update, so the worker computes them only while a view wants them;
* a small canvas API (the drawing, clearing it, putting a picture on it, the
  overlay on it and on "what the model sees").

Data flow of a stroke: ``canvas.changed`` → :meth:`_schedule` (throttle) →
:meth:`refresh_prediction` → ``to_model_input`` → ``inputChanged`` and
``worker.request_prediction`` → ``worker.prediction`` → :meth:`_on_prediction`
→ ``predicted`` → the prediction view's bars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from mnist_desktop.core.data.dataset_specs import DIGIT_NAMES, class_names_for
from mnist_desktop.core.data.preprocess import is_dark_on_light, to_model_input
from mnist_desktop.gui.canvas import DrawingCanvas

PREDICT_THROTTLE_MS = 15  # at most ~60 predictions/s while drawing; the worker keeps only the newest
DIGITS = DIGIT_NAMES


@dataclass(frozen=True)
class ActiveModel:
    """The model that reads the canvas, as the worker described it (plain data, numpy params)."""

    name: str
    model_name: str
    params: Any
    title: str = ""
    param_count: int = 0
    class_names: tuple[str, ...] = DIGITS
    dataset: str | None = None
    test_accuracy: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None  # the file it was loaded from or saved to; None: only in memory
    run_number: int | None = None  # the training run it came from, if any

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> "ActiveModel":
        """From the worker's ``modelChanged`` dict."""
        return cls(name=str(info.get("name") or "?"), model_name=str(info.get("model_name") or "?"),
                   params=info.get("params"), title=str(info.get("title") or info.get("model_name") or ""),
                   param_count=int(info.get("param_count") or 0),
                   class_names=tuple(class_names_for(info.get("class_names"))),
                   dataset=info.get("dataset"), test_accuracy=info.get("test_accuracy"),
                   metadata=dict(info.get("metadata") or {}), path=info.get("path"),
                   run_number=info.get("run_number") if isinstance(info.get("run_number"), int) else None)

    def is_digit_model(self) -> bool:
        """Reads digits 0–9 (what fine-tuning on handwriting needs)."""
        return self.params is not None and self.class_names == DIGITS

    def save_metadata(self) -> dict[str, Any]:
        """The metadata a saved copy of this model keeps (dataset and classes included)."""
        return {**self.metadata, "dataset": self.dataset or "mnist", "class_names": list(self.class_names)}


class ModelSession(QObject):
    """See the module docstring. Built by the main window; handed to every panel."""

    modelChanged = Signal(object)  # ActiveModel
    modelLoading = Signal(str)  # path being loaded
    modelFailed = Signal(str, str)  # path, message
    inputChanged = Signal(object)  # (28, 28) model input of the current drawing, or None
    predicted = Signal(object, object)  # probabilities (n,) or None, analysis dict or None
    classNamesChanged = Signal(list)  # the classes of the model now reading the canvas
    inputOverlayChanged = Signal(object)  # heat map for "what the model sees", or None
    drawingChanged = Signal()  # the canvas changed (every edit)
    statusMessage = Signal(str)  # a line for the status bar

    def __init__(self, canvas: DrawingCanvas, parent: QObject | None = None):
        super().__init__(parent)
        self._canvas = canvas
        self._worker: Any = None
        self.model: ActiveModel | None = None
        self.model_input: np.ndarray | None = None
        self.probabilities: np.ndarray | None = None
        self.analysis: dict[str, Any] | None = None
        self.closed = False
        self._reading_names: list[str] | None = None  # a training run's classes while it reads the canvas
        self._preview: Any = None  # quick_start.NumpyPreview: answers in NumPy until the worker has a model
        self._wanted: set[str] = set()
        self._saliency_method: str | None = None  # None: the worker's default until a view picks one
        self._throttle = QTimer(self, singleShot=True, interval=PREDICT_THROTTLE_MS)
        self._throttle.timeout.connect(self.refresh_prediction)
        canvas.changed.connect(self._schedule)
        canvas.changed.connect(self.drawingChanged)
        canvas.strokeFinished.connect(self.refresh_prediction)

    # ------------------------------------------------------------------ worker
    def attach_worker(self, worker: Any) -> None:
        """Listen to the worker (once JAX is up) and push the analysis demand to it."""
        self._worker = worker
        worker.modelChanged.connect(self._on_model_changed)
        worker.modelFailed.connect(self._on_model_failed)
        worker.prediction.connect(self._on_prediction)
        self._apply_demand()

    def load_model(self, path: str) -> None:
        """Ask the worker to load ``path``; ``modelChanged`` or ``modelFailed`` answers."""
        self.modelLoading.emit(path)
        if self._worker is not None:
            self._worker.loadRequested.emit(path)

    def activate(self, model_name: str, params: Any, info: Mapping[str, Any]) -> None:
        """Make trained ``params`` the active model (e.g. a run's "Use this model")."""
        if self._worker is not None:
            self._worker.activateRequested.emit(model_name, params, dict(info))

    def set_preview(self, preview: Any) -> None:
        """Answer drawings with ``preview.predict`` (NumPy) until the worker has loaded a model."""
        self._preview = preview
        self._emit_class_names()
        self.refresh_prediction()

    def _on_model_failed(self, path: str, message: str) -> None:
        had_preview, self._preview = self._preview is not None, None
        if had_preview and self.model is None:
            self._on_prediction(None, None)  # the answer shown came from the model that failed
        self.modelFailed.emit(path, message)

    def mark_saved(self, path: str) -> None:
        """The active model was written to ``path`` (it no longer exists only in memory)."""
        if self.model is not None:
            self.model = replace(self.model, path=path)

    def _on_model_changed(self, info: dict) -> None:
        self.model = ActiveModel.from_info(info)
        self._preview = None  # the worker answers from now on
        self._emit_class_names()
        self.modelChanged.emit(self.model)
        self.refresh_prediction()

    def close(self) -> None:
        """The window is closing: the worker is (being) shut down, ask it for nothing more."""
        self.closed = True
        self._throttle.stop()

    # ------------------------------------------------------------------ class names
    def class_names(self) -> list[str]:
        """Labels of the classes of whatever reads the canvas now."""
        if self._reading_names is not None:
            return list(self._reading_names)
        if self.model is None and self._preview is not None:
            return class_names_for(self._preview.class_names)
        return list(self.model.class_names) if self.model is not None else list(DIGITS)

    def set_reading_class_names(self, names: Sequence[str] | None) -> None:
        """A training run reads the canvas with its dataset's classes (None: the active model again)."""
        self._reading_names = None if names is None else class_names_for(names)
        self._emit_class_names()
        self.request_prediction()

    def _emit_class_names(self) -> None:
        self.classNamesChanged.emit(self.class_names())

    # ------------------------------------------------------------------ prediction
    def _schedule(self) -> None:
        if not self._throttle.isActive():
            self._throttle.start()

    def refresh_prediction(self) -> None:
        """Recompute the model input from the canvas and ask for its prediction."""
        self._throttle.stop()
        if self.closed:
            return
        self.model_input = to_model_input(self._canvas.to_bytes()) if not self._canvas.is_empty() else None
        self.inputChanged.emit(self.model_input)
        if self.model_input is None:
            self.probabilities = self.analysis = None
            self.predicted.emit(None, None)
            self._canvas.set_overlay(None)
        self.request_prediction()

    def request_prediction(self) -> None:
        """Ask again for the current input (the answering model changed, or it is training)."""
        if self._worker is not None and not self.closed:
            self._worker.request_prediction(self.model_input)
        if self._preview is not None and self.model is None and not self.closed:  # JAX is still loading
            self._on_prediction(self._preview.predict(self.model_input), None)

    def _on_prediction(self, probabilities: Any, analysis: Any) -> None:
        if self.model_input is None:  # the answer to a drawing since wiped
            probabilities = analysis = None
        self.probabilities = None if probabilities is None else np.asarray(probabilities)
        self.analysis = analysis
        self.predicted.emit(self.probabilities, analysis)

    def predicted_class(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    # ------------------------------------------------------------------ analysis demand
    def set_analysis_wanted(self, key: str, wanted: bool) -> None:
        """A view (``key``) shows activations/saliency (True) or stopped showing them."""
        before = bool(self._wanted)
        (self._wanted.add if wanted else self._wanted.discard)(key)
        if bool(self._wanted) != before:
            self._apply_demand()

    def analysis_wanted(self) -> bool:
        return bool(self._wanted)

    def set_saliency_method(self, method: str) -> None:
        """Ask for another saliency method; the current drawing is analysed again at once."""
        if method != self._saliency_method:
            self._saliency_method = method
            self._apply_demand()

    def _apply_demand(self) -> None:
        worker = self._worker
        if worker is None:
            return
        worker.set_analysis_enabled(bool(self._wanted))
        if self._saliency_method is not None:
            worker.set_saliency_method(self._saliency_method)
        if self._wanted and self.model_input is not None:
            self.request_prediction()  # fill the views now, not at the next stroke

    # ------------------------------------------------------------------ canvas API
    def has_drawing(self) -> bool:
        return not self._canvas.is_empty()

    def drawing(self) -> np.ndarray:
        """The canvas picture, float32 (560, 560) in [0, 1], ink = 1."""
        return self._canvas.to_array()

    def drawing_bytes(self) -> np.ndarray:
        """The canvas picture as uint8 (560, 560), ink = 255 (cheapest for preprocessing)."""
        return self._canvas.to_bytes()

    def clear_drawing(self) -> None:
        self._canvas.clear()

    def show_picture(self, image: np.ndarray) -> None:
        """Put a grey picture (any polarity) on the canvas as white ink on black."""
        pic = np.asarray(image, np.float32)
        if to_model_input(pic) is None:
            self._canvas.clear()
            return
        # the canvas stores white ink; flip dark-on-light pictures as preprocessing does
        self._canvas.load_image(1.0 - pic if is_dark_on_light(pic) else pic)

    def set_canvas_overlay(self, heatmap: np.ndarray | None,
                           region: tuple[float, float, float, float] | None = None) -> None:
        """A heat map over the drawing (``region``: the canvas rectangle it covers); None removes it."""
        self._canvas.set_overlay(heatmap, region=region)

    def set_canvas_prompt(self, text: str | None) -> None:
        """Show ``text`` large on the canvas (a guided session's "Draw a 3"); None removes it."""
        self._canvas.set_prompt(text)

    def canvas_has_overlay(self) -> bool:
        return self._canvas.has_overlay()

    def set_input_overlay(self, heatmap: np.ndarray | None) -> None:
        """A heat map over "what the model sees"; None removes it."""
        self.inputOverlayChanged.emit(heatmap)
