"""A splitter that lays its parts side by side when wide and stacked when tall — and settles.

The insight views live in docks that may sit at the bottom (wide) or the side
(tall) of the window, or float; flipping keeps every part large either way. The
first version flipped inside ``resizeEvent`` whenever the aspect crossed the
ratio: a flip changes what the parts need, the dock answers with a new size, and
a floated Evaluation dock could flip forever at 100 % CPU. Three rules keep it
stable:

* hysteresis: it flips only once the aspect is :data:`FLIP_MARGIN` past the
  ratio, so a size near the ratio (or a layout's one-pixel answer) never flips;
* no flip from inside a resize: the resize schedules a check on the event loop,
  and many resizes coalesce into one check at the size they end at;
* at most one flip per :data:`MIN_FLIP_INTERVAL_MS`, and after
  :data:`MAX_FLIPS_IN_WINDOW` flips within :data:`FLIP_WINDOW_MS` it holds its
  orientation until the size really changes (by :data:`UNLOCK_CHANGE`): whatever
  feeds back, it cannot spin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QElapsedTimer, QSize, Qt, QTimer
from PySide6.QtWidgets import QSplitter, QWidget

FLIP_MARGIN = 0.15  # flip at ratio × 1.15 (to side by side) and ratio / 1.15 (to stacked)
MIN_FLIP_INTERVAL_MS = 250
MAX_FLIPS_IN_WINDOW = 4  # this many flips within FLIP_WINDOW_MS is a feedback loop, not a person
FLIP_WINDOW_MS = 3000
UNLOCK_CHANGE = 0.10  # a held splitter flips again once its width or height changed by 10 %


def orientation_for(width: int, height: int, ratio: float, current: Qt.Orientation,
                    margin: float = FLIP_MARGIN) -> Qt.Orientation:
    """Side by side when clearly wide, stacked when clearly tall; in between, keep ``current``."""
    height = max(height, 1)
    if current == Qt.Orientation.Vertical and width > ratio * (1 + margin) * height:
        return Qt.Orientation.Horizontal
    if current == Qt.Orientation.Horizontal and width < ratio / (1 + margin) * height:
        return Qt.Orientation.Vertical
    return current


class AdaptiveSplitter(QSplitter):
    """See the module doc. ``weights`` are the parts' relative sizes, re-applied when it flips."""

    def __init__(self, weights: Sequence[float], ratio: float = 1.25, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self._weights = [float(x) for x in weights]
        self._ratio = ratio
        self.flip_count = 0  # orientation changes so far (tests, the stall probe)
        self._since_flip = QElapsedTimer()
        self._clock = QElapsedTimer()
        self._clock.start()
        self._recent: list[int] = []  # clock times of recent flips
        self._held_at: QSize | None = None  # size at which a feedback loop was stopped
        self._check = QTimer(self, singleShot=True)
        self._check.timeout.connect(self._settle)
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
        super().resizeEvent(event)
        size = event.size()
        if orientation_for(size.width(), size.height(), self._ratio, self.orientation()) != self.orientation():
            self._schedule()

    def _schedule(self) -> None:
        wait = 0
        if self._since_flip.isValid():
            wait = max(0, MIN_FLIP_INTERVAL_MS - int(self._since_flip.elapsed()))
        self._check.start(wait)

    def _settle(self) -> None:
        """Flip if the size the resizing came to rest at asks for it (on the event loop, not in a resize)."""
        wanted = orientation_for(self.width(), self.height(), self._ratio, self.orientation())
        if wanted == self.orientation():
            return
        if self._held_at is not None:
            if not _changed(self._held_at, self.size()):
                return
            self._held_at = None
        if self._since_flip.isValid() and self._since_flip.elapsed() < MIN_FLIP_INTERVAL_MS:
            self._schedule()
            return
        now = self._clock.elapsed()
        self._recent = [t for t in self._recent if now - t < FLIP_WINDOW_MS]
        if len(self._recent) >= MAX_FLIPS_IN_WINDOW:
            self._held_at = self.size()  # each flip resized us across the line again: stay put
            self._recent.clear()
            return
        self._recent.append(now)
        self.setOrientation(wanted)
        self._since_flip.start()
        self.flip_count += 1
        total = self.width() if wanted == Qt.Orientation.Horizontal else self.height()
        weights = self._weights[: self.count()] + [1.0] * max(0, self.count() - len(self._weights))
        self.setSizes([int(total * w / sum(weights)) for w in weights])


def _changed(before: QSize, after: QSize) -> bool:
    return (abs(after.width() - before.width()) > UNLOCK_CHANGE * max(before.width(), 1)
            or abs(after.height() - before.height()) > UNLOCK_CHANGE * max(before.height(), 1))
