"""The banner over "My handwriting" when the drawings on disk need the person's say.

Why a banner and not a tooltip: a damaged index used to be mentioned in a
tooltip at most, Add stayed enabled, and the next Add replaced twelve drawings
with one. When the store opens read-only (``HandwritingSet.blocked``) this
says why in plain words, Add/Correct/the guided session are off, and *Repair*
runs :meth:`~mnist_desktop.core.handwriting.store.HandwritingSet.repair`,
which deletes nothing. A repair the store could do on its own is reported
here too, once, so the person knows what happened to their files.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout


class StoreBanner(QFrame):
    """A framed message with Repair (read-only store) or Dismiss (a repair already done)."""

    repairRequested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("storeBanner")
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.repair_button = QPushButton("Repair")
        self.repair_button.setToolTip("Rebuild the index from your drawings; nothing is deleted")
        self.repair_button.clicked.connect(self.repairRequested)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.hide)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.repair_button)
        buttons.addWidget(self.dismiss_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.hide()

    def show_blocked(self, reason: str) -> None:
        self._show("Your drawings are open read-only", reason, "#fff3cd", "#d39e00", repair=True)

    def show_repaired(self, summary: str) -> None:
        self._show("Your drawings were repaired", summary, "#e7f1ff", "#6c9bd2", repair=False)

    def _show(self, title: str, text: str, background: str, border: str, *, repair: bool) -> None:
        self.title.setText(title)
        self.text.setText(text)
        self.setStyleSheet(f"#storeBanner {{ background: {background}; border: 1px solid {border}; }}")
        self.repair_button.setVisible(repair)
        self.dismiss_button.setVisible(not repair)
        self.show()
