"""The first strokes after launch are answered before JAX has loaded (NumPy preview)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QSettings

from gui_helpers import canvas_point, drag
from mnist_desktop.core.paths import bundled_model_path
from mnist_desktop.gui import quick_start
from mnist_desktop.gui.main_window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def held_jax(monkeypatch):
    """JAX "loads" until the test releases it: the window must cope on NumPy alone meanwhile."""
    release = threading.Event()
    real_run = quick_start.JaxLoader.run

    def slow_run(self):
        release.wait(60)
        real_run(self)

    monkeypatch.setattr(quick_start.JaxLoader, "run", slow_run)
    yield release
    release.set()


def test_first_stroke_is_read_while_jax_still_loads(qtbot, tmp_path, held_jax):
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QCoreApplication.setOrganizationName("mnist-desktop-tests")
    window = MainWindow(initial_model=bundled_model_path())
    qtbot.addWidget(window)
    window.show()
    window.start_worker_soon()
    qtbot.waitUntil(lambda: window.session._preview is not None, timeout=10_000)
    assert window.model_label.text() == "Model: default · starting JAX…"

    drag(qtbot, window.canvas, [canvas_point(window.canvas, 0.5, y) for y in (0.15, 0.85)])  # a 1
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is not None, timeout=5_000)
    assert window.worker is None and window.session.model is None  # answered without JAX
    assert window.prediction_view.predicted_label() == 1
    numpy_answer = window.prediction_view.probabilities().copy()

    held_jax.set()  # JAX arrives: the worker takes over with the same answer
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=60_000)
    assert window.session._preview is None
    qtbot.waitUntil(lambda: "test accuracy" in window.model_label.text(), timeout=5_000)
    from mnist_desktop.core.analysis.insight import predict_one

    model = window.session.model
    jax_answer = np.asarray(predict_one(model.model_name, model.params, window.session.model_input))
    np.testing.assert_allclose(numpy_answer, jax_answer, atol=1e-5)
    window.close()


def test_closing_while_jax_loads_waits_for_the_loader(qtbot, tmp_path, held_jax):
    window = MainWindow(initial_model=bundled_model_path())
    qtbot.addWidget(window)
    window.show()
    window.start_worker_soon()
    qtbot.waitUntil(lambda: window._jax_loader is not None and window._jax_loader.isRunning(), timeout=10_000)
    threading.Timer(0.2, held_jax.set).start()
    window.close()  # no "QThread: Destroyed while thread is still running"
    assert not window._jax_loader.isRunning() and window.worker is None


def test_a_model_numpy_cannot_read_is_left_to_the_worker(tmp_path):
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a zip")
    assert quick_start.NumpyPreview.load(broken) is None
    assert quick_start.NumpyPreview.load(bundled_model_path()).predict(None) is None
