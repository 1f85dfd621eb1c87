"""An empty view is a sentence, not empty axes: a page that says what to do or what went wrong."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget


def placeholder_label(text: str, name: str, margin: int = 24) -> QLabel:
    """A centred, wrapped sentence standing in for a picture."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setMargin(margin)
    return label


def sentence_pages(content: QWidget, text: str, name: str, margin: int = 24) -> tuple[QStackedWidget, QLabel]:
    """``content`` behind a sentence: page 0 is the sentence (shown first), page 1 the content."""
    label = placeholder_label(text, name, margin)
    pages = QStackedWidget()
    pages.addWidget(label)
    pages.addWidget(content)
    return pages, label
