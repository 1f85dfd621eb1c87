"""Saliency: which pixels of the drawing the prediction hinges on.

``core.insight`` computes |∂ logit of the predicted class / ∂ input pixel| with
``jax.grad``, normalised so the strongest pixel is 1, on the *preprocessed*
28×28 input -- or its integrated gradients, which lie on the strokes and read
far better for the strided CNN (the default). This view shows it three ways: blended over the 28×28 input, on
its own with a colour bar, and (optionally) over the drawing on the canvas,
where it has to be mapped back through the crop-and-scale of preprocessing
(:func:`mnist_desktop.core.analysis.overlay.input_region`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from mnist_desktop.core.analysis.overlay import input_region
from mnist_desktop.core.analysis.saliency_methods import DEFAULT_SALIENCY, METHODS
from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.core.formatting import format_fraction
from mnist_desktop.gui.settings_access import read_setting
from mnist_desktop.gui.insight.colours import diverging_cmap, sequential_cmap
from mnist_desktop.gui.insight.mosaic_view import MosaicView
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.insight.splitter import AdaptiveSplitter
from mnist_desktop.gui.model_session import ModelSession

CANVAS_SETTING = "insight/saliency_on_canvas"
METHOD_SETTING = "insight/saliency_method"
HEAT_CAPTION = "Saliency with its sign"
WAITING = ("Saliency: which pixels the prediction depends on most — draw a digit to see it. "
           "Bright pixels would change the predicted class's score most if their ink changed.")


def blend(image: np.ndarray, heat: np.ndarray, max_alpha: float = 0.75) -> np.ndarray:
    """(h, w, 4) uint8: the grey digit with the heat map laid over it in red."""
    grey = np.clip(np.asarray(image, np.float32), 0, 1)
    alpha = np.clip(np.asarray(heat, np.float32), 0, 1)[..., None] * max_alpha
    base = np.repeat(grey[..., None], 3, axis=2)
    red = np.array([1.0, 0.19, 0.19], np.float32)
    rgb = base * (1 - alpha) + red * alpha
    out = np.empty((*grey.shape, 4), np.uint8)
    out[..., :3] = np.rint(rgb * 255)
    out[..., 3] = 255
    return out


class SaliencyView(InsightPanel):
    """The saliency of the current drawing, plus overlays on the input view and canvas."""

    export_name = "saliency"

    def __init__(self, session: ModelSession | None = None, _runs: Any = None):
        super().__init__(WAITING)
        self.session = session
        self.settings = QSettings()
        self.overlay_view = MosaicView()
        self.heat_view = MosaicView(colorbar=True)
        holder = AdaptiveSplitter([1, 1.15], ratio=1.6)
        self.heat_caption = QLabel(HEAT_CAPTION)
        for caption, view in ((QLabel("What the model sees, saliency in red"), self.overlay_view),
                              (self.heat_caption, self.heat_view)):
            part = QWidget()
            layout = QVBoxLayout(part)
            layout.setContentsMargins(0, 0, 0, 0)
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            layout.addWidget(caption)
            layout.addWidget(view, 1)
            holder.addWidget(part)
        self.canvas_box = QCheckBox("Show saliency on canvas")
        self.canvas_box.setToolTip(
            "Draw the saliency over your drawing too. It is mapped back through the crop and scale that "
            "preprocessing applied (same ink box, same 20-pixel fit), so it lines up with the strokes.")
        self.canvas_box.setChecked(bool(read_setting(self.settings, CANVAS_SETTING, False)))
        self.canvas_box.toggled.connect(self._on_canvas_toggled)
        self.method_combo = QComboBox()
        for method in METHODS:
            self.method_combo.addItem(method.label, method.name)
            self.method_combo.setItemData(self.method_combo.count() - 1, method.description, Qt.ItemDataRole.ToolTipRole)
        saved = self.method_combo.findData(str(read_setting(self.settings, METHOD_SETTING, DEFAULT_SALIENCY)))
        self.method_combo.setCurrentIndex(max(saved, 0))
        self.method_combo.setToolTip(METHODS[self.method_combo.currentIndex()].description)
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        method_label = QLabel("&Method:")
        method_label.setBuddy(self.method_combo)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(method_label)
        controls.addWidget(self.method_combo)
        controls.addSpacing(12)
        controls.addWidget(self.canvas_box)
        controls.addStretch(1)
        self.status = QLabel()
        self.status.setStyleSheet("color: palette(placeholder-text);")
        self.body.addWidget(holder, 1)
        self.body.addLayout(controls)
        self.body.addWidget(self.status)
        self.saliency: np.ndarray | None = None
        self.attribution: np.ndarray | None = None
        self.model_input: np.ndarray | None = None
        self.region: tuple[float, float, float, float] | None = None
        self._shown = False
        self._clear_views()
        if session is not None:
            session.predicted.connect(self._on_prediction)
            self._update_demand()

    # -- inputs ----------------------------------------------------------------
    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    def _on_method_changed(self) -> None:
        self.settings.setValue(METHOD_SETTING, self.method)
        self.method_combo.setToolTip(METHODS[self.method_combo.currentIndex()].description)
        self._update_demand()

    def _on_prediction(self, probabilities: Any, analysis: Any) -> None:
        if probabilities is None or not analysis or analysis.get("attribution") is None:
            self.set_saliency(None, None, None)
            return
        acts = analysis.get("activations") or {}
        analysed = acts.get("input")  # exactly the input the gradient was taken at
        image = np.asarray(analysed)[..., 0] if analysed is not None else (
            self.session.model_input if self.session is not None else None)
        self.set_saliency(analysis["attribution"], image, np.asarray(probabilities))

    def set_saliency(self, attribution: np.ndarray | None, model_input: np.ndarray | None,
                     probabilities: np.ndarray | None) -> None:
        """Show a (28, 28) signed attribution in [-1, 1] for ``model_input``: its size as saliency
        (overlays), itself beside (red raises the score, blue lowers it); None clears everything."""
        if attribution is None or model_input is None:
            self.saliency = self.model_input = self.region = self.attribution = None
            self._clear_views()
            self._apply_overlays()
            return
        self.attribution = np.clip(np.asarray(attribution, np.float32), -1, 1)
        self.saliency = np.abs(self.attribution)
        self.model_input = np.asarray(model_input, np.float32)
        self.overlay_view.set_rgba(blend(self.model_input, self.saliency))
        self.heat_view.set_tiles(self.attribution[None], 1, (-1.0, 1.0), diverging_cmap())
        if probabilities is not None and len(probabilities):
            names = class_names_for(self.session.class_names() if self.session else None, len(probabilities))
            top = int(np.argmax(probabilities))
            label = f"“{names[top]}”"
            self.heat_caption.setText(f"Red raises the score of {label}, blue lowers it")
            if self.method == "gradient":
                what = (f"how much each input pixel would change the score of {label} if its ink changed "
                        "(|∂ score / ∂ pixel|, strongest = 1)")
            else:
                what = (f"how much each pixel's ink added to or took from the score of {label}, compared with a "
                        "blank input (|integrated gradients|, strongest = 1)")
            self.set_explanation(
                f"Saliency for the prediction {label} ({format_fraction(float(probabilities[top]))}): {what}. "
                "Bright red pixels are the ones the answer hinges on; the picture captioned “Red raises…” "
                "shows the same with its sign.")  # beside or below, as the dock's shape has it
        self._apply_overlays()

    def _clear_views(self) -> None:
        for view in (self.overlay_view, self.heat_view):
            view.set_tiles(np.full((1, 28, 28), np.nan, np.float32), 1, (0.0, 1.0), sequential_cmap())
        self.heat_caption.setText(HEAT_CAPTION)
        self.set_explanation(WAITING)

    # -- overlays on the canvas and "what the model sees" (through the session) ----
    def _apply_overlays(self) -> None:
        session = self.session
        if session is None:
            return
        on_input = self._shown and self.saliency is not None
        session.set_input_overlay(self.saliency if on_input else None)
        self.region = None
        if self.canvas_box.isChecked() and self.saliency is not None and self.model_input is not None \
                and session.has_drawing():
            self.region = input_region(session.drawing_bytes(), self.model_input)
        if self.region is not None:
            session.set_canvas_overlay(self.saliency, region=self.region)
            self.status.setText("On the canvas: mapped back through preprocessing's crop and scale.")
        else:
            session.set_canvas_overlay(None)
            self.status.setText("")

    def _on_canvas_toggled(self, checked: bool) -> None:
        self.settings.setValue(CANVAS_SETTING, "true" if checked else "false")
        self._update_demand()
        self._apply_overlays()

    def _update_demand(self) -> None:
        if self.session is not None:
            self.session.set_saliency_method(self.method)
            # a person who ticked "on canvas" wants it while drawing, even with this tab hidden
            self.session.set_analysis_wanted("saliency", self._shown or self.canvas_box.isChecked())

    def on_screen_changed(self, on_screen: bool) -> None:
        self._shown = on_screen
        if self.session is not None and not shiboken6.isValid(self.session):
            return  # a floated dock hidden while the window (and its session) is being destroyed
        self._update_demand()
        self._apply_overlays()
