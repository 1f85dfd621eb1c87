"""The Collect tab: label what is on the canvas, run a guided session, browse the gallery.

"Add as example" saves the drawing with the picked digit (saved as a correction
when the model read something else); "Correct it" saves it as the digit the
person says when the model got it wrong. The picker follows the prediction
until the person picks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.handwriting.store import HandwritingSet, Sample
from mnist_desktop.gui.handwriting.gallery import Gallery, plural
from mnist_desktop.gui.handwriting.guided_session import GuidedSession
from mnist_desktop.gui.handwriting.widgets import BAD, DigitPicker, digit_article
from mnist_desktop.gui.model_session import ModelSession


class CollectTab(QWidget):
    """See the module docstring; ``added`` fires when a drawing was saved."""

    added = Signal()

    def __init__(self, store: HandwritingSet, session: ModelSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.session = session
        self.guided: GuidedSession | None = None
        self._prediction: int | None = None
        self._user_picked = False
        self.gallery = Gallery(store, session)
        self.gallery.status.connect(self.set_status)
        self._build()
        session.drawingChanged.connect(self._on_drawing_changed)
        session.predicted.connect(self._on_prediction)

    def set_store(self, store: HandwritingSet) -> None:
        self.store = self.gallery.store = store

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        col = QVBoxLayout(self)
        col.setContentsMargins(6, 8, 6, 6)
        col.setSpacing(6)
        intro = QLabel("Teach the model <b>your</b> handwriting: draw a digit on the canvas, then save it with its label.")
        intro.setWordWrap(True)
        col.addWidget(intro)
        col.addWidget(self._build_labelling())
        col.addWidget(self._build_guided())
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setVisible(False)
        col.addWidget(self.status_label)
        col.addWidget(self.gallery, 1)

    def _build_labelling(self) -> QWidget:
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
        return self.label_box

    def _build_guided(self) -> QWidget:
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
        return self.session_group

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))
        self.status_label.setStyleSheet(f"color: {BAD.name()};" if error else "")

    # ------------------------------------------------------------------ canvas and prediction
    def _on_drawing_changed(self) -> None:
        if not self.session.has_drawing():
            self._prediction = None
            self._user_picked = False
            self.picker.set_value(None)
        self.update_buttons()

    def _on_prediction(self, probabilities: Any, _analysis: Any) -> None:
        if probabilities is None or self.session.model_input is None or not self.session.has_drawing():
            self._prediction = None
        else:
            self._prediction = int(np.argmax(probabilities))
            if not self._user_picked and self.guided is None:
                self.picker.set_value(self._prediction)
        self.update_buttons()

    def _on_user_picked(self, _digit: int) -> None:
        self._user_picked = True
        self.update_buttons()

    def current_prediction(self) -> int | None:
        return self._prediction

    # ------------------------------------------------------------------ saving
    def add_example(self, label: int | None = None) -> Sample | None:
        """Save the canvas under ``label`` (default: the picked digit)."""
        label = self.picker.value() if label is None else int(label)
        if label is None:
            self.set_status("Pick which digit it is first.", error=True)
            return None
        predicted = self._prediction
        source = "correction" if predicted is not None and predicted != label else "example"
        return self._save_canvas(label, source, predicted)

    def correct_as(self, label: int) -> Sample | None:
        """The model misread the drawing: save it as ``label`` with what the model said."""
        return self._save_canvas(int(label), "correction", self._prediction)

    def _save_canvas(self, label: int, source: str, predicted: int | None) -> Sample | None:
        if not self.session.has_drawing():
            self.set_status("Draw a digit on the canvas first.", error=True)
            return None
        drawing = self.session.drawing()
        model_input = to_model_input(drawing)
        if model_input is None:
            self.set_status("Draw a digit on the canvas first.", error=True)
            return None
        try:
            sample = self.store.add(drawing, label, source=source, predicted=predicted, model_input=model_input)
        except MnistDesktopError as err:
            self.set_status(str(err), error=True)
            return None
        self.gallery.add_item(sample)
        self.added.emit()
        note = f" (the model read {predicted})" if source == "correction" and predicted is not None else ""
        self.set_status(f"Saved as {label}{note}. You have {plural(len(self.store))}.")
        if self.clear_after.isChecked() or self.guided is not None:
            self.session.clear_drawing()
        return sample

    # ------------------------------------------------------------------ guided session
    def start_session(self, times: int | None = None) -> None:
        """Ask for every digit ``times`` times, 0 to 9 in order; the prompt shows on the canvas."""
        self.guided = GuidedSession.start(int(times or self.session_count.value()))
        self.session_progress.setRange(0, len(self.guided.queue))
        self.session_widgets.setVisible(True)
        self.session_start.setEnabled(False)
        self.session_count.setEnabled(False)
        self.label_box.setEnabled(False)
        self.session.clear_drawing()
        self._show_prompt()

    def session_prompt_text(self) -> str:
        return self.session_prompt.text()

    def _show_prompt(self) -> None:
        assert self.guided is not None
        digit, round_ = self.guided.current()
        self.session_prompt.setText(f"Draw {digit_article(digit)}  ({round_} of {self.guided.times})")
        self.session.set_canvas_prompt(f"Draw {digit_article(digit)}")
        self.session_progress.setValue(self.guided.pos)
        self.picker.set_value(digit)
        self.update_buttons()

    def session_save_and_next(self) -> None:
        guided = self.guided
        if guided is None:
            return
        digit = guided.current()[0]
        if not self.session.has_drawing():
            self.set_status(f"Draw {digit_article(digit)} on the canvas, then press Next (or Skip).", error=True)
            return
        if self._save_canvas(digit, "session", self._prediction) is not None:
            guided.added += 1
            self._advance()

    def session_skip_prompt(self) -> None:
        if self.guided is not None:
            self.guided.skipped += 1
            self.session.clear_drawing()
            self._advance()

    def _advance(self) -> None:
        assert self.guided is not None
        if self.guided.advance():
            self.end_session(finished=True)
        else:
            self._show_prompt()

    def end_session(self, finished: bool = False) -> None:
        guided, self.guided = self.guided, None
        self.session.set_canvas_prompt(None)
        self.session_widgets.setVisible(False)
        self.session_start.setEnabled(True)
        self.session_count.setEnabled(True)
        self.label_box.setEnabled(True)
        self.picker.set_value(None)
        if guided is not None:
            lead = "Session done" if finished else "Session ended"
            self.set_status(f"{lead}: {plural(guided.added)} added, {guided.skipped} skipped. "
                            "See how the model reads them under Results.")
        self.update_buttons()

    # ------------------------------------------------------------------ state
    def update_buttons(self) -> None:
        has_drawing = self.session.has_drawing() and not self.store.blocked  # read-only until repaired
        in_session = self.guided is not None
        self.add_button.setEnabled(has_drawing and self.picker.value() is not None and not in_session)
        self.correct_button.setEnabled(has_drawing and not in_session)
        for d, act in enumerate(self.correct_actions):
            act.setEnabled(d != self._prediction)
        self.correct_button.setText("Correct it" if self._prediction is None
                                    else f"Not {digit_article(self._prediction)}? Correct it")
        if in_session:
            self.session_next.setEnabled(has_drawing)
        self.gallery.update_buttons()
