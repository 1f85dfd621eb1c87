"""Measure what a person waits for at launch: window visible, first prediction, JAX ready.

The probe draws a "1" as soon as the window is visible, as a person who starts
drawing at once would, and records when the first prediction is shown
(``first_prediction_s``; the NumPy preview answers it while JAX loads) and when
the worker has the model in JAX (``model_s``: saliency, activations, training).

Run as ``python -m mnist_desktop.bench.startup_probe``; prints one JSON line. Used
by ``mnist-desktop bench startup``. Times count from interpreter start (as a
launcher would see it) when possible, else from this module's import.
"""

from __future__ import annotations

import json
import os
import sys
import time



def _process_start() -> float:
    """perf_counter() value at process start (Linux /proc), so interpreter start-up counts too."""
    now = time.perf_counter()
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        return now - max(0.0, age)
    except (OSError, ValueError, IndexError):
        return now


T0 = _process_start()
GIVE_UP_S = 90  # after the window is visible; a loaded machine with a cold disk cache needs long


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer

    from mnist_desktop.gui.app import make_application
    from mnist_desktop.gui.main_window import MainWindow

    app = make_application(sys.argv[:1])
    window = MainWindow()
    window.show()
    app.processEvents()
    times: dict[str, float] = {"visible_s": time.perf_counter() - T0}
    window.start_worker_soon()
    # a person starts drawing as soon as the window is there
    window.canvas.add_stroke([(280.0, 90.0), (280.0, 470.0)])  # a "1"

    def poll() -> None:
        now = time.perf_counter() - T0
        if "first_prediction_s" not in times and window.prediction_view.predicted_label() is not None:
            times["first_prediction_s"] = now
        if "model_s" not in times and window.session.model is not None:  # the worker (JAX) has the model
            times["model_s"] = now
        if ("model_s" in times and "first_prediction_s" in times) or now > times["visible_s"] + GIVE_UP_S:
            # queued: a quit() before app.exec() has started would be lost and the probe never end
            QTimer.singleShot(0, app.quit)
            return
        QTimer.singleShot(2, poll)

    poll()
    app.exec()
    window.close()
    print(json.dumps({k: round(v, 3) for k, v in times.items()}))
    return 0 if "first_prediction_s" in times and "model_s" in times else 1


if __name__ == "__main__":
    sys.exit(main())
