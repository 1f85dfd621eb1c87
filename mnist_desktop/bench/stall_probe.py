"""How long does the GUI thread freeze while a model trains?

:class:`StallProbe` is a fast timer on the GUI thread: each tick that comes
late was held up by something blocking the event loop (a slow slot, a long
paint, the worker thread holding the GIL). The longest and the 99th-percentile
delay are what a person feels as stutter while drawing during training.

:func:`measure_training_stalls` opens the real main window offscreen, starts a
run through the training panel as a person would, and reports those numbers
(``mnist-desktop bench`` calls it). It makes no timing judgement itself.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer

TICK_MS = 5


class StallProbe(QObject):
    """Records how late each tick of a ``interval_ms`` timer on this thread fires."""

    def __init__(self, interval_ms: int = TICK_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.delays_ms: list[float] = []
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.delays_ms.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.delays_ms.append(max(0.0, (now - self._last) * 1000.0 - self.interval_ms))
        self._last = now

    @property
    def max_ms(self) -> float:
        return max(self.delays_ms, default=0.0)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.delays_ms, q)) if self.delays_ms else 0.0

    def summary(self) -> dict[str, float]:
        return {"max_ms": round(self.max_ms, 1), "p99_ms": round(self.percentile_ms(99), 1),
                "p50_ms": round(self.percentile_ms(50), 2), "ticks": len(self.delays_ms)}


def _wait(predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until ``predicate()`` or the timeout; True if it came true."""
    deadline = time.perf_counter() + timeout_s
    loop = QEventLoop()
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        QTimer.singleShot(10, loop.quit)
        loop.exec()
    return True


def measure_training_stalls(seconds: float, dataset: str = "mnist-subset", model: str = "cnn") -> dict[str, Any]:
    """Train ``model`` on ``dataset`` from the GUI for ``seconds`` and report the GUI thread's stalls.

    Opens the main window offscreen (unless a QApplication already exists),
    clicks Start, probes the event loop from that click on (compilation
    included), then clicks Stop and closes everything. Also reports how soon
    the first chart point appeared and how long Stop took.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.core.paths import bundled_model_path
    from mnist_desktop.gui.app import make_application
    from mnist_desktop.gui.main_window import MainWindow
    from mnist_desktop.gui.training_panel import SETTINGS_KEY, TrainingPanel

    app = QApplication.instance() or make_application([])
    window = MainWindow(initial_model=bundled_model_path())
    saved_settings = window.settings.value(SETTINGS_KEY)
    try:
        window.resize(1280, 800)
        window.show()
        window.start_worker()
        if not _wait(lambda: window.session.model is not None, 120):
            raise RuntimeError("the default model did not load within 120 s")
        panel = window.docks["training"].widget()
        assert isinstance(panel, TrainingPanel)
        form = panel.form
        form.dataset_combo.setCurrentIndex(form.dataset_combo.findData(dataset))
        form.model_combo.setCurrentIndex(form.model_combo.findData(model))
        form.epochs_edit.setText("1000")  # longer than we measure; Stop ends it
        if form.errors:
            raise ValueError(f"cannot start: {form.errors}")

        probe = StallProbe(parent=window)
        probe.start()
        started = time.perf_counter()
        panel.start_button.click()
        _wait(lambda: panel.chart.point_count() > 0 or panel.state == "idle", 120)
        first_point = time.perf_counter() - started if panel.chart.point_count() else None
        _wait(lambda: panel.state == "idle", max(0.0, seconds - (time.perf_counter() - started)))
        probe.stop()
        record = panel.run
        steps = record.step if record else 0
        stop_clicked = time.perf_counter()
        panel.stop_button.click()
        _wait(lambda: panel.state == "idle", 60)
        stop_seconds = time.perf_counter() - stop_clicked
        app.processEvents()
        return {
            "dataset": dataset, "model": model, "seconds": round(time.perf_counter() - started - stop_seconds, 2),
            **probe.summary(),
            "first_point_s": None if first_point is None else round(first_point, 2),
            "steps": steps, "stop_s": round(stop_seconds, 3),
            "status": record.status if record else "not started",
        }
    finally:
        window.shutdown_worker()
        # Start remembers its settings; a benchmark run must not replace the person's
        if saved_settings is None:
            window.settings.remove(SETTINGS_KEY)
        else:
            window.settings.setValue(SETTINGS_KEY, saved_settings)
        window.hide()  # not close(): a benchmark must not overwrite the person's saved window layout
        window.deleteLater()


def main(argv: list[str] | None = None) -> int:
    """``python -m mnist_desktop.bench.stall_probe --seconds 15``: one JSON line (used by bench)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m mnist_desktop.bench.stall_probe")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--dataset", default="mnist-subset")
    parser.add_argument("--model", default="cnn")
    args = parser.parse_args(argv)
    print(json.dumps(measure_training_stalls(args.seconds, args.dataset, args.model)))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
