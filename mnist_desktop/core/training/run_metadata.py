"""What a saved model records about the run that made it, and where a new one is saved.

Shared by the CLI's ``train`` and the GUI's "Use this model" / File → Save, so a
model file says the same things whichever made it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_desktop.core.paths import user_data_dir
from mnist_desktop.core.training.trainer import DoneEvent, TrainConfig


def default_model_path(model: str, dataset: str) -> Path:
    """A new, time-stamped file in the user's models folder ("custom-…" for a network named by its layers)."""
    from mnist_desktop.core.models.spec import file_label

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return user_data_dir() / "models" / f"{file_label(model)}-{dataset}-{stamp}.ckpt"


def checkpoint_metadata(config: TrainConfig, dataset_name: str, class_names: Sequence[str], *,
                        train_seconds: float, steps: int, status: str, test_accuracy: float | None = None,
                        test_loss: float | None = None, best_val_accuracy: float | None = None) -> dict[str, Any]:
    """The metadata block of a trained model: dataset, classes, hyperparameters, metrics, outcome."""
    metrics: dict[str, Any] = {"train_seconds": round(float(train_seconds), 2), "steps": int(steps)}
    if test_accuracy is not None:
        metrics.update(test_accuracy=test_accuracy, test_loss=test_loss)
    if best_val_accuracy is not None:
        metrics["best_val_accuracy"] = best_val_accuracy
    return {
        "dataset": dataset_name,
        "class_names": list(class_names),
        "hyperparameters": config.to_dict(),
        "metrics": metrics,
        "status": status,
    }


def metadata_from_done(config: TrainConfig, dataset_name: str, class_names: Sequence[str], done: DoneEvent) -> dict[str, Any]:
    """:func:`checkpoint_metadata` from a trainer's final event."""
    test = done.test
    return checkpoint_metadata(config, dataset_name, class_names, train_seconds=done.train_seconds, steps=done.step,
                               status=done.status, test_accuracy=None if test is None else test.accuracy,
                               test_loss=None if test is None else test.loss,
                               best_val_accuracy=done.best_val_accuracy)
