"""Handles for work the worker does for someone: a training run, a small JAX job.

Starting work returns a handle (in the spirit of napari's ``create_worker`` and
superqt's ``thread_worker``): a small QObject, living on the GUI thread, with
typed lifecycle signals that only its starter listens to. The worker posts to
the handle from its own thread (``post`` → a queued ``_event``), and the handle
re-emits on the GUI thread, so a panel never has to tell its run from another
panel's by comparing echoed configs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from mnist_desktop.gui.run_history import RunRecord


class _Handle(QObject):
    """Common part: a cross-thread ``post`` and a ``done`` flag."""

    _event = Signal(str, object)  # kind, payload — emitted on the worker thread, delivered here

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.done = False
        self._event.connect(self._dispatch)

    def post(self, kind: str, payload: Any = None) -> None:
        """Worker side: report ``kind`` with ``payload`` (safe from any thread)."""
        if shiboken6.isValid(self):
            self._event.emit(kind, payload)

    def _dispatch(self, kind: str, payload: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class RunHandle(_Handle):
    """One training run: its :class:`RunRecord` kept up to date, and its lifecycle as signals.

    ``started(info)`` once the data are loaded and the trainer is built;
    ``step(event)`` / ``epoch(event)`` as it learns; then exactly one of
    ``finished(result)`` (completed, stopped or diverged: a model came out) or
    ``failed(message)`` (it could not start or crashed; a Stop during the
    download makes the record "cancelled"). The record is updated before each
    signal, so listeners read it, not the payload.
    """

    started = Signal(dict)  # total_steps, epochs, steps_per_epoch, train/val/test sizes, class_names, ...
    step = Signal(dict)  # StepEvent as a dict
    epoch = Signal(dict)  # EpochEvent as a dict
    finished = Signal(dict)  # status, test_accuracy, params, dataset, class_names, ...
    failed = Signal(str)
    downloadProgress = Signal(int, int)  # bytes done, total (0 = unknown)

    def __init__(self, record: RunRecord, control: Any, parent: QObject | None = None):
        super().__init__(parent)
        self.record = record
        self._control = control  # the worker: pause/resume/stop are thread-safe calls on it
        self.stop_requested = False
        self.running = False  # started and not yet done

    # -- control (GUI thread) ----------------------------------------------------
    def pause(self) -> None:
        if self._live():
            self._control.pause_training()

    def resume(self) -> None:
        if self._live():
            self._control.resume_training()

    def stop(self) -> None:
        """Stop the run (or cancel its download); it ends with ``finished`` or ``failed`` soon after."""
        self.stop_requested = True
        if self._live():
            self._control.stop_training()

    def _live(self) -> bool:
        return not self.done and shiboken6.isValid(self._control)

    # -- events (delivered on the GUI thread) ------------------------------------
    def _dispatch(self, kind: str, payload: Any) -> None:
        record = self.record
        if kind == "download":
            if self.stop_requested:  # a Stop that came before the download began
                self.stop()
                return
            self.downloadProgress.emit(*payload)
        elif kind == "started":
            if self.stop_requested:  # Stop came while the data were loading
                self.stop()
            self.running = True
            record.status = "running"
            record.steps_per_epoch = int(payload["steps_per_epoch"])
            record.total_steps = int(payload["total_steps"])
            self.started.emit(payload)
        elif kind == "step":
            record.add_step(payload)
            self.step.emit(payload)
        elif kind == "epoch":
            record.add_epoch(payload)
            self.epoch.emit(payload)
        elif kind == "finished":
            self.done, self.running = True, False
            record.finish(payload)
            self.finished.emit(payload)
        elif kind == "failed":
            self.done, self.running = True, False
            record.finish({"status": "failed", "message": str(payload)})
            if self.stop_requested:
                record.status = "cancelled"  # e.g. Cancel in the download dialog: what the person asked for
            self.failed.emit(str(payload))


class JobHandle(_Handle):
    """A small JAX job on the worker thread: ``finished(result)`` or ``failed(message)``."""

    finished = Signal(object)
    failed = Signal(str)

    def _dispatch(self, kind: str, payload: Any) -> None:
        self.done = True
        if kind == "finished":
            self.finished.emit(payload)
        else:
            self.failed.emit(str(payload))


@dataclass
class RunRequest:
    """What the worker needs to train: the settings, where the data come from, whom to tell."""

    handle: RunHandle
    config: dict[str, Any]
    data_dir: str = ""  # "" = the default search
    initial: str = ""  # "" = fresh weights, "active" = start from the active model (fine-tune)
    # (dataset, config) -> TrainData, e.g. handwriting + MNIST replay; None: the dataset as it is
    build_data: Callable[[Any, Any], Any] | None = None


@dataclass
class Job:
    """``function(model_name, params, **kwargs)`` to run on the worker thread with the active model."""

    handle: JobHandle
    function: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
