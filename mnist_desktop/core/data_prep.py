"""Turn a loaded :class:`~.datasets.Dataset` into the trainer's float arrays."""

from __future__ import annotations

import numpy as np

from .datasets import Dataset, split_validation, to_model_array
from .training import TrainData


def train_data_from(dataset: Dataset, validation_split: float = 0.0, seed: int = 0) -> TrainData:
    """Split off a seeded validation set and scale images to float [0, 1] NHWC."""
    tx, ty, vx, vy = split_validation(dataset.train_images, dataset.train_labels, validation_split, seed)
    return TrainData(
        train_x=to_model_array(tx),
        train_y=np.asarray(ty, np.int32),
        val_x=to_model_array(vx),
        val_y=np.asarray(vy, np.int32),
        test_x=to_model_array(dataset.test_images),
        test_y=np.asarray(dataset.test_labels, np.int32),
        class_names=tuple(dataset.class_names),
        dataset=dataset.name,
    )
