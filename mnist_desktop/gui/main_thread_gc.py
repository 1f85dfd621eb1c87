"""Python's cyclic garbage collector, run on the GUI thread only.

Why: Python runs a collection in whichever thread happens to cross the
allocation threshold. When that is a background thread (the trainer's
compile-ahead thread, JAX tracing on the worker) and the garbage holds a Qt
widget, the widget's C++ destructor runs off the GUI thread, and PySide's
destructor hook then waits for the GIL state it cannot get: the whole process
hangs with every thread idle -- very likely the test run that "did not exit"
in session 3; caught in the act with py-spy as: compile-ahead thread →
``gc_collect_main`` → ``QWidget::~QWidget`` → ``QMenu::~QMenu`` →
``Shiboken::GilState::acquire`` (waiting), the worker joining that thread, the
GUI thread waiting on the worker.

So the GUI process switches automatic collection off and collects from a timer
on the GUI thread, by the same generation thresholds Python would use (the
pattern PyQt/PySide applications with worker threads commonly use). Garbage
waits at most one tick; nothing else changes.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

#: How often the GUI thread checks whether a collection is due.
INTERVAL_MS = 500


def collect_if_due(thresholds: tuple[int, ...] | None = None) -> int | None:
    """Collect the oldest generation whose count passed its threshold, as Python itself would.

    Returns the generation collected, or None when none was due. Call it from the
    GUI thread (the test suite calls it between tests, on pytest's thread).
    """
    limits = thresholds or gc.get_threshold()
    counts = gc.get_count()
    generation = None
    for gen in range(3):
        if counts[gen] <= limits[gen]:
            break
        generation = gen
    if generation is not None:
        gc.collect(generation)
    return generation


class MainThreadCollector(QObject):
    """Switches automatic collection off and collects from a GUI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(lambda: collect_if_due(self.thresholds))
        self._timer.start()


def install(app: QCoreApplication) -> MainThreadCollector:
    """Install the collector on ``app`` (once; later calls return the same one)."""
    existing = app.findChild(MainThreadCollector)
    return existing if existing is not None else MainThreadCollector(app)
