"""Fool it: the smallest change that makes the model answer another digit, and how it copes with warps.

Two tabs. *Attack*: pick a target, a method (one FGSM step or PGD's many
small ones) and a budget (L∞: no pixel moves more than ε; L2: the change's
length is at most ε); the worker runs the targeted attack
(``core.analysis.adversarial``) and the view shows the drawing, the change
(amplified so it can be seen) and the result side by side. *Robustness*:
curves of the model's confidence (current drawing) or accuracy (500 test
digits) as rotation, scale, shift, stroke thickness or noise grow, and a
slider that shows the drawing at one level and what the model says.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.analysis.perturbations import PERTURBATIONS
from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.gui.insight.colours import diverging_cmap, grey_cmap
from mnist_desktop.gui.insight.deeper_service import deeper_service
from mnist_desktop.gui.insight.panel import InsightPanel
from mnist_desktop.gui.insight.pixel_view import PixelView, captioned_row, themed_plot
from mnist_desktop.gui.model_session import ModelSession

WAITING = ("Fool it: draw a digit, pick the digit you want the model to see instead and press Fool it. "
           "The lab looks for a small change to your drawing that flips the answer.")
BUDGETS = {"linf": (0.01, 1.0, 0.2, 0.01), "l2": (0.1, 28.0, 2.5, 0.1)}  # min, max, default, step
CURVE_COLOURS = ("#4f81bd", "#c0504d")


class FoolView(InsightPanel):
    """The attack tab and the robustness tab; see the module docstring."""

    export_name = "fool-it"

    def __init__(self, session: ModelSession | None = None, _runs: Any = None):
        super().__init__(WAITING)
        self.session = session
        self._service: Any = None
        self.result: Any = None
        self.curves: dict[str, dict[str, Any]] = {"drawing": {}, "test": {}}
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_attack(), "Attack")
        self.tabs.addTab(self._build_robustness(), "Robustness")
        self.tabs.currentChanged.connect(self._on_tab)
        self.body.addWidget(self.tabs, 1)

    def _on_tab(self, index: int) -> None:
        if index == 1:
            self.set_explanation(
                "Robustness: how the model's answer holds up as the digit is rotated, scaled, shifted, thinned or "
                "thickened, or made noisy. Blue: the probability your drawing keeps its class; red: the share of "
                "500 test digits still read right. Move the slider to see the drawing at one level.")
        elif self.result is not None:
            self._on_attack(self.result)
        else:
            self.set_explanation(WAITING)

    # -- attack tab ------------------------------------------------------------------
    def _build_attack(self) -> QWidget:
        page = QWidget()
        self.target_combo = QComboBox()
        self.method_combo = QComboBox()
        self.method_combo.addItem("PGD (many small steps)", "pgd")
        self.method_combo.addItem("FGSM (one step)", "fgsm")
        self.norm_combo = QComboBox()
        self.norm_combo.addItem("L∞: every pixel ±ε", "linf")
        self.norm_combo.addItem("L2: total change ≤ ε", "l2")
        self.norm_combo.setToolTip("L∞ spreads a faint haze over the whole image; L2 allows a few strong strokes")
        self.norm_combo.currentIndexChanged.connect(self._on_norm)
        self.eps_spin = QDoubleSpinBox()
        self.eps_spin.setPrefix("ε = ")
        self.eps_spin.setDecimals(2)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 200)
        self.steps_spin.setValue(20)
        self.steps_spin.setSuffix(" steps")
        self.method_combo.currentIndexChanged.connect(lambda: self.steps_spin.setEnabled(self.method == "pgd"))
        self.fool_button = QPushButton("Fool it")
        self.fool_button.clicked.connect(self.fool)
        self.canvas_button = QPushButton("Put on canvas")
        self.canvas_button.setToolTip("Replace your drawing by the fooled one (it goes through preprocessing again)")
        self.canvas_button.setEnabled(False)
        self.canvas_button.clicked.connect(self.put_on_canvas)
        for i in range(10):
            self.target_combo.addItem(f"target {i}", i)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (self.target_combo, self.method_combo, self.norm_combo, self.eps_spin, self.steps_spin,
                       self.fool_button, self.canvas_button):
            controls.addWidget(widget)
        controls.addStretch(1)
        self.images = [PixelView() for _ in range(3)]
        row, self.image_captions = captioned_row(self.images)
        self.trace = themed_plot(self, "p(target)", "step")
        self.trace.setMinimumHeight(100)
        self.attack_text = QLabel()
        self.attack_text.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addLayout(controls)
        layout.addLayout(row, 3)
        layout.addWidget(self.trace, 1)
        layout.addWidget(self.attack_text)
        self._on_norm()
        return page

    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    @property
    def norm(self) -> str:
        return str(self.norm_combo.currentData())

    def _on_norm(self) -> None:
        lo, hi, default, step = BUDGETS[self.norm]
        self.eps_spin.setRange(lo, hi)
        self.eps_spin.setSingleStep(step)
        self.eps_spin.setValue(default)

    def fool(self) -> None:
        if self._service is None:
            return
        if self.session is not None and self.session.model_input is None:
            self.attack_text.setText("Draw a digit first: the lab changes your drawing.")
            return
        self.attack_text.setText("Searching…")
        self._service.request("attack", target=int(self.target_combo.currentData()), method=self.method,
                              norm=self.norm, epsilon=float(self.eps_spin.value()), steps=int(self.steps_spin.value()))

    def _names(self) -> list[str]:
        return class_names_for(self.session.class_names() if self.session is not None else None, 10)

    def _on_attack(self, result: Any) -> None:
        self.result = result
        names = self._names()
        before, after = int(np.argmax(result.probs_before)), int(np.argmax(result.probs_after))
        delta = result.delta
        peak = float(np.abs(delta).max()) or 1.0
        self.images[0].set_array(result.original, (0.0, 1.0), grey_cmap())
        self.images[1].set_array(delta / peak, (-1.0, 1.0), diverging_cmap())
        self.images[2].set_array(result.adversarial, (0.0, 1.0), grey_cmap())
        self.image_captions[0].setText(f"Your drawing: {names[before]} ({result.probs_before[before]:.1%})")
        self.image_captions[1].setText(f"The change, ×{1 / peak:.1f} to be seen\n(red adds ink, blue removes it)")
        self.image_captions[2].setText(f"Drawing + change: {names[after]} ({result.probs_after[after]:.1%})")
        plot = self.trace.getPlotItem()
        plot.clear()
        plot.plot(np.arange(len(result.target_trace)), result.target_trace, pen=pg.mkPen("#c0504d", width=2),
                  symbol="o", symbolSize=5)
        plot.setYRange(0, 1)
        size = result.size()
        budget = f"{'L∞' if result.norm == 'linf' else 'L2'} size {size:.3f} of ε = {result.epsilon:.3f}"
        target = names[result.target]
        if result.success:
            when = "at once" if result.first_success == 0 else f"after step {result.first_success}"
            verdict = (f"Fooled: the model now answers {target} ({result.probs_after[result.target]:.1%}), "
                       f"{when}, with a change of {budget}. To a person it is still the same digit.")
        else:
            verdict = (f"Not fooled within the budget: {target} got {result.probs_after[result.target]:.1%} "
                       f"({budget}). Raise ε or take more steps.")
        self.attack_text.setText(verdict)
        self.set_explanation(
            f"{'PGD' if result.method == 'pgd' else 'FGSM'} attack towards {target}: left your drawing as the model "
            "sees it, middle the change the attack found (amplified), right the two added. The curve is the "
            "target's probability after each step.")
        self.canvas_button.setEnabled(True)

    def put_on_canvas(self) -> None:
        if self.result is not None and self.session is not None:
            self._awaiting_canvas = True
            self.session.show_picture(self.result.adversarial)

    _awaiting_canvas = False

    def _report_canvas(self, probabilities: np.ndarray) -> None:
        """What the model reads from the canvas: the fooled picture after preprocessing again."""
        self._awaiting_canvas = False
        names, top = self._names(), int(np.argmax(probabilities))
        target = self.result.target if self.result is not None else -1
        if top == target:
            note = "the change survived the canvas's preprocessing."
        else:
            note = ("preprocessing (crop to the ink, rescale, contrast stretch, noise floor) washed the change out: "
                    "an attack like this lives in the exact pixels, and undoing it is one simple defence.")
        self.attack_text.setText(f"On the canvas the model reads {names[top]} ({probabilities[top]:.1%}): {note}")

    # -- robustness tab ----------------------------------------------------------------
    def _build_robustness(self) -> QWidget:
        page = QWidget()
        self.kind_combo = QComboBox()
        for spec in PERTURBATIONS.values():
            self.kind_combo.addItem(spec.title, spec.name)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.level_slider = QSlider(Qt.Orientation.Horizontal)
        self.level_slider.valueChanged.connect(self._on_level)
        self.level_label = QLabel()
        self.sweep_drawing = QPushButton("Curves for my drawing")
        self.sweep_test = QPushButton("Curves for 500 test digits")
        self.sweep_drawing.clicked.connect(lambda: self.sweep("drawing"))
        self.sweep_test.clicked.connect(lambda: self.sweep("test"))
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (self.kind_combo, self.level_slider, self.level_label, self.sweep_drawing, self.sweep_test):
            controls.addWidget(widget, 1 if widget is self.level_slider else 0)
        self.curve_plot = themed_plot(self)
        self.curve_plot.getPlotItem().addLegend(offset=(-10, 10))
        self.curve_plot.setYRange(0, 1)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffb000", width=2))
        self.probe_view = PixelView()
        self.probe_view.setFixedWidth(170)
        self.probe_text = QLabel()
        self.probe_text.setWordWrap(True)
        self.probe_text.setFixedWidth(170)
        side = QVBoxLayout()
        side.addWidget(self.probe_view, 1)
        side.addWidget(self.probe_text)
        row = QHBoxLayout()
        row.addWidget(self.curve_plot, 1)
        row.addLayout(side)
        self.robust_text = QLabel("Press a Curves button: the model reads the digits rotated, scaled, shifted, "
                                  "thinned or thickened and made noisy, at 13 levels each.")
        self.robust_text.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addLayout(controls)
        layout.addLayout(row, 1)
        layout.addWidget(self.robust_text)
        self._on_kind()
        return page

    @property
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def level(self) -> float:
        return PERTURBATIONS[self.kind].levels[self.level_slider.value()]

    def _on_kind(self) -> None:
        spec = PERTURBATIONS[self.kind]
        self.level_slider.blockSignals(True)
        self.level_slider.setRange(0, len(spec.levels) - 1)
        self.level_slider.setValue(spec.levels.index(spec.neutral))
        self.level_slider.blockSignals(False)
        self._on_level()
        self._draw_curves()

    def _on_level(self) -> None:
        spec = PERTURBATIONS[self.kind]
        self.level_label.setText(f"{self.level():g} {spec.unit}")
        self.marker.setValue(self.level())
        if self._service is not None and self.session is not None and self.session.model_input is not None:
            self._service.request("probe", name=self.kind, level=self.level())

    def sweep(self, source: str) -> None:
        if self._service is None:
            return
        if source == "drawing" and (self.session is None or self.session.model_input is None):
            self.robust_text.setText("Draw a digit first.")
            return
        self.curves[source] = {}
        self.robust_text.setText("Sweeping…")
        self._service.request("curves", source=source)

    def _on_curve(self, report: dict) -> None:
        source = report["source"]
        if report["done"]:
            self.robust_text.setText(self._summary())
            return
        curve = report["curve"]
        self.curves[source][curve.name] = {"curve": curve, "label": report["label"]}
        self._draw_curves()

    def _draw_curves(self) -> None:
        plot = self.curve_plot.getPlotItem()
        plot.clear()
        plot.addItem(self.marker)
        spec = PERTURBATIONS[self.kind]
        names = self._names()
        for (source, what), colour in zip((("drawing", "confidence"), ("test", "accuracy")), CURVE_COLOURS):
            entry = self.curves[source].get(self.kind)
            if entry is None:
                continue
            curve = entry["curve"]
            values = curve.confidence if source == "drawing" else curve.accuracy
            label = (f"my drawing: p({names[entry['label']]})" if source == "drawing"
                     else f"{len(curve.predictions[0])} test digits: accuracy")
            plot.plot(curve.levels, values, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                      symbolBrush=colour, name=label)
        plot.setLabel("bottom", f"{spec.title} ({spec.unit})")
        plot.setYRange(0, 1)

    def _summary(self) -> str:
        lines = []
        for source, entries in self.curves.items():
            for name, entry in entries.items():
                curve = entry["curve"]
                values = curve.confidence if source == "drawing" else curve.accuracy
                spec = PERTURBATIONS[name]
                clean = float(values[list(curve.levels).index(spec.neutral)])
                worst = int(np.argmin(values))
                lines.append(f"{spec.title}: {clean:.0%} untouched, {float(values[worst]):.0%} at {curve.levels[worst]:g} {spec.unit}")
        what = "Blue: the probability of your digit's class; red: accuracy on test digits. "
        return what + "; ".join(lines[:5])

    def _on_probe(self, report: dict) -> None:
        if report["name"] != self.kind:
            return
        probs = report["probabilities"]
        top = int(np.argmax(probs))
        self.probe_view.set_array(report["image"], (0.0, 1.0), grey_cmap())
        self.probe_text.setText(f"{PERTURBATIONS[report['name']].title} {report['level']:g}: "
                                f"the model says {self._names()[top]} ({probs[top]:.0%})")

    # -- wiring --------------------------------------------------------------------------
    def attach_worker(self, worker: Any) -> None:
        service = self._service = deeper_service(worker)
        service.attackReady.connect(self._on_attack)
        service.curveReady.connect(self._on_curve)
        service.probeReady.connect(self._on_probe)
        service.failed.connect(self._on_failed)
        if self.session is not None:
            self.session.predicted.connect(self._on_prediction)

    def _on_prediction(self, probabilities: Any, _analysis: Any) -> None:
        """Offer the second most likely class as the target: the easiest one to reach."""
        if probabilities is None:
            return
        if self._awaiting_canvas:
            self._report_canvas(np.asarray(probabilities))
        order = np.argsort(-np.asarray(probabilities))
        names = self._names()
        for i in range(10):
            self.target_combo.setItemText(i, f"target {names[i]}" + (" (model's answer)" if i == order[0] else ""))
        if self.target_combo.currentData() == int(order[0]):
            self.target_combo.setCurrentIndex(int(order[1]))
        if self.tabs.currentIndex() == 1 and self.is_on_screen():
            self._on_level()

    def _on_failed(self, kind: str, message: str) -> None:
        if kind == "attack":
            self.attack_text.setText(message)
        elif kind in ("curves", "probe"):
            self.robust_text.setText(message)
