"""Saliency: which pixels of the drawing the prediction hinges on.

``core.insight`` computes |∂ logit of the predicted class / ∂ input pixel| with
``jax.grad``, normalised so the strongest pixel is 1, on the *preprocessed*
28×28 input -- or its integrated gradients, which lie on the strokes and read
far better for the strided CNN (the default). This view shows it three ways: blended over the 28×28 input, on
its own with a colour bar, and (optionally) over the drawing on the canvas,
where it has to be mapped back through the crop-and-scale of preprocessing
(:func:`saliency_region`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from mnist_desktop.core.data import preprocess
from mnist_desktop.gui.insight.common import (
    AdaptiveSplitter,
    InsightPanel,
    MosaicView,
    analysis_demand,
    diverging_cmap,
    format_pct,
    sequential_cmap,
)

if TYPE_CHECKING:
    from mnist_desktop.gui.main_window import MainWindow

CANVAS_SETTING = "insight/saliency_on_canvas"
METHOD_SETTING = "insight/saliency_method"
HEAT_CAPTION = "Saliency with its sign"
#: (label, core.insight.SALIENCY_METHODS name, tooltip); named here because this
#: module must not import the core's JAX code before the window is up.
METHODS = (
    ("Integrated gradients", "integrated",
     "Integrated gradients (Sundararajan et al. 2017): the gradient averaged along the way from a blank "
     "input to your drawing, times the drawing. It lies on the ink, and the pixels' shares add up to how "
     "much the drawing raised the class's score over a blank one."),
    ("Plain gradient", "gradient",
     "The gradient of the class score with respect to each pixel (Simonyan et al. 2013): how the score "
     "would change if that pixel's ink changed a little. Exact, but for a convnet with strided filters "
     "it looks like a speckled grid."),
)
WAITING = ("Saliency: which pixels the prediction depends on most — draw a digit to see it. "
           "Bright pixels would change the predicted class's score most if their ink changed.")


def saliency_region(canvas: np.ndarray, model_input: np.ndarray) -> tuple[float, float, float, float] | None:
    """Where the 28×28 model input lies on the canvas: (x, y, width, height) in canvas pixels.

    Preprocessing (``core/preprocess.py``) crops the drawing to its ink box
    (:func:`~mnist_desktop.core.data.preprocess.ink_box` says where), scales the box
    so its longer side is 20 px (``round(length × 20 / longest)`` per side) and
    shifts it so the centre of mass sits at the centre. The shift is read off
    the model input itself: its first inked row and column are where the box
    landed. Inverting that gives the canvas rectangle the whole 28×28 frame
    covers; None if the canvas has no ink.
    """
    box = preprocess.ink_box(canvas)
    if box is None:
        return None
    rows, cols = box
    inked = np.asarray(model_input, np.float32) > 0
    in_rows, in_cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    if in_rows.size == 0:
        return None
    lengths = np.array([rows.stop - rows.start, cols.stop - cols.start], np.float64)
    new = np.clip(np.rint(lengths * preprocess.BOX_SIZE / lengths.max()), 1, preprocess.BOX_SIZE)
    scale_y, scale_x = new / lengths  # model pixels per canvas pixel
    dy, dx = float(in_rows[0]), float(in_cols[0])
    size = preprocess.OUTPUT_SIZE
    return (cols.start - dx / scale_x, rows.start - dy / scale_y, size / scale_x, size / scale_y)


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

    def __init__(self, window: "MainWindow | None" = None):
        super().__init__(WAITING)
        self._window = window
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
        self.canvas_box.setChecked(str(self.settings.value(CANVAS_SETTING, "false")).lower() == "true")
        self.canvas_box.toggled.connect(self._on_canvas_toggled)
        self.method_combo = QComboBox()
        for label, name, tip in METHODS:
            self.method_combo.addItem(label, name)
            self.method_combo.setItemData(self.method_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        saved = self.method_combo.findData(str(self.settings.value(METHOD_SETTING, METHODS[0][1])))
        self.method_combo.setCurrentIndex(max(saved, 0))
        self.method_combo.setToolTip(METHODS[self.method_combo.currentIndex()][2])
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        method_label = QLabel("&Method:")
        method_label.setBuddy(self.method_combo)
        # "why 4 and not 9?": explain any class, not only the predicted one
        self.target_combo = QComboBox()
        self.target_combo.addItem("the predicted class", -1)
        for digit in range(10):
            self.target_combo.addItem(f"why not {digit}?", digit)
        self.target_combo.setToolTip("Which class the saliency explains: bright pixels are the ones that "
                                     "raise (or would raise) that class's score")
        self.target_combo.currentIndexChanged.connect(self._on_target_changed)
        self._worker: Any = None
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(method_label)
        controls.addWidget(self.method_combo)
        controls.addSpacing(12)
        target_label = QLabel("E&xplain:")
        target_label.setBuddy(self.target_combo)
        controls.addWidget(target_label)
        controls.addWidget(self.target_combo)
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

    # -- inputs ----------------------------------------------------------------
    def attach_worker(self, worker: Any) -> None:
        self._worker = worker
        worker.prediction.connect(self._on_prediction)
        self._update_demand()

    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    def _on_target_changed(self) -> None:
        target = int(self.target_combo.currentData())
        if self._worker is not None:
            self._worker.set_saliency_target(None if target < 0 else target)
        refresh = getattr(self._window, "_update_prediction", None)
        if refresh is not None:
            refresh()  # re-read the drawing for the new class

    def _on_method_changed(self) -> None:
        self.settings.setValue(METHOD_SETTING, self.method)
        self.method_combo.setToolTip(METHODS[self.method_combo.currentIndex()][2])
        self._update_demand()

    def _on_prediction(self, probabilities: Any, analysis: Any) -> None:
        if probabilities is None or not analysis or analysis.get("attribution") is None:
            self.set_saliency(None, None, None)
            return
        acts = analysis.get("activations") or {}
        analysed = acts.get("input")  # exactly the input the gradient was taken at
        image = np.asarray(analysed)[..., 0] if analysed is not None else getattr(self._window, "model_input", None)
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
            names = self._class_names(len(probabilities))
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
                f"Saliency for the prediction {label} ({format_pct(float(probabilities[top]))}): {what}. "
                "Bright red pixels are the ones the answer hinges on; on the right, the same with its sign.")
        self._apply_overlays()

    def _class_names(self, count: int) -> list[str]:
        active = getattr(self._window, "active", None) or {}
        names = list(active.get("class_names") or [])
        return names if len(names) == count else [str(i) for i in range(count)]

    def _clear_views(self) -> None:
        for view in (self.overlay_view, self.heat_view):
            view.set_tiles(np.full((1, 28, 28), np.nan, np.float32), 1, (0.0, 1.0), sequential_cmap())
        self.heat_caption.setText(HEAT_CAPTION)
        self.set_explanation(WAITING)

    # -- overlays on the main window ---------------------------------------------
    def _apply_overlays(self) -> None:
        window = self._window
        if window is None:
            return
        on_input = self._shown and self.saliency is not None
        window.input_view.set_overlay(self.saliency if on_input else None)
        self.region = None
        if self.canvas_box.isChecked() and self.saliency is not None and self.model_input is not None \
                and not window.canvas.is_empty():
            self.region = saliency_region(window.canvas.to_bytes(), self.model_input)
        if self.region is not None:
            window.canvas.set_overlay(self.saliency, region=self.region)
            self.status.setText("On the canvas: mapped back through preprocessing's crop and scale.")
        else:
            window.canvas.set_overlay(None)
            self.status.setText("")

    def _on_canvas_toggled(self, checked: bool) -> None:
        self.settings.setValue(CANVAS_SETTING, "true" if checked else "false")
        self._update_demand()
        self._apply_overlays()

    def _update_demand(self) -> None:
        if self._window is not None:
            demand = analysis_demand(self._window)
            demand.set_saliency_method(self.method)
            # a person who ticked "on canvas" wants it while drawing, even with this tab hidden
            demand.set_wanted("saliency", self._shown or self.canvas_box.isChecked())

    def on_screen_changed(self, on_screen: bool) -> None:
        self._shown = on_screen
        self._update_demand()
        self._apply_overlays()
