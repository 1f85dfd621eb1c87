"""Helpers for driving widgets the way a person does, shared by the GUI tests.

``qtbot.mouseMove`` sends moves with no button held, so a drag made of
qtbot calls never draws. :func:`drag` sends press, moves *with the button in
``buttons()``*, and release, as a real mouse does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QMouseEvent, QPointingDevice
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QWidget

PointLike = QPoint | QPointF | tuple[float, float] | Sequence[float]


def _as_pointf(point: PointLike) -> QPointF:
    if isinstance(point, QPointF):
        return QPointF(point)
    if isinstance(point, QPoint):
        return QPointF(point)
    x, y = point
    return QPointF(float(x), float(y))


def send_mouse(widget: QWidget, kind: QEvent.Type, pos: PointLike, button: Qt.MouseButton,
               buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Deliver one mouse event to ``widget`` at widget position ``pos``."""
    local = _as_pointf(pos)
    global_pos = QPointF(widget.mapToGlobal(local))
    event = QMouseEvent(kind, local, global_pos, button, buttons, modifiers,
                        QPointingDevice.primaryPointingDevice())
    QApplication.sendEvent(widget, event)


def drag(qtbot, widget: QWidget, points: Iterable[PointLike], button: Qt.MouseButton = Qt.MouseButton.LeftButton,
         *, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier, steps: int = 4) -> None:
    """Press ``button`` at the first point, move through the others holding it, release at the last.

    ``points`` are widget coordinates. Each leg is split into ``steps`` moves, like
    the stream of events a real mouse produces; one point is a click.
    """
    path = [_as_pointf(point) for point in points]
    if not path:
        raise ValueError("drag needs at least one point")
    none = Qt.MouseButton.NoButton
    send_mouse(widget, QEvent.Type.MouseButtonPress, path[0], button, button, modifiers)
    for start, end in zip(path, path[1:]):
        for step in range(1, max(steps, 1) + 1):
            t = step / max(steps, 1)
            here = QPointF(start.x() + (end.x() - start.x()) * t, start.y() + (end.y() - start.y()) * t)
            send_mouse(widget, QEvent.Type.MouseMove, here, none, button, modifiers)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, path[-1], button, none, modifiers)
    qtbot.wait(1)  # let queued paints and connected slots run, as between real events


def canvas_point(canvas: QWidget, fx: float, fy: float) -> QPointF:
    """Widget position at fractions (fx, fy) of a canvas's drawing square (0..1 each).

    Uses ``canvas.canvas_rect()`` when the widget has one (DrawingCanvas), so tests
    do not depend on where the square sits in a non-square widget.
    """
    rect = canvas.canvas_rect() if hasattr(canvas, "canvas_rect") else QRectF(canvas.rect())
    return QPointF(rect.left() + fx * rect.width(), rect.top() + fy * rect.height())


def open_main_window(qtbot, monkeypatch, tmp_path, *, keep_docks: tuple[str, ...] | None = None,
                     size: tuple[int, int] = (1280, 800), settings: dict | None = None, bundled: bool = True):
    """The main window as a person sees it after launch: worker started, bundled model active.

    Settings live in ``tmp_path`` (a test must not inherit another's window
    layout or last model); ``keep_docks`` limits which panels are built.
    ``settings`` are stored before the window opens (to test how it reads them);
    ``bundled=False`` starts it as a launch does, from the saved last model.
    """
    from PySide6.QtCore import QCoreApplication, QSettings

    from mnist_desktop.core.paths import bundled_model_path
    from mnist_desktop.gui import docks
    from mnist_desktop.gui.main_window import MainWindow

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QCoreApplication.setOrganizationName("mnist-desktop-tests")
    if keep_docks is not None:
        monkeypatch.setattr(docks, "DOCKS", [entry for entry in docks.DOCKS if entry[0] in keep_docks])
    for key, value in (settings or {}).items():
        QSettings().setValue(key, value)
    window = MainWindow(initial_model=bundled_model_path() if bundled else None)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    window.start_worker()
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=60_000)
    return window


def wait_for_worker(qtbot, worker, timeout: int = 30_000) -> None:
    """Wait until the worker has answered everything asked of it so far.

    A no-op job queues behind the requests already sent (a prediction poke, a
    load); the worker answers in order, so when the job's answer arrives every
    earlier answer (the prediction of the finished drawing, say) has too.
    """
    with qtbot.waitSignal(worker.submit(lambda _model, _params: None).finished, timeout=timeout):
        pass


def type_into(qtbot, edit: QLineEdit, text: str) -> None:
    """Select what is in the field and type over it, as a person does."""
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def choose(combo: QComboBox, data: str) -> None:
    """Pick the entry whose data is ``data`` (what a click in the drop-down list does)."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not offered in {combo.objectName()}"
    combo.setCurrentIndex(index)


def click(qtbot, button) -> None:
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_shared_window(size: tuple[int, int] = (1200, 800)):
    """A main window for a whole test module: default settings and layout, worker started, bundled model loaded.

    Message boxes answer "Ok" by themselves while it is open; give the window
    back with :func:`close_shared_window`.
    """
    import time

    from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
    from PySide6.QtWidgets import QMessageBox

    from mnist_desktop.gui.main_window import MainWindow

    QSettings().clear()  # default dock layout, saliency-on-canvas off
    original = QMessageBox.warning
    QMessageBox.warning = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Ok)
    win = MainWindow()
    win._original_warning = original
    win.resize(*size)
    win.show()
    win.start_worker()
    deadline = time.monotonic() + 60  # JAX start-up and the bundled model
    while win.session.model is None and time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        time.sleep(0.005)
    assert win.session.model is not None, f"the bundled model did not load: {win.model_label.text()}"
    return win


def close_shared_window(win) -> None:
    """Clear the canvas, let the worker answer what it was asked, close the window."""
    import time

    from PySide6.QtCore import QCoreApplication, QEventLoop
    from PySide6.QtWidgets import QMessageBox

    win.canvas.clear()
    win.session.refresh_prediction()  # the last throttled prediction goes out now, not after the worker stops
    answered = win.worker.submit(lambda _model, _params: None)  # queued behind it: answered after it
    deadline = time.monotonic() + 30
    while not answered.done and time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    win.close()
    QMessageBox.warning = win._original_warning


def show_dock(qtbot, window, key: str):
    """Bring dock ``key`` to the front, as clicking its tab does; its view once a person can see it."""
    dock = window.docks[key]
    dock.show()
    dock.raise_()
    view = dock.widget()
    qtbot.waitUntil(view.is_on_screen, timeout=5_000)
    return view
