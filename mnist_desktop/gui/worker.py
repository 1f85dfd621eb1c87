"""The one object that owns JAX state, living on its own QThread.

The GUI thread never calls JAX. It asks the worker for things through queued
signals (or the thread-safe ``request_*``/control methods below) and gets plain
numbers, dicts and numpy arrays back through signals.

Live prediction is "latest wins": the canvas stores only the newest drawing
(under a lock) and pokes the worker; a burst of strokes never builds a queue.
While a training run occupies the worker thread, the training loop itself
serves the newest drawing between steps with the newest parameters, so a person
can watch the prediction improve as the model learns.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from ..core import checkpoints, insight
from ..core.errors import DownloadCancelled, MnistDesktopError
from ..core.models import get_model, param_count
from ..core.training import DoneEvent, EpochEvent, StepEvent, TrainConfig, Trainer

PARAMS_EVERY_STEPS = 50  # how often a training run publishes weights for the views


class Worker(QObject):
    """Owns the active model and any training run; see the module docstring."""

    # outgoing (worker thread -> GUI)
    modelChanged = Signal(dict)  # plain info: name, model_name, class_names, dataset, test_accuracy, ...
    modelFailed = Signal(str, str)  # path, message
    prediction = Signal(object, object)  # probabilities (10,) or None, Analysis-like dict or None
    paramsUpdated = Signal(str, object)  # model_name, host params (numpy tree)
    trainStarted = Signal(dict)
    trainStep = Signal(dict)
    trainEpoch = Signal(dict)
    trainFinished = Signal(dict)  # status, message, test_accuracy, ...
    downloadProgress = Signal(int, int)  # bytes done, total (0 = unknown)
    busy = Signal(str)  # "" when idle, else what the worker is doing
    error = Signal(str)
    # incoming (GUI -> worker thread; queued because the worker lives elsewhere)
    loadRequested = Signal(str)
    trainRequested = Signal(dict, str, str)  # config, data_dir ("" = default), initial ("" = fresh, "active" = fine-tune)
    _predictPoke = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: np.ndarray | None = None
        self._has_pending = False
        self._want_analysis = False
        self._trainer: Trainer | None = None
        self._download_cancel = threading.Event()
        self.model_name: str | None = None
        self.params: Any = None
        self.info: dict[str, Any] = {}
        self.loadRequested.connect(self._load)
        self.trainRequested.connect(self._train)
        self._predictPoke.connect(self._serve_prediction)

    # -- called from the GUI thread (thread-safe) -----------------------------
    def request_prediction(self, image: np.ndarray | None) -> None:
        """Keep only the newest 28×28 input; the worker serves it when free."""
        with self._lock:
            self._pending = None if image is None else np.array(image, np.float32)
            self._has_pending = True
        self._predictPoke.emit()

    def set_analysis_enabled(self, enabled: bool) -> None:
        """Activations + saliency cost a gradient; compute them only when shown."""
        self._want_analysis = enabled

    def pause_training(self) -> None:
        if self._trainer:
            self._trainer.pause()

    def resume_training(self) -> None:
        if self._trainer:
            self._trainer.resume()

    def stop_training(self) -> None:
        if self._trainer:
            self._trainer.cancel()
        self._download_cancel.set()

    def is_training(self) -> bool:
        return self._trainer is not None

    # -- worker thread --------------------------------------------------------
    def _take_pending(self) -> tuple[bool, np.ndarray | None]:
        with self._lock:
            has, image = self._has_pending, self._pending
            self._has_pending, self._pending = False, None
        return has, image

    @Slot()
    def _serve_prediction(self, params: Any = None, model_name: str | None = None) -> None:
        has, image = self._take_pending()
        if not has:
            return
        params = self.params if params is None else params
        model_name = model_name or self.model_name
        if image is None or params is None or model_name is None:
            self.prediction.emit(None, None)
            return
        try:
            if self._want_analysis:
                result = insight.analyse_one(model_name, params, image)
                self.prediction.emit(result.probabilities, {"activations": result.activations, "saliency": result.saliency})
            else:
                self.prediction.emit(insight.predict_one(model_name, params, image), None)
        except Exception as err:  # never let a bad input kill the worker
            self.error.emit(f"prediction failed: {err}")

    def set_params(self, model_name: str, params: Any, info: dict[str, Any]) -> None:
        """Make ``params`` the active model (worker thread only)."""
        self.model_name, self.params = model_name, params
        self.info = dict(info, model_name=model_name, param_count=param_count(params), title=get_model(model_name).title)
        self.modelChanged.emit(dict(self.info, params=params))
        self.paramsUpdated.emit(model_name, params)

    @Slot(str)
    def _load(self, path: str) -> None:
        self.busy.emit("loading model…")
        try:
            ckpt = checkpoints.load_checkpoint(path)
            # compile the live path now, so the first stroke is answered at once
            insight.predict_one(ckpt.model_name, ckpt.params, np.zeros((28, 28), np.float32))
        except MnistDesktopError as err:
            self.modelFailed.emit(path, str(err))
        except Exception as err:
            self.modelFailed.emit(path, f"unexpected error loading {path}: {err}")
        else:
            self.set_params(ckpt.model_name, ckpt.params, {
                "name": Path(path).stem, "path": str(path), "class_names": ckpt.class_names,
                "dataset": ckpt.dataset, "test_accuracy": ckpt.test_accuracy, "metadata": ckpt.metadata,
            })
        finally:
            self.busy.emit("")
        self._serve_prediction()

    def _progress(self, done: int, total: int | None) -> None:
        if self._download_cancel.is_set():
            raise DownloadCancelled("download cancelled; nothing was saved")
        self.downloadProgress.emit(int(done), int(total or 0))

    @Slot(dict, str, str)
    def _train(self, config_values: dict, data_dir: str, initial: str) -> None:
        from ..core.data_prep import train_data_from
        from ..core.datasets import load_dataset

        if self._trainer is not None:
            self.error.emit("a training run is already in progress")
            return
        self._download_cancel.clear()
        try:
            config = TrainConfig.from_dict(config_values)
            config.validate()
            self.busy.emit(f"loading {config.dataset}…")
            dataset = load_dataset(config.dataset, data_dir or None, download=True,
                                   progress=self._progress, cancel=self._download_cancel.is_set)
            data = train_data_from(dataset, config.validation_split, config.seed)
            start_params = self.params if initial == "active" and self.model_name == config.model else None
            self._trainer = Trainer(config, data, initial_params=start_params)
        except MnistDesktopError as err:
            self.busy.emit("")
            self.trainFinished.emit({"status": "failed", "message": str(err), "config": config_values})
            return
        except Exception as err:
            self.busy.emit("")
            self.trainFinished.emit({"status": "failed", "message": f"could not start training: {err}", "config": config_values})
            return
        trainer = self._trainer
        self.busy.emit("training…")
        self.trainStarted.emit({
            "config": config.to_dict(), "total_steps": trainer.total_steps, "epochs": trainer.epochs,
            "steps_per_epoch": trainer.steps_per_epoch, "train_size": len(data.train_x),
            "val_size": len(data.val_x), "test_size": len(data.test_x), "dataset_title": dataset.title,
            "class_names": list(dataset.class_names),
        })
        done: DoneEvent | None = None
        # live prediction with the newest weights, served between training steps
        trainer.between_steps = lambda: self._serve_prediction(trainer.params, config.model)
        try:
            for event in trainer.run():
                if isinstance(event, StepEvent):
                    self.trainStep.emit(asdict(event))
                    if event.step % PARAMS_EVERY_STEPS == 0:
                        self.paramsUpdated.emit(config.model, trainer.current_params())
                elif isinstance(event, EpochEvent):
                    self.trainEpoch.emit(asdict(event))
                    self.paramsUpdated.emit(config.model, trainer.current_params())
                else:
                    done = event
        except Exception as err:
            traceback.print_exc()
            self.trainFinished.emit({"status": "failed", "message": f"training failed: {err}", "config": config.to_dict()})
        else:
            assert done is not None
            test = done.test
            self.trainFinished.emit({
                "status": done.status, "message": done.message, "config": config.to_dict(),
                "test_accuracy": done.test_accuracy, "test_loss": None if test is None else test.loss,
                "best_val_accuracy": done.best_val_accuracy, "train_seconds": done.train_seconds,
                "steps": done.step, "params": done.params, "dataset": dataset.name,
                "class_names": list(dataset.class_names), "finished_at": time.time(),
            })
        finally:
            self._trainer = None
            self.busy.emit("")
