"""The prediction view's headline: the answer, big, with its confidence beside it.

Its own module because fitting the two into a narrow column is a small layout
problem of its own: the confidence block gives way before the answer does, so a
verdict such as "1 or 7?" and a wide ">99.9%" stay readable at the window's
default width (they were elided to "1 o…").
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget


class Headline(QWidget):
    """The predicted class, big, with its confidence beside it; or a placeholder."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = ""
        self.confidence = ""
        self.colour: QColor | None = None  # the verdict's colour; None: the palette's highlight
        self.placeholder = "Draw a digit"
        self.setMinimumHeight(72)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(240, 84)

    def _confidence_fonts(self, height: float, scale: float) -> tuple[QFont, QFont, float, float]:
        """(caption font, value font, block width, gap) of the confidence block at ``scale``."""
        small = QFont(self.font())
        small.setPixelSize(max(11, int(height * 0.17 * max(scale, 0.8))))
        value = QFont(self.font())
        value.setPixelSize(max(14, int(height * 0.34 * scale)))
        value.setBold(True)
        if not self.confidence:
            return small, value, 0.0, 0.0
        width = max(QFontMetricsF(value).horizontalAdvance(self.confidence),
                    QFontMetricsF(small).horizontalAdvance("confidence"))
        return small, value, width, height * 0.25 * scale

    def fit(self, rect: QRectF) -> tuple[QFont, str, QFont, QFont, float, float]:
        """(label font, label text as drawn, caption font, value font, block width, gap) for ``rect``.

        The label and a two-line confidence block sit side by side, centred as a group.
        In a narrow column the confidence block gives way first (down to 60 %), so
        "1 or 7" and a wide ">99.9%" keep a big label; only then does the label shrink,
        and it is elided only when even 12 px does not fit.
        """
        big = QFont(self.font())
        big.setBold(True)
        big.setPixelSize(int(rect.height() * 0.9))
        for scale in (1.0, 0.9, 0.8, 0.7, 0.6):
            small, value, block_width, gap = self._confidence_fonts(rect.height(), scale)
            room = rect.width() - block_width - gap
            if QFontMetricsF(big).horizontalAdvance(self.label) <= room:
                break
        size = int(rect.height() * 0.9)
        while size > 12:  # shrink long class names ("Ankle boot") until they fit
            big.setPixelSize(size)
            if QFontMetricsF(big).horizontalAdvance(self.label) <= room:
                break
            size -= 2
        big.setPixelSize(size)
        text = QFontMetricsF(big).elidedText(self.label, Qt.TextElideMode.ElideRight, room)
        return big, text, small, value, block_width, gap

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            rect = QRectF(self.rect()).adjusted(4, 2, -4, -2)
            palette = self.palette()
            if not self.label:
                font = QFont(self.font())
                font.setPixelSize(max(14, int(rect.height() * 0.32)))
                painter.setFont(font)
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.placeholder)
                return
            big, text, small, value, block_width, gap = self.fit(rect)
            value_metrics, small_metrics = QFontMetricsF(value), QFontMetricsF(small)
            label_width = QFontMetricsF(big).horizontalAdvance(text)
            left = rect.left() + max(0.0, (rect.width() - label_width - gap - block_width) / 2)

            painter.setFont(big)
            painter.setPen(self.colour or palette.color(QPalette.ColorRole.Highlight))
            painter.drawText(QRectF(left, rect.top(), label_width + 2, rect.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            if not self.confidence:  # a verdict without a trustworthy number ("?", "…")
                return
            block_left = left + label_width + gap
            top = rect.center().y() - (value_metrics.height() + small_metrics.height()) / 2
            painter.setFont(value)
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            painter.drawText(QRectF(block_left, top, block_width + 2, value_metrics.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.confidence)
            painter.setFont(small)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(QRectF(block_left, top + value_metrics.height(), block_width + 2, small_metrics.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "confidence")
        finally:
            painter.end()
