"""Side by side: up to four pinned models read the same drawing as you draw.

Each card shows a model's answer, its verdict (styled as beside the big digit)
and a small saliency map of what it looked at; clicking a card makes that
model the active one. Pin the active model, a finished run from this session
or a model file. Everything is computed on the worker (``compare_worker.py``);
the strip only paints what comes back, newest drawing first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton,
                               QVBoxLayout, QWidget)

from mnist_desktop.core.formatting import format_probability
from mnist_desktop.gui.digit_views import _PixelView
from mnist_desktop.gui.qimage_convert import grey_array_to_qimage, heatmap_to_qimage
from mnist_desktop.gui.verdict_badge import VerdictBadge, verdict_text

MAX_CARDS = 4


class CompareCard(QFrame):
    """One pinned model: title, answer + verdict, saliency; click to activate, × to unpin."""

    clicked = Signal(str)
    unpin = Signal(str)

    def __init__(self, key: str, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.key = key
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to make this the active model")
        self.setAccessibleName(f"Compare {title}")
        self.title = QLabel(title)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        close = QToolButton()
        close.setText("×")
        close.setToolTip("Unpin this model")
        close.clicked.connect(lambda: self.unpin.emit(self.key))
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(close)
        self.answer = QLabel("—")
        big = self.answer.font()
        big.setPointSizeF(big.pointSizeF() * 1.6)
        big.setBold(True)
        self.answer.setFont(big)
        self.answer.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge = VerdictBadge()
        self.pixels = _PixelView()
        self.pixels.setMinimumSize(72, 72)
        self.pixels.setMaximumSize(96, 96)
        self.pixels.setToolTip("What this model looked at (gradient saliency of its answer)")
        self.setMinimumWidth(230)
        self.setMaximumWidth(320)
        # saliency beside the answer: the strip stays short enough to sit under the canvas
        words = QVBoxLayout()
        words.addWidget(self.answer)
        words.addWidget(self.badge)
        words.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.pixels)
        body.addLayout(words, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        self.image: np.ndarray | None = None

    def show_reading(self, row: dict[str, Any], image: np.ndarray | None, names: list[str]) -> None:
        probs, verdict = row.get("probabilities"), row.get("verdict")
        if probs is None or verdict is None:
            self.answer.setText("—")
            self.badge.show_verdict("", "")
            self.pixels.set_images(None, None)
            return
        headline, badge = verdict_text(verdict, names)
        confidence = format_probability(float(np.max(probs)))
        self.answer.setText(f"{headline}  {confidence}" if verdict["kind"] in ("digit", "unsure") else headline)
        note = verdict.get("reason", "")
        if not row.get("has_doubt"):
            note = note or "no OOD score in this model: confidence only"
        self.badge.show_verdict(verdict["kind"], badge, note)
        saliency = row.get("saliency")
        self.pixels.set_images(None if image is None else grey_array_to_qimage(image),
                               None if saliency is None else heatmap_to_qimage(np.asarray(saliency)))

    def shown_text(self) -> str:
        return f"{self.title.text()}: {self.answer.text()} · {self.badge.text()}"

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.key)
        super().mouseReleaseEvent(event)


class CompareStrip(QWidget):
    """The strip of cards and its "Pin" menu; the worker arrives with :meth:`attach_worker`.

    ``session`` gives the drawing's 28×28 input (shown under each saliency);
    ``runs`` tells it about finished runs of this session, offered in the Pin menu.
    """

    def __init__(self, session: Any = None, runs: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._finished: list[Any] = []  # RunRecords of this session's finished runs
        if runs is not None:
            runs.runEnded.connect(self._on_run_ended)
        self.worker: Any = None
        self.cards: dict[str, CompareCard] = {}
        self.names = [str(i) for i in range(10)]
        self.pin_button = QPushButton("Pin a model…")
        self.pin_button.setToolTip(f"Compare up to {MAX_CARDS} models on the same drawing")
        self.menu = QMenu(self)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.pin_button.setMenu(self.menu)
        self.hint = QLabel("Pin the active model, a run from this session or a model file to compare them live.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        self.row = QHBoxLayout()
        self.row.setSpacing(8)
        controls = QHBoxLayout()
        controls.addWidget(self.pin_button, 0)
        controls.addWidget(self.hint, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(self.row, 1)
        self.row.addStretch(1)  # cards keep a readable width; the stretch stays last

    # -- wiring -----------------------------------------------------------------
    def attach_worker(self, worker: Any) -> None:
        self.worker = worker
        worker.compared.connect(self.show_readings)
        worker.pinnedChanged.connect(self._on_pinned)

    def pin_active(self) -> None:
        info = {}
        self.worker.pinRequested.emit("active", "Active", "", None, None, info)

    def pin_file(self, path: str) -> None:
        self.worker.pinRequested.emit(f"file:{path}", Path(path).stem, "", str(path), None, {"name": Path(path).stem})

    def pin_run(self, key: str, title: str, model_name: str, params: Any, info: dict) -> None:
        self.worker.pinRequested.emit(key, title, model_name, params, info.get("doubt"), info)

    def _fill_menu(self) -> None:
        self.menu.clear()
        full = len(self.cards) >= MAX_CARDS
        act = self.menu.addAction("The active model (as it is now)", self.pin_active)
        act.setEnabled(not full and self.worker is not None)
        for key, title, model_name, params, info in self._run_choices():
            act = self.menu.addAction(f"Run: {title}", lambda k=key, t=title, m=model_name, p=params, i=info: self.pin_run(k, t, m, p, i))
            act.setEnabled(not full and key not in self.cards)
        act = self.menu.addAction("A model file…", self._pin_file_dialog)
        act.setEnabled(not full)

    def _on_run_ended(self, handle: Any) -> None:
        record = getattr(handle, "record", None)
        if record is not None and record not in self._finished:
            self._finished.append(record)

    def _run_choices(self) -> list[tuple[str, str, str, Any, dict]]:
        return [(f"run:{id(r)}", r.label, r.model, r.params, r.model_info()) for r in self._finished
                if r.params is not None and r.status in ("completed", "stopped")]

    def _pin_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pin a model file", "", "mnist-desktop models (*.ckpt)")
        if path:
            self.pin_file(path)

    # -- from the worker --------------------------------------------------------
    def _on_pinned(self, pinned: list) -> None:
        keys = [p["key"] for p in pinned]
        for key in list(self.cards):
            if key not in keys:
                self.cards.pop(key).deleteLater()
        for p in pinned:
            if p["key"] not in self.cards:
                card = CompareCard(p["key"], p["title"])
                card.clicked.connect(self._activate)
                card.unpin.connect(lambda key: self.worker.unpinRequested.emit(key))
                self.cards[p["key"]] = card
                self.row.insertWidget(self.row.count() - 1, card, 0)
        self.hint.setText("Click a card to make its model the active one; × unpins it." if self.cards else
                          "Pin the active model, a run from this session or a model file to compare them live.")

    def _activate(self, key: str) -> None:
        if self.worker is not None:
            self.worker.activatePinnedRequested.emit(key)

    def show_readings(self, rows: list) -> None:
        image = getattr(self._session, "model_input", None)
        for row in rows:
            card = self.cards.get(row["key"])
            if card is not None:
                card.show_reading(row, None if row.get("probabilities") is None else image, self.names)

    def shown_texts(self) -> list[str]:
        return [card.shown_text() for card in self.cards.values()]
