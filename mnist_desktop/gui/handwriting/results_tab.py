"""The Results tab: how the active model reads *your* drawings, and a fine-tune on them.

The scores: accuracy and confusion on the drawings (leaving out those a
fine-tuned model trained on) beside its MNIST test accuracy. The fine-tune
(:mod:`.finetune_run`) draws the training panel's live chart and ends with a
before/after table; the tuned model is saved as a new file and becomes active
only when the person says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.formatting import format_duration, format_fraction
from mnist_desktop.core.handwriting.finetune import FinetuneOptions, FinetuneReport
from mnist_desktop.gui.handwriting.finetune_run import FinetuneRun
from mnist_desktop.gui.handwriting.widgets import BAD, GOOD, ConfusionView
from mnist_desktop.gui.training_chart import TrainingChart


def muted(label: QLabel) -> QLabel:
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class ResultsTab(QWidget):
    """Scores, confusion and the fine-tune's controls, progress and report (see the module docstring)."""

    measureRequested = Signal()
    tuneRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.last_options = FinetuneOptions()
        self.tuned_path: str | None = None
        self._build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        col = QVBoxLayout(self)
        col.setContentsMargins(6, 8, 6, 6)
        col.setSpacing(6)
        measure_row = QHBoxLayout()
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("Test the active model on your drawings (and on MNIST test)")
        self.measure_button.clicked.connect(self.measureRequested)
        measure_row.addWidget(self.measure_button)
        self.model_label = muted(QLabel(""))
        self.model_label.setWordWrap(True)
        measure_row.addWidget(self.model_label, 1)
        col.addLayout(measure_row)
        col.addLayout(self._build_scores())
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        col.addWidget(line)
        self._build_tuning(col)
        col.addStretch(1)

    def _build_scores(self) -> QHBoxLayout:
        scores = QVBoxLayout()
        scores.setSpacing(2)
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.7)
        big.setBold(True)
        self.handwriting_score = QLabel("–")
        self.mnist_score = QLabel("–")
        self.handwriting_caption = QLabel("your drawings")
        self.mnist_caption = QLabel("MNIST test")
        for i, (score, caption) in enumerate(((self.handwriting_score, self.handwriting_caption),
                                              (self.mnist_score, self.mnist_caption))):
            score.setFont(big)
            muted(caption).setWordWrap(True)
            if i:
                scores.addSpacing(12)
            scores.addWidget(score)
            scores.addWidget(caption)
        scores.addStretch(1)
        score_box = QWidget()
        score_box.setLayout(scores)
        score_box.setMinimumWidth(150)
        score_box.setMaximumWidth(260)
        self.confusion = ConfusionView()
        top = QHBoxLayout()
        top.addWidget(score_box, 2)
        top.addWidget(self.confusion, 3)
        return top

    def _build_tuning(self, col: QVBoxLayout) -> None:
        col.addWidget(QLabel("<b>Fine-tune on your handwriting</b>"))
        hint = muted(QLabel("Trains the active model a little on your drawings mixed with MNIST, so it learns your "
                            "style without forgetting MNIST. Some of your drawings are held out to measure the result. "
                            "The tuned model is saved as a new file; the current one is not changed."))
        hint.setWordWrap(True)
        col.addWidget(hint)
        opts_row = QHBoxLayout()
        opts_row.addWidget(QLabel("Hold out"))
        self.held_out_spin = QSpinBox()
        self.held_out_spin.setRange(10, 50)
        self.held_out_spin.setSingleStep(5)
        self.held_out_spin.setValue(30)
        self.held_out_spin.setSuffix(" %")
        self.held_out_spin.setToolTip("Share of each digit's drawings kept aside to measure the tuned model")
        opts_row.addWidget(self.held_out_spin)
        opts_row.addWidget(QLabel("Epochs"))
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 20)
        self.epochs_spin.setValue(3)
        opts_row.addWidget(self.epochs_spin)
        opts_row.addStretch(1)
        self.tune_button = QPushButton("Fine-tune")
        self.tune_button.clicked.connect(self.tuneRequested)
        self.tune_stop = QPushButton("Stop")
        opts_row.addWidget(self.tune_button)
        opts_row.addWidget(self.tune_stop)
        col.addLayout(opts_row)
        self.tune_progress = QProgressBar()
        self.tune_progress.setVisible(False)
        col.addWidget(self.tune_progress)
        self.chart = TrainingChart()
        self.chart.setFixedHeight(240)
        self.chart.placeholder.setText("Fine-tune: accuracy on your held-out drawings appears here")

        self.report_grid = QGridLayout()
        self.report_grid.setHorizontalSpacing(14)
        self.report_cells: dict[tuple[int, int], QLabel] = {}
        for c, text in enumerate(("", "before", "after", "change")):
            label = QLabel(f"<b>{text}</b>" if text else "")
            label.setAlignment(Qt.AlignmentFlag.AlignRight if c else Qt.AlignmentFlag.AlignLeft)
            self.report_grid.addWidget(label, 0, c)
        for r, text in enumerate(("Your held-out drawings", "MNIST test"), start=1):
            self.report_grid.addWidget(QLabel(text), r, 0)
            for c in range(1, 4):
                cell = QLabel("–")
                cell.setAlignment(Qt.AlignmentFlag.AlignRight)
                self.report_grid.addWidget(cell, r, c)
                self.report_cells[(r, c)] = cell
        self.report_grid.setColumnStretch(4, 1)
        self.report_box = QWidget()
        self.report_box.setLayout(self.report_grid)
        self.report_box.setVisible(False)
        col.addWidget(self.report_box)
        self.tune_status = QLabel("")
        self.tune_status.setWordWrap(True)
        self.tune_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.tune_status)
        self.tune_warning = QLabel("")  # how rough the before/after will be (readiness warnings)
        self.tune_warning.setObjectName("tune-warning")
        self.tune_warning.setWordWrap(True)
        self.tune_warning.setStyleSheet("color: #b26a00;")
        self.tune_warning.hide()
        col.addWidget(self.tune_warning)
        self.use_tuned_button = QPushButton("Use the tuned model")
        self.use_tuned_button.setToolTip("Make the fine-tuned model the one that reads the canvas")
        self.use_tuned_button.setVisible(False)
        col.addWidget(self.use_tuned_button, 0, Qt.AlignmentFlag.AlignLeft)
        # the chart goes last: after a run the before/after table must be visible without scrolling
        col.addWidget(self.chart)

    def options(self) -> FinetuneOptions:
        return FinetuneOptions(held_out=self.held_out_spin.value() / 100, epochs=float(self.epochs_spin.value()))

    # ------------------------------------------------------------------ scores
    def show_measurement(self, measurement: dict[str, Any] | None, have_drawings: bool,
                         mnist: tuple[float, str] | None, recorded: float | None) -> None:
        """The accuracy on the drawings (None: not measured) and the MNIST number (measured, or recorded)."""
        m = measurement
        if not m or not m.get("count"):
            self.handwriting_score.setText("–")
            self.handwriting_caption.setText("your drawings — press Measure" if have_drawings
                                             else "your drawings — add some, then Measure")
            self.confusion.set_matrix(None)
        else:
            self.handwriting_score.setText(format_fraction(m["accuracy"]))
            self.handwriting_score.setStyleSheet(f"color: {(GOOD if m['accuracy'] >= 0.9 else BAD).name()};")
            extra = f"; {m['excluded']} it trained on left out" if m.get("excluded") else ""
            self.handwriting_caption.setText(f"your drawings: {m['correct']} of {m['count']} read right{extra}")
            self.confusion.set_matrix(m["confusion"])
        if mnist is not None:
            value, text = mnist
            self.mnist_score.setText(format_fraction(value))
            self.mnist_caption.setText(text)
        else:
            self.mnist_score.setText(format_fraction(recorded) if isinstance(recorded, float) else "–")
            self.mnist_caption.setText("MNIST test (recorded in the model file)" if isinstance(recorded, float)
                                       else "MNIST test — press Measure")

    # ------------------------------------------------------------------ fine-tune progress
    def follow(self, run: FinetuneRun) -> None:
        """Show ``run``'s progress, chart and outcome (its handle exists: it has started)."""
        assert run.handle is not None
        self.chart.show_runs(run.record, [])
        self.tune_progress.setVisible(True)
        self.tune_progress.setRange(0, 0)
        self.report_box.setVisible(False)
        self.use_tuned_button.setVisible(False)
        self.tune_status.setText(f"Preparing: {len(run.split.train_ids)} of your drawings to learn from, "
                                 f"{len(run.split.held_out_ids)} held out to measure…")
        handle, record = run.handle, run.record
        handle.started.connect(lambda _info: (self.tune_progress.setRange(0, record.total_steps),
                                              self.tune_progress.setValue(0), self.tune_progress.setFormat("compiling…")))
        handle.step.connect(self._on_step)
        handle.epoch.connect(self._on_epoch)
        # drawn now, as the training panel does: a short run can end before the redraw timer fires
        handle.finished.connect(lambda _result: self.chart.flush())
        run.finishing.connect(self._on_finishing)

    def _on_step(self, event: dict) -> None:
        self.chart.live_changed()
        self.tune_progress.setValue(int(event["step"]))
        self.tune_progress.setFormat(f"step {event['step']}/{event['total_steps']} · ETA {format_duration(event['eta'])}")

    def _on_epoch(self, event: dict) -> None:
        self.chart.live_changed()
        if event.get("val_accuracy") is not None:
            self.tune_status.setText(f"Epoch {event['epoch']}/{event['epochs']}: your held-out drawings "
                                     f"{format_fraction(event['val_accuracy'])}")

    def _on_finishing(self) -> None:
        self.tune_progress.setRange(0, 0)
        self.tune_progress.setFormat("checking MNIST and measuring…")
        self.tune_status.setText("Checking that MNIST is not forgotten, measuring before and after…")

    def show_outcome(self, result: Any, options: FinetuneOptions) -> FinetuneReport | None:
        """The run's end: the before/after report, or why there is none."""
        self.last_options = options
        self.tune_progress.setVisible(False)
        if not isinstance(result, dict) or "error" in result:
            message = result.get("error") if isinstance(result, dict) else "unknown error"
            if isinstance(result, dict) and result.get("during") == "run":
                self.tune_status.setText("Fine-tuning stopped; your model is unchanged." if result.get("stopped")
                                         else f"Fine-tuning failed: {message}")
            else:
                self.tune_status.setText(f"Could not finish the fine-tune: {message}. Your model is unchanged.")
            return None
        report: FinetuneReport = result["report"]
        self.tuned_path = result["path"]
        self._show_report(report)
        self.use_tuned_button.setVisible(True)
        return report

    def _show_report(self, report: FinetuneReport) -> None:
        def cell(r: int, c: int, text: str, colour: QColor | None = None) -> None:
            label = self.report_cells[(r, c)]
            label.setText(text)
            label.setStyleSheet(f"color: {colour.name()}; font-weight: bold;" if colour else "")

        def change(before: float | None, after: float | None, tolerance: float) -> tuple[str, QColor | None]:
            if before is None or after is None:
                return "–", None
            delta = (after - before) * 100
            text = f"{delta:+.1f}"
            if float(text) == 0:  # no "−0.0": a change too small to show is no change
                return "±0.0 pts", None
            return f"{text} pts", (GOOD if delta > 0 else BAD if delta < -tolerance * 100 else None)

        cell(1, 1, format_fraction(report.personal_before))
        cell(1, 2, format_fraction(report.personal_after))
        cell(1, 3, *change(report.personal_before, report.personal_after, 0.0))
        cell(2, 1, format_fraction(report.mnist_before, 2))
        cell(2, 2, format_fraction(report.mnist_after, 2))
        cell(2, 3, *change(report.mnist_before, report.mnist_after, 0.003))
        mnist_label = self.report_grid.itemAtPosition(2, 0).widget()
        mnist_label.setText("MNIST test" if report.mnist_dataset == "mnist" else "MNIST test (subset)")
        self.report_box.setVisible(True)
        notes = [f"Learned from {report.n_train} of your drawings; measured on {report.n_held_out} it never saw."]
        usual = self.last_options.blend
        if report.blend < usual:
            notes.append(f"MNIST slipped, so only {report.blend:.0%} of the change was kept (usually {usual:.0%}).")
        elif report.blend < 1.0:
            notes.append(f"It keeps {report.blend:.0%} of the change, blended with the original to protect MNIST.")
        if report.mnist_drop > 0.003:
            notes.append(f"MNIST test fell {report.mnist_drop * 100:.1f} points — more than the 0.3 allowed; "
                         "try more drawings or fewer epochs.")
        notes.append(f"Saved as {Path(self.tuned_path or '').name} — your current model is unchanged.")
        self.tune_status.setText(" ".join(notes))

    def show_warnings(self, warnings: list[str]) -> None:
        """Readiness warnings for the run starting now (kept while it runs and in its report)."""
        self.tune_warning.setText("⚠ " + "; ".join(warnings) + "." if warnings else "")
        self.tune_warning.setVisible(bool(warnings))

    def check_options(self, options: FinetuneOptions) -> bool:
        try:
            options.validate()
        except MnistDesktopError as err:
            self.tune_status.setText(str(err))
            return False
        return True
