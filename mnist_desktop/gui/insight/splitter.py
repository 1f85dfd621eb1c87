"""A splitter that flips between side by side and stacked with the shape of its dock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QSplitter, QWidget


class AdaptiveSplitter(QSplitter):
    """A splitter that lays its parts side by side when wide and stacked when tall.

    The insight views live in a dock that may sit at the bottom (wide) or the
    side (tall) of the window, or float; this keeps every part large either way.
    ``weights`` are the parts' relative sizes, re-applied when it flips.
    """

    def __init__(self, weights: Sequence[float], ratio: float = 1.25, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self._weights = [float(x) for x in weights]
        self._ratio = ratio
        self.setChildrenCollapsible(False)

    def minimumSizeHint(self) -> QSize:
        """Small enough for either orientation: it flips rather than demand the sum of its parts.

        (A plain vertical splitter asks for the sum of its children's heights,
        which would force a bottom dock, and so the whole window, to be huge.)
        """
        widths = [self.widget(i).minimumSizeHint().width() for i in range(self.count())] or [0]
        heights = [self.widget(i).minimumSizeHint().height() for i in range(self.count())] or [0]
        return QSize(max(widths), max(heights))

    def resizeEvent(self, event: Any) -> None:
        size = event.size()
        wanted = (Qt.Orientation.Horizontal if size.width() > self._ratio * size.height()
                  else Qt.Orientation.Vertical)
        if wanted != self.orientation():
            self.setOrientation(wanted)
            total = size.width() if wanted == Qt.Orientation.Horizontal else size.height()
            weights = self._weights[: self.count()] + [1.0] * max(0, self.count() - len(self._weights))
            self.setSizes([int(total * w / sum(weights)) for w in weights])
        super().resizeEvent(event)
