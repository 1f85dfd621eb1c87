"""Small widgets of the "My handwriting" panel: digit buttons, the confusion grid, thumbnails."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QToolButton, QWidget

THUMB = 56
GOOD = QColor("#009E73")  # colour-blind-safe green and orange (Okabe–Ito)
BAD = QColor("#D55E00")


def digit_article(digit: int) -> str:
    """"a 3", "an 8": the prompt reads like a sentence."""
    return f"an {digit}" if digit == 8 else f"a {digit}"


def thumbnail(image: np.ndarray, misread: bool = False, size: int = THUMB) -> QPixmap:
    """A 28×28 model input as a crisp thumbnail; a coloured frame marks a misread drawing."""
    data = np.ascontiguousarray(np.clip(np.asarray(image) * 255, 0, 255).astype(np.uint8))
    qimage = QImage(data.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.black)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.drawImage(QRectF(2, 2, size - 4, size - 4), qimage)
    if misread:
        painter.setPen(QPen(BAD, 3))
        painter.drawRect(QRectF(1.5, 1.5, size - 3, size - 3))
    painter.end()
    return pixmap


class DigitPicker(QWidget):
    """Ten toggle buttons, one per digit: which digit the drawing is."""

    picked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        for d in range(10):
            button = QToolButton()
            button.setText(str(d))
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setFixedSize(30, 28)
            button.setToolTip(f"This drawing is {digit_article(d)}")
            self.group.addButton(button, d)
            row.addWidget(button)
        row.addStretch(1)
        self.group.idClicked.connect(self.picked.emit)

    def value(self) -> int | None:
        d = self.group.checkedId()
        return None if d < 0 else d

    def set_value(self, digit: int | None) -> None:
        if digit is None:
            checked = self.group.checkedButton()
            if checked is not None:
                self.group.setExclusive(False)
                checked.setChecked(False)
                self.group.setExclusive(True)
        else:
            self.group.button(int(digit)).setChecked(True)


class ConfusionView(QWidget):
    """A 10×10 confusion matrix: rows = the digit you drew, columns = what the model read."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._matrix: np.ndarray | None = None
        self.setMinimumSize(220, 220)
        self.setMaximumHeight(320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_matrix(self, matrix: np.ndarray | None) -> None:
        self._matrix = None if matrix is None else np.asarray(matrix, int)
        self.update()

    def matrix(self) -> np.ndarray | None:
        return self._matrix

    def sizeHint(self) -> QSize:
        return QSize(300, 300)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return min(width, 360)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        margin_left, margin_top = 34.0, 34.0
        side = max(10.0, min(self.width() - margin_left - 4, self.height() - margin_top - 4))
        cell = side / 10
        font = QFont(self.font())
        painter.setFont(font)
        painter.setPen(muted)
        painter.drawText(QRectF(margin_left, 0, side, 16), Qt.AlignmentFlag.AlignCenter, "read by the model as")
        painter.save()
        painter.translate(10, margin_top + side / 2)
        painter.rotate(-90)
        painter.drawText(QRectF(-side / 2, -8, side, 16), Qt.AlignmentFlag.AlignCenter, "you drew")
        painter.restore()
        painter.setPen(text)
        for i in range(10):
            painter.drawText(QRectF(margin_left + i * cell, 16, cell, 16), Qt.AlignmentFlag.AlignCenter, str(i))
            painter.drawText(QRectF(18, margin_top + i * cell, 14, cell), Qt.AlignmentFlag.AlignCenter, str(i))
        m = self._matrix
        base = pal.color(QPalette.ColorRole.Base)
        grid = pal.color(QPalette.ColorRole.Mid)
        row_totals = m.sum(axis=1) if m is not None else np.zeros(10)
        small = QFont(font)
        small.setPointSizeF(max(6.0, min(font.pointSizeF(), cell * 0.38)))
        painter.setFont(small)
        for r in range(10):
            for c in range(10):
                rect = QRectF(margin_left + c * cell, margin_top + r * cell, cell, cell)
                count = 0 if m is None else int(m[r, c])
                fill = QColor(base)
                if count and row_totals[r]:
                    share = count / row_totals[r]
                    colour = QColor(GOOD if r == c else BAD)
                    colour.setAlphaF(0.15 + 0.75 * share)
                    fill = colour
                painter.fillRect(rect, fill)
                painter.setPen(QPen(grid, 0.5))
                painter.drawRect(rect)
                if count:
                    painter.setPen(text)
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count))
        if m is None:
            painter.setPen(muted)
            painter.setFont(font)
            painter.drawText(QRectF(margin_left, margin_top, side, side), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Measure to see which digits\nthe model confuses")
        painter.end()
