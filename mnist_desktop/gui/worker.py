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
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from mnist_desktop.core.analysis import insight
from mnist_desktop.core.analysis.saliency_methods import DEFAULT_SALIENCY, check_method
from mnist_desktop.core.models import checkpoints
from mnist_desktop.core.errors import DownloadCancelled, MnistDesktopError
from mnist_desktop.core.models.networks import get_model, param_count
from mnist_desktop.core.training.trainer import DoneEvent, EpochEvent, StepEvent, TrainConfig, Trainer
from mnist_desktop.gui.handles import Job, JobHandle, RunRequest

PARAMS_EVERY_STEPS = 50


def release_freed_memory() -> None:
    """Hand memory freed by a finished run back to the OS (glibc only).

    A run allocates tens of MB of arrays and frees them; glibc's adaptive mmap
    threshold then serves later big arrays from the heap, where small live
    allocations (predictions between runs) pin them. Measured: +150 MB RSS over
    200 start/stop cycles with 10,000 predictions; with a trim after each run
    the RSS stays flat.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        pass  # how often a training run publishes weights for the views


class Worker(QObject):
    """Owns the active model and any training run; see the module docstring."""

    # outgoing (worker thread -> GUI)
    modelChanged = Signal(dict)  # plain info: name, model_name, class_names, dataset, test_accuracy, ...
    modelFailed = Signal(str, str)  # path, message
    prediction = Signal(object, object)  # probabilities (10,) or None, Analysis-like dict or None
    paramsUpdated = Signal(str, object)  # model_name, host params (numpy tree)
    busy = Signal(str)  # "" when idle, else what the worker is doing
    error = Signal(str)
    # incoming (GUI -> worker thread; queued because the worker lives elsewhere)
    loadRequested = Signal(str)
    trainRequested = Signal(object)  # RunRequest: its handle hears started/step/epoch/finished/failed
    evaluateRequested = Signal(str, str)  # dataset name, data_dir ("" = default)
    evaluated = Signal(dict)  # dataset, class_names, accuracy, loss, confusion, per_class_accuracy, predictions, probabilities, images, labels
    activateRequested = Signal(str, object, dict)  # model_name, params, info: make a trained model the active one
    jobRequested = Signal(object)  # Job: a panel's core call on this thread, answered on its handle
    _predictPoke = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: np.ndarray | None = None
        self._last_image: np.ndarray | None = None
        self._data_cache: tuple[tuple, Any] | None = None  # (key, TrainData) of the last run
        self._has_pending = False
        self._want_analysis = False
        self._saliency_method = DEFAULT_SALIENCY
        self._trainer: Trainer | None = None
        self._services: list[Any] = []  # panels' helpers on this thread (see add_service)
        self._download_cancel = threading.Event()
        self._jobs: set[JobHandle] = set()
        self._progress_to: Any = None  # the handle of the run whose download is in progress
        self.model_name: str | None = None
        self.params: Any = None
        self.info: dict[str, Any] = {}
        self.loadRequested.connect(self._load)
        self.trainRequested.connect(self._train)
        self.evaluateRequested.connect(self._evaluate)
        self.activateRequested.connect(self.set_params)
        self.jobRequested.connect(self._run_job, Qt.ConnectionType.QueuedConnection)  # always answered later
        self._predictPoke.connect(self._serve_prediction)

    # -- called from the GUI thread (thread-safe) -----------------------------
    def request_prediction(self, image: np.ndarray | None) -> None:
        """Keep only the newest 28×28 input; the worker serves it when free."""
        with self._lock:
            self._pending = None if image is None else np.array(image, np.float32)
            self._last_image = self._pending
            self._has_pending = True
        self._predictPoke.emit()

    def set_analysis_enabled(self, enabled: bool) -> None:
        """Activations + saliency cost a gradient; compute them only when shown."""
        self._want_analysis = enabled

    def set_saliency_method(self, method: str) -> None:
        """Which saliency the analysis computes (a ``saliency_methods.SALIENCY_METHODS`` name)."""
        check_method(method)
        self._saliency_method = method

    def add_service(self, service: Any) -> None:
        """Serve ``service`` whenever a prediction is served: when idle and between training steps.

        ``service.serve(model_name, params, image)`` answers a view's pending
        requests on this thread with the model of the moment (the training
        run's newest weights during a run); ``service.on_epoch(model_name,
        params)`` follows each training epoch. (The map and step-through views
        use this: gui/insight/deeper_service.py.)
        """
        self._services.append(service)

    def _serve_services(self, model_name: str | None, params: Any) -> None:
        for service in self._services:
            try:
                service.serve(model_name, params, self._last_image)
            except Exception as err:  # a panel's helper must not stop predictions or a run
                self.error.emit(f"{type(service).__name__} failed: {err}")

    def pause_training(self) -> None:
        if self._trainer:
            self._trainer.pause()

    def resume_training(self) -> None:
        if self._trainer:
            self._trainer.resume()

    def submit(self, function: Callable[..., Any], **kwargs: Any) -> JobHandle:
        """Run ``function(model_name, params, **kwargs)`` on the worker thread with the active model.

        For a panel's small JAX jobs (e.g. measuring the handwriting set), so JAX stays on
        this thread; the returned handle answers ``finished(result)`` or ``failed(message)``.
        """
        handle = JobHandle()
        self._jobs.add(handle)  # alive until it answers, whether or not the caller keeps it
        handle.finished.connect(lambda _result: self._jobs.discard(handle))
        handle.failed.connect(lambda _message: self._jobs.discard(handle))
        self.jobRequested.emit(Job(handle, function, kwargs))
        return handle

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
        params = self.params if params is None else params
        model_name = model_name or self.model_name
        if self._services:
            self._serve_services(model_name, params)
        if not has:
            return
        if image is None or params is None or model_name is None:
            self.prediction.emit(None, None)
            return
        try:
            if self._want_analysis:
                result = insight.analyse_one(model_name, params, image, self._saliency_method)
                self.prediction.emit(result.probabilities, {"activations": result.activations, "attribution": result.attribution})
            else:
                self.prediction.emit(insight.predict_one(model_name, params, image), None)
        except Exception as err:  # never let a bad input kill the worker
            self.error.emit(f"prediction failed: {err}")

    @Slot(str, object, dict)
    def set_params(self, model_name: str, params: Any, info: dict[str, Any]) -> None:
        """Make ``params`` the active model (worker thread only; the GUI emits activateRequested)."""
        import jax

        # on the device once: each live prediction would otherwise copy the weights
        # in again (slower, and it fragments the allocator over long sessions)
        self.model_name, self.params = model_name, jax.device_put(params)
        self.info = dict(info, model_name=model_name, param_count=param_count(params), title=get_model(model_name).title)
        self.modelChanged.emit(dict(self.info, params=params))
        self.paramsUpdated.emit(model_name, params)
        with self._lock:
            self._has_pending = True  # re-read the current drawing with the new model
            self._pending = self._last_image

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
            raise DownloadCancelled("download cancelled; files already verified are kept, no partial file was left")
        if self._progress_to is not None:
            self._progress_to.post("download", (int(done), int(total or 0)))

    def _build_data(self, config: TrainConfig, request: RunRequest):
        """Load the dataset (downloading if needed); the request's ``build_data`` may turn it
        into other training data (e.g. handwriting + MNIST replay for a fine-tune)."""
        from mnist_desktop.core.training.data_prep import train_data_from
        from mnist_desktop.core.data.datasets import load_dataset

        self.busy.emit(f"loading {config.dataset}…")
        dataset = load_dataset(config.dataset, request.data_dir or None, download=True,
                               progress=self._progress, cancel=self._download_cancel.is_set)
        if request.build_data is not None:
            return dataset, request.build_data(dataset, config)
        # Re-runs on the same data reuse the arrays: converting 60,000 images anew
        # each run costs time and, over hundreds of runs, fragments the heap.
        key = (dataset.source, dataset.name, config.validation_split, config.seed)
        if self._data_cache is None or self._data_cache[0] != key:
            self._data_cache = None  # free the old arrays before making new ones
            self._data_cache = (key, train_data_from(dataset, config.validation_split, config.seed))
        return dataset, self._data_cache[1]

    @Slot(object)
    def _run_job(self, job: Job) -> None:
        """Run a :meth:`submit`-ted job; a user error or a crash answers ``failed``, never kills the worker."""
        name = getattr(job.function, "__name__", "job")
        self.busy.emit("working…")
        try:
            result = job.function(self.model_name, self.params, **dict(job.kwargs))
        except MnistDesktopError as err:
            job.handle.post("failed", str(err))
        except Exception as err:
            traceback.print_exc()
            job.handle.post("failed", f"{name} failed: {err}")
        else:
            job.handle.post("finished", result)
        finally:
            self.busy.emit("")

    @Slot(str, str)
    def _evaluate(self, dataset_name: str, data_dir: str) -> None:
        """Full test-set evaluation of the active model for the evaluation view."""
        from mnist_desktop.core.training.data_prep import train_data_from
        from mnist_desktop.core.data.datasets import load_dataset
        from mnist_desktop.core.training.evaluation import evaluate

        if self.params is None:
            self.error.emit("no active model to evaluate")
            return
        self.busy.emit(f"evaluating on {dataset_name}…")
        try:
            dataset = load_dataset(dataset_name, data_dir or None)
            data = train_data_from(dataset)
            result = evaluate(self.model_name, self.params, data.test_x, data.test_y)
        except MnistDesktopError as err:
            self.error.emit(str(err))
        except Exception as err:
            self.error.emit(f"evaluation failed: {err}")
        else:
            self.evaluated.emit({
                "dataset": dataset.name, "dataset_title": dataset.title, "class_names": list(dataset.class_names),
                "model_name": self.model_name, "accuracy": result.accuracy, "loss": result.loss,
                "confusion": result.confusion, "per_class_accuracy": result.per_class_accuracy,
                "predictions": result.predictions, "probabilities": result.probabilities,
                "images": dataset.test_images, "labels": np.asarray(dataset.test_labels),
            })
        finally:
            self.busy.emit("")

    @Slot(object)
    def _train(self, request: RunRequest) -> None:
        """Run ``request`` to its end, reporting on its handle (see :mod:`.handles`)."""
        handle = request.handle
        if self._trainer is not None:
            handle.post("failed", "a training run is already in progress")
            return
        self._download_cancel.clear()
        if handle.stop_requested:  # Stop came before this request got its turn
            self._download_cancel.set()
        self._progress_to = handle
        try:
            config = TrainConfig.from_dict(request.config)
            config.validate()
            dataset, data = self._build_data(config, request)
            start_params = self.params if request.initial == "active" and self.model_name == config.model else None
            self._trainer = Trainer(config, data, initial_params=start_params)
            if self._download_cancel.is_set():  # Stop (or window close) came while the data loaded
                self._trainer.cancel()
        except MnistDesktopError as err:
            self.busy.emit("")
            handle.post("failed", str(err))
            return
        except Exception as err:
            self.busy.emit("")
            handle.post("failed", f"could not start training: {err}")
            return
        finally:
            self._progress_to = None
        trainer = self._trainer
        self.busy.emit("training…")
        handle.post("started", {
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
                    handle.post("step", asdict(event))
                    if event.step % PARAMS_EVERY_STEPS == 0:
                        self.paramsUpdated.emit(config.model, trainer.current_params())
                elif isinstance(event, EpochEvent):
                    handle.post("epoch", asdict(event))
                    self.paramsUpdated.emit(config.model, trainer.current_params())
                    for service in self._services:
                        service.on_epoch(config.model, trainer.params)
                else:
                    done = event
        except Exception as err:
            traceback.print_exc()
            handle.post("failed", f"training failed: {err}")
        else:
            assert done is not None
            test = done.test
            handle.post("finished", {
                "status": done.status, "message": done.message, "config": config.to_dict(),
                "test_accuracy": done.test_accuracy, "test_loss": None if test is None else test.loss,
                "best_val_accuracy": done.best_val_accuracy, "train_seconds": done.train_seconds,
                "steps": done.step, "params": done.params, "dataset": dataset.name,
                "class_names": list(dataset.class_names), "finished_at": time.time(),
            })
        finally:
            self._trainer = None
            release_freed_memory()
            self.busy.emit("")
