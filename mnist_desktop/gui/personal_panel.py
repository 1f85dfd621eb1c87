"""The "My handwriting" panel: collect labelled drawings, measure the model on them, fine-tune.

Collect tab: label what is on the canvas ("Add as example", or "Correct it"
when the model got it wrong), or run a guided session that asks for every
digit a few times; the gallery shows, relabels and deletes the drawings and
trades them as a zip. Results tab: the active model's accuracy and confusion
on *your* drawings next to its MNIST test accuracy, and a fine-tune with the
training panel's live chart and a before/after table.

All storage is :mod:`mnist_desktop.core.handwriting.store` and all fine-tuning logic
:mod:`mnist_desktop.core.handwriting.finetune`; all JAX work goes through the worker
(``trainRequested`` with the personal data builder, and the small
``jobRequested``/``jobFinished`` pair for measuring and finishing a fine-tune).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.handwriting.finetune import (
    FinetuneOptions,
    FinetuneReport,
    accuracy_text,
    finetune_config,
    replay_dataset_name,
    trained_on_ids,
)
from mnist_desktop.core.handwriting.store import PersonalDataset, Sample
from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.gui.settings_access import read_setting
from mnist_desktop.gui.insight.common import thumbnail_grid
from mnist_desktop.gui.personal_widgets import BAD, GOOD, THUMB, ConfusionView, DigitPicker, digit_article, thumbnail
from mnist_desktop.gui.run_history import RunRecord, format_duration
from mnist_desktop.gui.training_chart import TrainingChart

if TYPE_CHECKING:
    from mnist_desktop.gui.main_window import MainWindow

BUILDER = "mnist_desktop.core.handwriting.finetune:build_finetune_data"
MEASURE_JOB = "mnist_desktop.core.handwriting.finetune:measure_job"
FINISH_JOB = "mnist_desktop.core.handwriting.finetune:finish_finetune_job"
DIGITS = tuple(str(d) for d in range(10))
MEASURE_DELAY_MS = 400  # re-measure this long after the last change (a burst of adds measures once)
MIN_SAMPLES_TO_TUNE = 10
ZIP_FILTER = "Drawings zip (*.zip);;All files (*)"


class _GalleryKeys(QObject):
    """Delete removes the selected drawings; a digit key relabels them."""

    def __init__(self, panel: "PersonalPanel"):
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.panel.delete_selected()
                return True
            if Qt.Key.Key_0 <= event.key() <= Qt.Key.Key_9 and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                self.panel.relabel_selected(int(event.key()) - int(Qt.Key.Key_0))
                return True
        return False


class PersonalPanel(QWidget):
    """Collect, measure and fine-tune on the user's own handwriting (see the module docstring)."""

    samplesChanged = Signal()  # the set on disk changed (tests wait on it)
    measured = Signal(dict)  # a measurement of the active model on the set arrived
    finetuneFinished = Signal(object)  # dict: report, path — or {"error": ...}

    def __init__(self, window: "MainWindow", root: str | Path | None = None):
        super().__init__(window)
        self.window = window
        self.worker: Any = None
        self.dataset = self._load(root)
        self._prediction: int | None = None
        self._user_picked = False
        self._session: dict[str, Any] | None = None
        self._measure: dict[str, Any] | None = None
        self._mnist_text = ""
        self._ft: dict[str, Any] | None = None  # the fine-tune in progress
        self._ft_state = "idle"  # idle, training, finishing
        self._mnist_value: float | None = None
        self.record = RunRecord(number=1, config={})  # the fine-tune's curves, drawn by the chart
        self.last_report: FinetuneReport | None = None
        self._last_options = FinetuneOptions()
        self.tuned_path: str | None = None
        self._measure_timer = QTimer(self, singleShot=True, interval=MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(lambda: self.measure(include_mnist=False))
        self._build()
        self._refresh_gallery()
        window.activeModelChanged.connect(self._on_model_changed)
        window.canvas.changed.connect(self._on_canvas_changed)

    # ------------------------------------------------------------------ set-up
    def _load(self, root: str | Path | None) -> PersonalDataset:
        try:
            return PersonalDataset.load(root)
        except MnistDesktopError as err:
            message = f"Could not read your drawings: {err}"  # err is unbound once the except block ends
            QTimer.singleShot(0, lambda: self._set_status(message, error=True))
            return PersonalDataset(root)

    def _build(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for page, title in ((self._build_collect(), "Collect"), (self._build_results(), "Results")):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setWidget(page)
            self.tabs.addTab(scroll, title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)

    def _build_collect(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(6, 8, 6, 6)
        col.setSpacing(6)

        intro = QLabel("Teach the model <b>your</b> handwriting: draw a digit on the canvas, then save it with its label.")
        intro.setWordWrap(True)
        col.addWidget(intro)

        # -- labelling what is on the canvas
        self.label_box = QWidget()
        box = QVBoxLayout(self.label_box)
        box.setContentsMargins(0, 0, 0, 0)
        pick_row = QHBoxLayout()
        pick_row.addWidget(QLabel("It's"))
        self.picker = DigitPicker()
        self.picker.picked.connect(self._on_user_picked)
        pick_row.addWidget(self.picker, 1)
        box.addLayout(pick_row)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add as example")
        self.add_button.setToolTip("Save the drawing with the digit picked above")
        self.add_button.clicked.connect(lambda: self.add_example())
        self.correct_button = QPushButton("Correct it")
        self.correct_button.setToolTip("The model read it wrong: pick what you drew, and it is saved as a correction")
        self.correct_menu = QMenu(self.correct_button)
        self.correct_actions: list[QAction] = []
        for d in range(10):
            act = self.correct_menu.addAction(f"It's {digit_article(d)}")
            act.triggered.connect(lambda _=False, d=d: self.correct_as(d))
            self.correct_actions.append(act)
        self.correct_button.setMenu(self.correct_menu)
        self.clear_after = QCheckBox("Clear canvas after saving")
        self.clear_after.setChecked(True)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.correct_button)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_after)
        box.addLayout(buttons)
        col.addWidget(self.label_box)

        # -- guided session
        self.session_group = QGroupBox("Guided session")
        sess = QVBoxLayout(self.session_group)
        start_row = QHBoxLayout()
        start_row.addWidget(QLabel("Draw each digit"))
        self.session_count = QSpinBox()
        self.session_count.setRange(1, 20)
        self.session_count.setValue(5)
        self.session_count.setSuffix(" times")
        start_row.addWidget(self.session_count)
        self.session_start = QPushButton("Start")
        self.session_start.clicked.connect(lambda: self.start_session())
        start_row.addWidget(self.session_start)
        start_row.addStretch(1)
        sess.addLayout(start_row)
        self.session_prompt = QLabel("")
        prompt_font = QFont(self.font())
        prompt_font.setPointSizeF(prompt_font.pointSizeF() * 1.6)
        prompt_font.setBold(True)
        self.session_prompt.setFont(prompt_font)
        self.session_prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.session_progress = QProgressBar()
        self.session_progress.setTextVisible(True)
        self.session_progress.setFormat("%v of %m")
        nav = QHBoxLayout()
        self.session_next = QPushButton("Next")
        self.session_next.setToolTip("Save this drawing and go on (Ctrl+Return)")
        self.session_next.setShortcut("Ctrl+Return")
        self.session_next.clicked.connect(self.session_save_and_next)
        self.session_skip = QPushButton("Skip")
        self.session_skip.clicked.connect(self.session_skip_prompt)
        self.session_stop = QPushButton("End session")
        self.session_stop.clicked.connect(lambda: self.end_session())
        for b in (self.session_next, self.session_skip, self.session_stop):
            nav.addWidget(b)
        self.session_widgets = QWidget()
        sw = QVBoxLayout(self.session_widgets)
        sw.setContentsMargins(0, 0, 0, 0)
        sw.addWidget(self.session_prompt)
        sw.addWidget(self.session_progress)
        sw.addLayout(nav)
        self.session_widgets.setVisible(False)
        sess.addWidget(self.session_widgets)
        col.addWidget(self.session_group)

        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setVisible(False)
        col.addWidget(self.status_label)

        # -- gallery
        head = QHBoxLayout()
        self.gallery_title = QLabel("")
        self.gallery_title.setStyleSheet("font-weight: bold;")
        head.addWidget(self.gallery_title, 1)
        self.filter_combo = QComboBox()
        self.filter_combo.addItem("All digits", None)
        for d in range(10):
            self.filter_combo.addItem(f"Only {d}s", d)
        self.filter_combo.addItem("Misread by the model", "misread")
        self.filter_combo.currentIndexChanged.connect(self._apply_filter)
        head.addWidget(self.filter_combo)
        col.addLayout(head)
        self.counts_label = QLabel("")
        self.counts_label.setStyleSheet("color: palette(placeholder-text);")
        col.addWidget(self.counts_label)

        self.gallery = thumbnail_grid(THUMB, QSize(THUMB + 14, THUMB + 24))
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.gallery.setMinimumHeight(150)
        self.gallery.setToolTip("Select drawings; press a digit key to relabel, Delete to remove")
        self.gallery.itemSelectionChanged.connect(self._update_buttons)
        self.gallery.itemDoubleClicked.connect(lambda item: self.put_on_canvas(item.data(Qt.ItemDataRole.UserRole)))
        self.gallery.installEventFilter(_GalleryKeys(self))
        col.addWidget(self.gallery, 1)

        tools = QHBoxLayout()
        self.relabel_button = QToolButton()
        self.relabel_button.setText("Relabel")
        self.relabel_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        relabel_menu = QMenu(self.relabel_button)
        self.relabel_actions: list[QAction] = []
        for d in range(10):
            act = relabel_menu.addAction(f"as {d}")
            act.triggered.connect(lambda _=False, d=d: self.relabel_selected(d))
            self.relabel_actions.append(act)
        self.relabel_button.setMenu(relabel_menu)
        self.delete_button = QToolButton()
        self.delete_button.setText("Delete")
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.canvas_button = QToolButton()
        self.canvas_button.setText("Put on canvas")
        self.canvas_button.setToolTip("Show this drawing on the canvas (double-click does the same)")
        self.canvas_button.clicked.connect(self._put_selected_on_canvas)
        self.import_button = QToolButton()
        self.import_button.setText("Import…")
        self.import_button.setToolTip("Add drawings from a zip exported by MNIST Desktop")
        self.import_button.clicked.connect(self.import_dialog)
        self.export_button = QToolButton()
        self.export_button.setText("Export…")
        self.export_button.setToolTip("Save all drawings as a zip of PNGs plus labels.csv")
        self.export_button.clicked.connect(self.export_dialog)
        for w in (self.relabel_button, self.delete_button, self.canvas_button):
            tools.addWidget(w)
        tools.addStretch(1)
        tools.addWidget(self.import_button)
        tools.addWidget(self.export_button)
        col.addLayout(tools)
        return page

    def _build_results(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(6, 8, 6, 6)
        col.setSpacing(6)

        measure_row = QHBoxLayout()
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("Test the active model on your drawings (and on MNIST test)")
        self.measure_button.clicked.connect(lambda: self.measure(include_mnist=True))
        measure_row.addWidget(self.measure_button)
        self.model_label = QLabel("")
        self.model_label.setStyleSheet("color: palette(placeholder-text);")
        self.model_label.setWordWrap(True)
        measure_row.addWidget(self.model_label, 1)
        col.addLayout(measure_row)

        scores = QVBoxLayout()
        scores.setSpacing(2)
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.7)
        big.setBold(True)
        self.personal_score = QLabel("–")
        self.mnist_score = QLabel("–")
        self.personal_caption = QLabel("your drawings")
        self.mnist_caption = QLabel("MNIST test")
        for i, (score, caption) in enumerate(((self.personal_score, self.personal_caption), (self.mnist_score, self.mnist_caption))):
            score.setFont(big)
            caption.setStyleSheet("color: palette(placeholder-text);")
            caption.setWordWrap(True)
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
        col.addLayout(top)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        col.addWidget(line)

        tune_title = QLabel("<b>Fine-tune on your handwriting</b>")
        col.addWidget(tune_title)
        tune_hint = QLabel("Trains the active model a little on your drawings mixed with MNIST, so it learns your "
                           "style without forgetting MNIST. Some of your drawings are held out to measure the result. "
                           "The tuned model is saved as a new file; the current one is not changed.")
        tune_hint.setWordWrap(True)
        tune_hint.setStyleSheet("color: palette(placeholder-text);")
        col.addWidget(tune_hint)
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
        self.tune_button.clicked.connect(lambda: self.start_finetune())
        self.tune_stop = QPushButton("Stop")
        self.tune_stop.clicked.connect(self.stop_finetune)
        opts_row.addWidget(self.tune_button)
        opts_row.addWidget(self.tune_stop)
        col.addLayout(opts_row)
        self.tune_progress = QProgressBar()
        self.tune_progress.setVisible(False)
        col.addWidget(self.tune_progress)
        self.chart = TrainingChart()
        self.chart.setFixedHeight(240)
        placeholder = getattr(self.chart, "placeholder", None)
        if placeholder is not None:
            placeholder.setText("Fine-tune: accuracy on your held-out drawings appears here")

        self.report_grid = QGridLayout()
        self.report_grid.setHorizontalSpacing(14)
        headers = ("", "before", "after", "change")
        self.report_cells: dict[tuple[int, int], QLabel] = {}
        for c, text in enumerate(headers):
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
        self.use_tuned_button = QPushButton("Use the tuned model")
        self.use_tuned_button.setToolTip("Make the fine-tuned model the one that reads the canvas")
        self.use_tuned_button.clicked.connect(self.use_tuned_model)
        self.use_tuned_button.setVisible(False)
        col.addWidget(self.use_tuned_button, 0, Qt.AlignmentFlag.AlignLeft)
        # the chart goes last: after a run the before/after table must be visible without scrolling
        col.addWidget(self.chart)
        col.addStretch(1)
        return page

    def sizeHint(self) -> QSize:
        return QSize(480, 640)  # room for a 6-wide gallery; the canvas keeps the rest of the window

    # ------------------------------------------------------------------ worker
    def attach_worker(self, worker: Any) -> None:
        """Called by the main window once JAX is up."""
        self.worker = worker
        worker.prediction.connect(self._on_prediction)
        worker.jobFinished.connect(self._on_job_finished)
        worker.trainStarted.connect(self._on_train_started)
        worker.trainStep.connect(self._on_train_step)
        worker.trainEpoch.connect(self._on_train_epoch)
        worker.trainFinished.connect(self._on_train_finished)
        self._update_buttons()

    def _digit_model(self) -> bool:
        active = self.window.active
        return bool(active.get("params")) and list(active.get("class_names") or DIGITS) == list(DIGITS)

    def _on_model_changed(self, info: dict) -> None:
        name = info.get("name", "?")
        self.model_label.setText(f"Active model: {name}")
        self._mnist_text = ""
        self._measure = None
        self._show_measurement()
        self._update_buttons()
        if len(self.dataset) and self.worker is not None:
            self.measure(include_mnist=self.isVisible() and self.tabs.currentIndex() == 1)

    def reload(self) -> None:
        """Re-read the set from disk (after another program or a test changed it)."""
        self.dataset = self._load(self.dataset.root)
        self._measure = None
        self._refresh_gallery()
        self._show_measurement()

    # ------------------------------------------------------------------ canvas and prediction
    def _on_canvas_changed(self) -> None:
        if self.window.canvas.is_empty():
            self._prediction = None
            self._user_picked = False
            self.picker.set_value(None)
        self._update_buttons()

    def _on_prediction(self, probabilities: Any, _analysis: Any) -> None:
        if probabilities is None or self.window.model_input is None or self.window.canvas.is_empty():
            self._prediction = None
        else:
            self._prediction = int(np.argmax(probabilities))
            if not self._user_picked and self._session is None:
                self.picker.set_value(self._prediction)
        self._update_buttons()

    def _on_user_picked(self, _digit: int) -> None:
        self._user_picked = True
        self._update_buttons()

    def current_prediction(self) -> int | None:
        return self._prediction

    # ------------------------------------------------------------------ collecting
    def add_example(self, label: int | None = None) -> Sample | None:
        """Save the canvas under ``label`` (default: the picked digit)."""
        label = self.picker.value() if label is None else int(label)
        if label is None:
            self._set_status("Pick which digit it is first.", error=True)
            return None
        predicted = self._prediction
        source = "correction" if predicted is not None and predicted != label else "example"
        return self._save_canvas(label, source, predicted)

    def correct_as(self, label: int) -> Sample | None:
        """The model misread the drawing: save it as ``label`` with what the model said."""
        return self._save_canvas(int(label), "correction", self._prediction)

    def _save_canvas(self, label: int, source: str, predicted: int | None) -> Sample | None:
        canvas = self.window.canvas
        if canvas.is_empty():
            self._set_status("Draw a digit on the canvas first.", error=True)
            return None
        drawing = canvas.to_array()
        model_input = to_model_input(drawing)
        if model_input is None:
            self._set_status("Draw a digit on the canvas first.", error=True)
            return None
        try:
            sample = self.dataset.add(drawing, label, source=source, predicted=predicted, model_input=model_input)
        except MnistDesktopError as err:
            self._set_status(str(err), error=True)
            return None
        self._add_item(sample)
        self._after_change()
        note = f" (the model read {predicted})" if source == "correction" and predicted is not None else ""
        self._set_status(f"Saved as {label}{note}. You have {len(self.dataset)} drawing{'s' if len(self.dataset) != 1 else ''}.")
        if self.clear_after.isChecked() or self._session is not None:
            canvas.clear()
        return sample

    # ------------------------------------------------------------------ guided session
    def start_session(self, times: int | None = None, seed: int | None = None) -> None:
        """Ask for every digit ``times`` times, each round in a new random order."""
        n = int(times or self.session_count.value())
        rng = random.Random(seed)
        queue: list[tuple[int, int]] = []
        for round_ in range(1, n + 1):
            digits = list(range(10))
            rng.shuffle(digits)
            queue += [(d, round_) for d in digits]
        self._session = {"queue": queue, "pos": 0, "added": 0, "skipped": 0, "times": n}
        self.session_progress.setRange(0, len(queue))
        self.session_widgets.setVisible(True)
        self.session_start.setEnabled(False)
        self.session_count.setEnabled(False)
        self.label_box.setEnabled(False)
        self.window.canvas.clear()
        self._show_prompt()

    def session_prompt_text(self) -> str:
        return self.session_prompt.text()

    def _show_prompt(self) -> None:
        s = self._session
        assert s is not None
        digit, round_ = s["queue"][s["pos"]]
        self.session_prompt.setText(f"Draw {digit_article(digit)}  ({round_} of {s['times']})")
        self.session_progress.setValue(s["pos"])
        self.picker.set_value(digit)
        self._update_buttons()

    def session_save_and_next(self) -> None:
        s = self._session
        if s is None:
            return
        digit = s["queue"][s["pos"]][0]
        if self.window.canvas.is_empty():
            self._set_status(f"Draw {digit_article(digit)} on the canvas, then press Next (or Skip).", error=True)
            return
        if self._save_canvas(digit, "session", self._prediction) is not None:
            s["added"] += 1
            self._advance()

    def session_skip_prompt(self) -> None:
        if self._session is not None:
            self._session["skipped"] += 1
            self.window.canvas.clear()
            self._advance()

    def _advance(self) -> None:
        s = self._session
        assert s is not None
        s["pos"] += 1
        if s["pos"] >= len(s["queue"]):
            self.end_session(finished=True)
        else:
            self._show_prompt()

    def end_session(self, finished: bool = False) -> None:
        s, self._session = self._session, None
        self.session_widgets.setVisible(False)
        self.session_start.setEnabled(True)
        self.session_count.setEnabled(True)
        self.label_box.setEnabled(True)
        self.picker.set_value(None)
        if s is not None:
            lead = "Session done" if finished else "Session ended"
            self._set_status(f"{lead}: {s['added']} drawing{'s' if s['added'] != 1 else ''} added, {s['skipped']} skipped. "
                             "See how the model reads them under Results.")
        self._update_buttons()

    # ------------------------------------------------------------------ gallery
    def _misread_ids(self) -> dict[str, int]:
        m = self._measure
        if not m or not len(m.get("ids", [])):
            return {}
        return {sid: int(p) for sid, p, y in zip(m["ids"], m["predictions"], m["labels"]) if int(p) != int(y)}

    def _item_for(self, sample: Sample, misread: dict[str, int]) -> QListWidgetItem:
        item = QListWidgetItem()
        self._style_item(item, sample, misread)
        return item

    def _style_item(self, item: QListWidgetItem, sample: Sample, misread: dict[str, int]) -> None:
        wrong = misread.get(sample.id)
        item.setData(Qt.ItemDataRole.UserRole, sample.id)
        item.setText(f"{sample.label}  (read {wrong})" if wrong is not None else str(sample.label))
        try:
            image = self.dataset.model_input(sample.id)
        except (MnistDesktopError, KeyError):
            image = np.zeros((28, 28), np.float32)
        item.setIcon(QIcon(thumbnail(image, misread=wrong is not None)))
        how = {"example": "added as an example", "correction": "a correction", "session": "from a guided session",
               "import": "imported"}.get(sample.source, sample.source)
        lines = [f"Labelled {sample.label} · {how}"]
        if sample.predicted is not None and sample.source == "correction":
            lines.append(f"The model read {sample.predicted} when you saved it")
        if wrong is not None:
            lines.append(f"The active model reads it as {wrong}")
        if sample.created:
            lines.append(sample.created.replace("T", " ")[:16])
        item.setToolTip("\n".join(lines))
        if wrong is not None:
            item.setForeground(BAD)
        else:
            item.setData(Qt.ItemDataRole.ForegroundRole, None)

    def _add_item(self, sample: Sample) -> None:
        self.gallery.addItem(self._item_for(sample, self._misread_ids()))
        self._apply_filter()
        self._update_titles()

    def _refresh_gallery(self) -> None:
        selected = set(self.selected_ids())
        misread = self._misread_ids()
        self.gallery.setUpdatesEnabled(False)
        self.gallery.clear()
        for sample in self.dataset.samples:
            item = self._item_for(sample, misread)
            self.gallery.addItem(item)
            item.setSelected(sample.id in selected)
        self.gallery.setUpdatesEnabled(True)
        self._apply_filter()
        self._update_titles()
        self._update_buttons()

    def _update_titles(self) -> None:
        n = len(self.dataset)
        self.gallery_title.setText(f"Your drawings ({n})")
        counts = self.dataset.counts()
        self.counts_label.setText("  ".join(f"{d}: {c}" for d, c in enumerate(counts)) if n else
                                  "None yet — add some, or start a guided session.")
        if self.dataset.problems:
            self.counts_label.setToolTip("Some saved drawings could not be read:\n" + "\n".join(self.dataset.problems[:20]))

    def _apply_filter(self) -> None:
        which = self.filter_combo.currentData()
        misread = self._misread_ids() if which == "misread" else {}
        for i in range(self.gallery.count()):
            item = self.gallery.item(i)
            sid = item.data(Qt.ItemDataRole.UserRole)
            if which is None:
                hide = False
            elif which == "misread":
                hide = sid not in misread
            else:
                hide = self.dataset.get(sid).label != which if sid in self.dataset else True
            item.setHidden(hide)

    def gallery_ids(self) -> list[str]:
        """Ids shown in the gallery, in order (hidden by the filter included)."""
        return [self.gallery.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.gallery.count())]

    def selected_ids(self) -> list[str]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.gallery.selectedItems()]

    def select_ids(self, ids: list[str]) -> None:
        wanted = set(ids)
        for i in range(self.gallery.count()):
            item = self.gallery.item(i)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) in wanted)

    def relabel_selected(self, label: int) -> int:
        ids = self.selected_ids()
        changed = 0
        for sid in ids:
            try:
                if self.dataset.get(sid).label != label:
                    self.dataset.relabel(sid, label)
                    changed += 1
            except (MnistDesktopError, KeyError) as err:
                self._set_status(f"Could not relabel: {err}", error=True)
                break
        if changed:
            self._refresh_gallery()
            self._after_change()
            self._set_status(f"Relabelled {changed} drawing{'s' if changed != 1 else ''} as {label}.")
        return changed

    def delete_selected(self, confirm: bool = True) -> int:
        ids = self.selected_ids()
        if not ids:
            return 0
        if confirm and len(ids) > 1:
            answer = QMessageBox.question(self, "Delete drawings", f"Delete {len(ids)} drawings? This cannot be undone.")
            if answer != QMessageBox.StandardButton.Yes:
                return 0
        try:
            removed = self.dataset.delete(ids)
        except MnistDesktopError as err:
            self._set_status(str(err), error=True)
            return 0
        self._refresh_gallery()
        self._after_change()
        self._set_status(f"Deleted {removed} drawing{'s' if removed != 1 else ''}.")
        return removed

    def put_on_canvas(self, sample_id: str) -> bool:
        try:
            picture = self.dataset.drawing(sample_id)
        except (MnistDesktopError, KeyError) as err:
            self._set_status(f"Could not open that drawing: {err}", error=True)
            return False
        self.window.load_picture(picture)
        return True

    def _put_selected_on_canvas(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.put_on_canvas(ids[0])

    # ------------------------------------------------------------------ zip
    def _dialog_dir(self) -> str:
        return str(read_setting(self.window.settings, "dirs/personal", str(Path.home())))

    def export_dialog(self) -> None:
        if not len(self.dataset):
            self._set_status("Nothing to export yet.", error=True)
            return
        suggested = str(Path(self._dialog_dir()) / "my-handwriting.zip")
        path, _ = QFileDialog.getSaveFileName(self, "Export drawings", suggested, ZIP_FILTER)
        if path:
            self.window.settings.setValue("dirs/personal", str(Path(path).parent))
            self.export_to(path)

    def export_to(self, path: str | Path) -> bool:
        try:
            n = self.dataset.export_zip(path)
        except MnistDesktopError as err:
            self._set_status(str(err), error=True)
            return False
        self._set_status(f"Exported {n} drawings to {path}.")
        return True

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import drawings", self._dialog_dir(), ZIP_FILTER)
        if not path:
            return
        self.window.settings.setValue("dirs/personal", str(Path(path).parent))
        report = self.import_from(path)
        if report is not None and report.skipped:
            box = QMessageBox(QMessageBox.Icon.Warning, "Some drawings were skipped",
                              f"{report.summary()}.\n\nThe skipped files were left out; everything else was added.",
                              QMessageBox.StandardButton.Ok, self)
            box.setDetailedText(report.details())
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
            box.open()

    def import_from(self, path: str | Path):
        """Import a zip; returns the :class:`ImportReport` (None if the file was refused)."""
        try:
            report = self.dataset.import_zip(path)
        except MnistDesktopError as err:
            self._set_status(str(err), error=True)
            return None
        self._refresh_gallery()
        if report.added:
            self._after_change()
        text = report.summary() + "."
        if report.skipped:
            shown = "; ".join(f"{name}: {why}" for name, why in report.skipped[:3])
            more = f" (+{len(report.skipped) - 3} more)" if len(report.skipped) > 3 else ""
            text += f" Skipped {shown}{more}."
        self._set_status(text, error=bool(report.skipped) and not report.added)
        return report

    # ------------------------------------------------------------------ measuring
    def _after_change(self) -> None:
        self.samplesChanged.emit()
        self._measure_timer.start()  # debounced: a session's burst of adds measures once
        self._update_buttons()

    def measure(self, include_mnist: bool = True) -> bool:
        """Ask the worker for the active model's accuracy on the set (and MNIST test)."""
        self._measure_timer.stop()
        if self.worker is None or not self.window.active.get("params"):
            self.personal_caption.setText("your drawings — no model loaded yet")
            return False
        mnist = replay_dataset_name() if include_mnist and self._digit_model() else None
        self.worker.jobRequested.emit("personal-measure", MEASURE_JOB, {
            "personal_dir": str(self.dataset.root),
            "exclude_ids": trained_on_ids(self.window.active.get("metadata")),
            "mnist": mnist,
        })
        self.measure_button.setEnabled(False)
        return True

    def _on_job_finished(self, tag: str, result: Any) -> None:
        if tag == "personal-measure":
            self.measure_button.setEnabled(True)
            if isinstance(result, dict) and "error" in result:
                self.personal_caption.setText(f"could not measure: {result['error']}")
                return
            self._measure = result
            if result.get("mnist_accuracy") is not None:
                name = "MNIST test" if result["mnist_dataset"] == "mnist" else "MNIST test (bundled subset)"
                self._mnist_text = f"{name}, {result['mnist_count']:,} images"
                self._mnist_value = result["mnist_accuracy"]
            self._show_measurement()
            self._refresh_gallery()
            self.measured.emit(result)
        elif tag == "personal-finish":
            self._on_finetune_done(result)

    def _show_measurement(self) -> None:
        m = self._measure
        if not m or not m.get("count"):
            self.personal_score.setText("–")
            self.personal_caption.setText("your drawings — add some, then Measure" if not len(self.dataset)
                                          else "your drawings — press Measure")
            self.confusion.set_matrix(None)
        else:
            self.personal_score.setText(accuracy_text(m["accuracy"]))
            self.personal_score.setStyleSheet(f"color: {(GOOD if m['accuracy'] >= 0.9 else BAD).name()};")
            extra = f"; {m['excluded']} it trained on left out" if m.get("excluded") else ""
            self.personal_caption.setText(f"your drawings: {m['correct']} of {m['count']} read right{extra}")
            self.confusion.set_matrix(m["confusion"])
        if self._mnist_text:
            self.mnist_score.setText(accuracy_text(self._mnist_value))
            self.mnist_caption.setText(self._mnist_text)
        else:
            recorded = self.window.active.get("test_accuracy")
            self.mnist_score.setText(accuracy_text(recorded) if isinstance(recorded, float) else "–")
            self.mnist_caption.setText("MNIST test (recorded in the model file)" if isinstance(recorded, float)
                                       else "MNIST test — press Measure")

    def measurement(self) -> dict[str, Any] | None:
        return self._measure

    # ------------------------------------------------------------------ fine-tuning
    def finetune_options(self) -> FinetuneOptions:
        return FinetuneOptions(held_out=self.held_out_spin.value() / 100, epochs=float(self.epochs_spin.value()))

    def start_finetune(self, options: FinetuneOptions | None = None) -> bool:
        """Fine-tune the active model on the worker; the result is saved as a new model."""
        if self._ft_state != "idle" or self.worker is None:
            return False
        if self.worker.is_training():
            self.tune_status.setText("Another training run is in progress; wait for it to finish.")
            return False
        if not self._digit_model():
            self.tune_status.setText("Fine-tuning on handwriting needs a digit (MNIST) model; open one first.")
            return False
        if len(self.dataset) < MIN_SAMPLES_TO_TUNE:
            self.tune_status.setText(f"Add at least {MIN_SAMPLES_TO_TUNE} drawings first (you have {len(self.dataset)}); "
                                     "a guided session is the quickest way.")
            return False
        options = options or self.finetune_options()
        try:
            options.validate()
        except MnistDesktopError as err:
            self.tune_status.setText(str(err))
            return False
        active = self.window.active
        dataset_name = replay_dataset_name()
        config = finetune_config(active["model_name"], dataset_name, options).to_dict()
        # fix the split now: drawings added during the run must not count as trained on or held out
        split = self.dataset.split(options.held_out, options.seed)
        ids = {"train_ids": list(split.train_ids), "held_out_ids": list(split.held_out_ids)}
        self._ft = {"ids": ids,
            "model_name": active["model_name"], "base_params": active["params"], "options": options,
            "config": config, "dataset": dataset_name,
            "base_info": {k: active.get(k) for k in ("name", "path", "metadata", "dataset", "class_names")},
        }
        self.record = RunRecord(number=1, config={**config, "dataset": "(your handwriting + MNIST)"},
                                dataset_title="your handwriting")
        self.chart.show_runs(self.record, [])
        self._ft_state = "training"
        self.tune_progress.setVisible(True)
        self.tune_progress.setRange(0, 0)
        self.report_box.setVisible(False)
        self.use_tuned_button.setVisible(False)
        self.tune_status.setText(f"Preparing: {len(split.train_ids)} of your drawings to learn from, "
                                 f"{len(split.held_out_ids)} held out to measure…")
        self._update_buttons()
        self.worker.trainRequested.emit(config, "", "active", {"builder": BUILDER, "personal_dir": str(self.dataset.root),
                                                                **options.to_dict(), **ids})
        return True

    def stop_finetune(self) -> None:
        if self._ft_state == "training" and self.worker is not None:
            self.worker.stop_training()
            self.tune_status.setText("Stopping…")

    def _is_mine(self, payload: dict) -> bool:
        return self._ft_state == "training" and self._ft is not None and payload.get("config") == self._ft["config"]

    def _on_train_started(self, info: dict) -> None:
        if not self._is_mine(info):
            self._update_buttons()  # someone else's run: no fine-tune until it ends
            return
        self.record.steps_per_epoch = int(info["steps_per_epoch"])
        self.record.total_steps = int(info["total_steps"])
        self.tune_progress.setRange(0, self.record.total_steps)
        self.tune_progress.setValue(0)
        self.tune_progress.setFormat("compiling…")

    def _on_train_step(self, event: dict) -> None:
        if self._ft_state != "training" or self.record.total_steps == 0:
            return
        self.record.add_step(event)
        self.chart.live_changed()
        self.tune_progress.setValue(int(event["step"]))
        self.tune_progress.setFormat(f"step {event['step']}/{event['total_steps']} · ETA {format_duration(event['eta'])}")

    def _on_train_epoch(self, event: dict) -> None:
        if self._ft_state != "training" or self.record.total_steps == 0:
            return
        self.record.add_epoch(event)
        self.chart.live_changed()
        if event.get("val_accuracy") is not None:
            self.tune_status.setText(f"Epoch {event['epoch']}/{event['epochs']}: your held-out drawings "
                                     f"{event['val_accuracy']:.1%}")

    def _on_train_finished(self, result: dict) -> None:
        if not self._is_mine(result):
            self._update_buttons()
            return
        ft = self._ft
        assert ft is not None
        self.record.finish(result)
        self.chart.live_changed()
        status = result.get("status")
        if status != "completed" or result.get("params") is None:
            self._ft_state, self._ft = "idle", None
            self.tune_progress.setVisible(False)
            self.tune_status.setText("Fine-tuning stopped; your model is unchanged." if status == "stopped"
                                     else f"Fine-tuning failed: {result.get('message', 'unknown error')}")
            self._update_buttons()
            self.finetuneFinished.emit({"error": result.get("message", status)})
            return
        self._ft_state = "finishing"
        self.tune_progress.setRange(0, 0)
        self.tune_progress.setFormat("checking MNIST and measuring…")
        self.tune_status.setText("Checking that MNIST is not forgotten, measuring before and after…")
        self.worker.jobRequested.emit("personal-finish", FINISH_JOB, {
            "model_name": ft["model_name"], "base_params": ft["base_params"], "tuned_params": result["params"],
            "personal_dir": str(self.dataset.root), "dataset": ft["dataset"], "options": ft["options"].to_dict(),
            "base_info": ft["base_info"], "config": ft["config"], "status": status, **ft["ids"],
        })

    def _on_finetune_done(self, result: Any) -> None:
        if self._ft is not None:
            self._last_options = self._ft["options"]
        self._ft_state, self._ft = "idle", None
        self.tune_progress.setVisible(False)
        if not isinstance(result, dict) or "error" in result:
            message = result.get("error") if isinstance(result, dict) else "unknown error"
            self.tune_status.setText(f"Could not finish the fine-tune: {message}. Your model is unchanged.")
            self._update_buttons()
            self.finetuneFinished.emit({"error": message})
            return
        report: FinetuneReport = result["report"]
        self.last_report = report
        self.tuned_path = result["path"]
        self._show_report(report)
        self.use_tuned_button.setVisible(True)
        self._update_buttons()
        self.finetuneFinished.emit(result)

    def _show_report(self, report: FinetuneReport) -> None:
        def cell(r: int, c: int, text: str, colour: QColor | None = None) -> None:
            label = self.report_cells[(r, c)]
            label.setText(text)
            label.setStyleSheet(f"color: {colour.name()}; font-weight: bold;" if colour else "")

        def change(before: float | None, after: float | None, tolerance: float) -> tuple[str, QColor | None]:
            if before is None or after is None:
                return "–", None
            delta = (after - before) * 100
            return f"{delta:+.1f} pts", (GOOD if delta > 0 else BAD if delta < -tolerance * 100 else None)

        cell(1, 1, accuracy_text(report.personal_before))
        cell(1, 2, accuracy_text(report.personal_after))
        cell(1, 3, *change(report.personal_before, report.personal_after, 0.0))
        cell(2, 1, f"{report.mnist_before:.2%}")
        cell(2, 2, f"{report.mnist_after:.2%}")
        cell(2, 3, *change(report.mnist_before, report.mnist_after, 0.003))
        mnist_label = self.report_grid.itemAtPosition(2, 0).widget()
        mnist_label.setText("MNIST test" if report.mnist_dataset == "mnist" else "MNIST test (subset)")
        self.report_box.setVisible(True)
        notes = [f"Learned from {report.n_train} of your drawings; measured on {report.n_held_out} it never saw."]
        usual = self._last_options.blend
        if report.blend < usual:
            notes.append(f"MNIST slipped, so only {report.blend:.0%} of the change was kept (usually {usual:.0%}).")
        elif report.blend < 1.0:
            notes.append(f"It keeps {report.blend:.0%} of the change, blended with the original to protect MNIST.")
        if report.mnist_drop > 0.003:
            notes.append(f"MNIST test fell {report.mnist_drop * 100:.1f} points — more than the 0.3 allowed; "
                         "try more drawings or fewer epochs.")
        notes.append(f"Saved as {Path(self.tuned_path or '').name} — your current model is unchanged.")
        self.tune_status.setText(" ".join(notes))

    def use_tuned_model(self) -> None:
        if self.tuned_path:
            self.window.load_model(self.tuned_path)
            self.use_tuned_button.setVisible(False)
            self.tune_status.setText(f"{Path(self.tuned_path).name} is now the active model. "
                                     "File → Use Default Model goes back.")

    # ------------------------------------------------------------------ state
    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))
        self.status_label.setStyleSheet(f"color: {BAD.name()};" if error else "")

    def _update_buttons(self) -> None:
        has_drawing = not self.window.canvas.is_empty()
        in_session = self._session is not None
        self.add_button.setEnabled(has_drawing and self.picker.value() is not None and not in_session)
        self.correct_button.setEnabled(has_drawing and not in_session)
        for d, act in enumerate(self.correct_actions):
            act.setEnabled(d != self._prediction)
        self.correct_button.setText("Correct it" if self._prediction is None else f"Not {digit_article(self._prediction)}? Correct it")
        selected = bool(self.gallery.selectedItems())
        for w in (self.relabel_button, self.delete_button):
            w.setEnabled(selected)
        self.canvas_button.setEnabled(len(self.gallery.selectedItems()) == 1)
        self.export_button.setEnabled(len(self.dataset) > 0)
        if in_session:
            self.session_next.setEnabled(has_drawing)
        training = self._ft_state != "idle"
        other_run = self.worker is not None and self.worker.is_training() and not training
        self.tune_button.setEnabled(self.worker is not None and not training and not other_run and self._digit_model()
                                    and len(self.dataset) >= MIN_SAMPLES_TO_TUNE)
        self.tune_button.setToolTip("" if len(self.dataset) >= MIN_SAMPLES_TO_TUNE
                                    else f"Add at least {MIN_SAMPLES_TO_TUNE} drawings first")
        self.tune_stop.setEnabled(self._ft_state == "training")
        self.measure_button.setEnabled(self.worker is not None and bool(self.window.active.get("params")))
