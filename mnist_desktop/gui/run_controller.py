"""The one way to start a training run from the GUI, shared by the training and handwriting panels.

The worker trains one model at a time. :meth:`RunController.start` hands it a
:class:`~.handles.RunRequest` and returns the run's :class:`~.handles.RunHandle`
to the panel that asked; every other panel learns only that *a* run is busy
(``runStarted`` / ``runEnded``), e.g. to disable its own Start or to follow
the live weights.

Data flow of Start: ``start()`` → ``worker.trainRequested(RunRequest)`` →
``Worker._train`` → ``handle.post("started" | "step" | "epoch" | "finished")``
→ (queued to the GUI thread) ``RunHandle._dispatch`` updates the
:class:`~.run_history.RunRecord` → ``handle.step`` → the panel's
``chart.live_changed()`` → the chart redraws from the record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from mnist_desktop.gui.handles import RunHandle, RunRequest
from mnist_desktop.gui.run_history import RunRecord


class RunController(QObject):
    """Starts runs on the worker and knows whether one is in progress."""

    runStarted = Signal(object)  # RunHandle: some panel started a run
    runEnded = Signal(object)  # RunHandle: it finished or failed

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker: Any = None
        self._active: RunHandle | None = None
        self.closed = False

    def attach_worker(self, worker: Any) -> None:
        self._worker = worker

    def ready(self) -> bool:
        """The worker exists (JAX is loaded) and the window is not closing."""
        return self._worker is not None and not self.closed

    def active(self) -> RunHandle | None:
        """The run in progress, whoever started it."""
        return self._active

    def busy(self) -> bool:
        return self._active is not None

    def start(self, record: RunRecord, config: dict[str, Any], *, data_dir: str = "", initial: str = "",
              build_data: Callable[[Any, Any], Any] | None = None) -> RunHandle | None:
        """Train with ``config``; ``record`` collects its curves. None if no run can start now."""
        if not self.ready() or self._active is not None:
            return None
        handle = RunHandle(record, self._worker, parent=self)
        handle.finished.connect(lambda _result: self._ended(handle))
        handle.failed.connect(lambda _message: self._ended(handle))
        self._active = handle
        self._worker.trainRequested.emit(RunRequest(handle, dict(config), data_dir, initial, build_data))
        self.runStarted.emit(handle)
        return handle

    def _ended(self, handle: RunHandle) -> None:
        if self._active is handle:
            self._active = None
        self.runEnded.emit(handle)

    def shut_down(self) -> None:
        """The window is closing: stop any run; later events change records but show nothing."""
        self.closed = True
        if self._active is not None:
            self._active.stop()
