"""Turn a loaded :class:`~.datasets.Dataset` into the trainer's float arrays."""

from __future__ import annotations

import numpy as np

from mnist_desktop.core.data.datasets import Dataset, split_validation, to_model_array
from mnist_desktop.core.training.trainer import TrainData


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


def add_synthetic_drawn(data: TrainData, per_class: int, seed: int) -> TrainData:
    """Append ``per_class`` synthetic mouse-drawn digits of each class to the training split.

    MNIST rarely shows how people draw with a mouse (a 1 with a flag and base, a
    7 with a bar, open 4s and 9s, polyline corners); affine jitter alone barely
    helps with those. The generator's seed stream is kept apart from the drawn
    *test* set's seed (1234) so no test drawing is trained on.
    """
    from mnist_desktop.core.data.strokes import make_drawn_test_set

    if per_class <= 0:
        return data
    images, labels = make_drawn_test_set(per_class, seed=[int(seed), 0x5EED])  # type: ignore[arg-type]
    data.train_x = np.concatenate([data.train_x, images[..., None].astype(np.float32)])
    data.train_y = np.concatenate([data.train_y, labels.astype(np.int32)])
    return data
