"""One fine-tune on the person's drawings: a training run, then guarding, measuring and saving.

The run goes through the shared :class:`~mnist_desktop.gui.run_controller.RunController`
(so the training panel knows the worker is busy) with the handwriting data
builder; when it ends well, a worker job (:func:`finish_finetune_job`) blends
the weights back while MNIST slips, measures before and after, and saves the
tuned model as a new file. The split into learned-from and held-out drawings is
fixed when the run starts, so drawings added meanwhile count as neither.
"""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtCore import QObject, Signal

from mnist_desktop.core.handwriting.finetune import (
    FinetuneOptions,
    build_finetune_data,
    finetune_config,
    finish_finetune_job,
    replay_dataset_name,
)
from mnist_desktop.core.handwriting.store import HandwritingSet
from mnist_desktop.gui.handles import RunHandle
from mnist_desktop.gui.model_session import ActiveModel
from mnist_desktop.gui.run_controller import RunController
from mnist_desktop.gui.run_history import RunRecord


class FinetuneRun(QObject):
    """See the module docstring. ``done`` carries the job's result or ``{"error": message}``."""

    finishing = Signal()  # the run ended well; guarding, measuring and saving now
    done = Signal(object)

    def __init__(self, runs: RunController, worker: Any, store: HandwritingSet, model: ActiveModel,
                 options: FinetuneOptions, parent: QObject | None = None):
        super().__init__(parent)
        self._runs, self._worker, self._store, self._model = runs, worker, store, model
        self.options = options
        self.dataset_name = replay_dataset_name()
        self.config = finetune_config(model.model_name, self.dataset_name, options).to_dict()
        self.split = store.split(options.held_out, options.seed)
        self.record = RunRecord(number=1, config={**self.config, "dataset": "(your handwriting + MNIST)"},
                                dataset_title="your handwriting")
        self.handle: RunHandle | None = None
        self.state = "idle"  # training, finishing, done

    def _ids(self) -> dict[str, list[str]]:
        return {"train_ids": list(self.split.train_ids), "held_out_ids": list(self.split.held_out_ids)}

    def start(self) -> RunHandle | None:
        """Start the run on the worker (from the active model's weights); None if it cannot start."""
        extra = {"handwriting_dir": str(self._store.root), **self.options.to_dict(), **self._ids()}
        handle = self._runs.start(self.record, self.config, initial="active",
                                  build_data=functools.partial(build_finetune_data, extra=extra))
        if handle is None:
            return None
        handle.finished.connect(self._on_run_finished)
        handle.failed.connect(lambda message: self._fail(message, stopped=False))
        self.handle, self.state = handle, "training"
        return handle

    def stop(self) -> None:
        if self.state == "training" and self.handle is not None:
            self.handle.stop()

    def _fail(self, message: str, stopped: bool) -> None:
        self.state = "done"
        self.done.emit({"error": message, "stopped": stopped, "during": "run"})

    def _on_run_finished(self, result: dict) -> None:
        status = result.get("status")
        if status != "completed" or result.get("params") is None:
            self._fail(str(result.get("message") or status), stopped=status == "stopped")
            return
        self.state = "finishing"
        self.finishing.emit()
        model = self._model
        job = self._worker.submit(
            finish_finetune_job, model_name=model.model_name, base_params=model.params,
            tuned_params=result["params"], handwriting_dir=str(self._store.root), dataset=self.dataset_name,
            options=self.options.to_dict(), config=self.config, status=status,
            base_info={"name": model.name, "path": model.path, "metadata": dict(model.metadata),
                       "dataset": model.dataset, "class_names": list(model.class_names)},
            **self._ids())
        job.finished.connect(self._on_job_finished)
        job.failed.connect(self._on_job_failed)

    def _on_job_finished(self, result: Any) -> None:
        self.state = "done"
        self.done.emit(result)

    def _on_job_failed(self, message: str) -> None:
        self.state = "done"
        self.done.emit({"error": message, "during": "finish"})
