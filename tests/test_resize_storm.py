"""Floating docks resized by a person: every splitter and mosaic settles, nothing loops.

A floated Evaluation dock once spun at 100 % CPU: the splitter flipped its
orientation on every resize with no hysteresis, the flip changed the sizes of
what it held, and that resized it again. These tests resize floated docks back
and forth across the flip point and require that the layout comes to rest.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from gui_helpers import open_main_window
from mnist_desktop.gui.insight.splitter import (
    MAX_FLIPS_IN_WINDOW,
    MIN_FLIP_INTERVAL_MS,
    AdaptiveSplitter,
    orientation_for,
)

pytestmark = pytest.mark.gui


def loop_latency_ms(qtbot) -> float:
    """How long a zero-timer takes to fire: a busy loop (a resize storm) makes it late."""
    fired: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    QTimer.singleShot(0, lambda: fired.append(clock.elapsed()))
    qtbot.waitUntil(lambda: bool(fired), timeout=5_000)
    return fired[0]


def flip_total(splitters) -> int:
    return sum(s.flip_count for s in splitters)


@pytest.mark.parametrize("key", ["evaluation", "datasets", "saliency", "weights"])
def test_resize_storm_on_a_floated_dock_settles(qtbot, tmp_path, monkeypatch, key):
    window = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=(key,))
    dock = window.docks[key]
    dock.setFloating(True)
    dock.show()
    dock.resize(700, 500)
    qtbot.waitUntil(lambda: dock.isFloating() and dock.isVisible(), timeout=5_000)
    qtbot.wait(50)
    splitters = dock.widget().findChildren(AdaptiveSplitter)
    assert splitters, f"the {key} view has no adaptive splitter"
    start = flip_total(splitters)

    # a person dragging the corner across the flip point, back and forth, fast
    height = 480
    widths = [int(400 + 50 * i) for i in range(17)]
    for sweep in range(6):
        for width in (widths if sweep % 2 == 0 else widths[::-1]):
            dock.resize(width, height)
            QApplication.processEvents()
    # 102 resizes, 6 crossings of the line: at most one flip per crossing and splitter (plus one to land)
    assert flip_total(splitters) - start <= 7 * len(splitters), "flipped on every resize"
    # … then the person lets go: within a moment nothing changes any more
    qtbot.wait(600)
    settled = flip_total(splitters)
    qtbot.wait(800)
    assert flip_total(splitters) == settled, "still flipping after the resizing stopped"
    assert loop_latency_ms(qtbot) < 250, "the event loop is busy after the resizing stopped"
    for splitter in splitters:  # and each ended up the way its final shape asks for
        assert orientation_for(splitter.width(), splitter.height(), splitter._ratio,
                               splitter.orientation()) == splitter.orientation()

    # a one-pixel jiggle at any size never flips
    before = flip_total(splitters)
    for _ in range(30):
        dock.resize(dock.width() + 1, height)
        QApplication.processEvents()
        dock.resize(dock.width() - 1, height)
        QApplication.processEvents()
    qtbot.wait(400)
    assert flip_total(splitters) == before, "a one-pixel jiggle flipped the layout"


class AnsweringSplitter(AdaptiveSplitter):
    """Each flip makes its surroundings resize it across the flip line again — the feedback
    loop of the floated Evaluation dock, made deterministic."""

    def setOrientation(self, orientation):  # noqa: N802 (Qt override)
        super().setOrientation(orientation)
        height = 300
        wide = orientation == Qt.Orientation.Vertical
        # answered on the event loop, as a dock's layout does (the first version flipped > 1000 times/s here)
        QTimer.singleShot(0, self, lambda: self.resize(int(height * self._ratio * (1.5 if wide else 0.6)), height))


def test_a_feedback_loop_through_the_layout_stops(qtbot):
    splitter = AnsweringSplitter([1, 1], ratio=1.25)
    for _ in range(2):
        splitter.addWidget(QWidget())
    qtbot.addWidget(splitter)
    splitter.resize(600, 300)  # wide: wants side by side, whose answer is narrow, which wants stacked…
    splitter.show()
    qtbot.waitUntil(lambda: splitter.flip_count >= 1, timeout=2_000)
    qtbot.wait(MIN_FLIP_INTERVAL_MS * (MAX_FLIPS_IN_WINDOW + 2))
    settled = splitter.flip_count
    assert settled <= MAX_FLIPS_IN_WINDOW
    qtbot.wait(MIN_FLIP_INTERVAL_MS * 4)
    assert splitter.flip_count == settled, "the loop went on"
    assert loop_latency_ms(qtbot) < 250
    splitter.resize(200, 400)  # a real change of size: it adapts again
    qtbot.waitUntil(lambda: splitter.orientation() == Qt.Orientation.Vertical, timeout=2_000)


def test_orientation_has_hysteresis():
    vertical, horizontal = Qt.Orientation.Vertical, Qt.Orientation.Horizontal
    assert orientation_for(130, 100, 1.25, vertical) == vertical  # past 1.25 but inside the margin
    assert orientation_for(150, 100, 1.25, vertical) == horizontal
    assert orientation_for(120, 100, 1.25, horizontal) == horizontal
    assert orientation_for(100, 100, 1.25, horizontal) == vertical
