"""Turn a loaded :class:`~.datasets.Dataset` into the trainer's float arrays."""

from __future__ import annotations

import numpy as np

from mnist_desktop.core.data.datasets import Dataset, split_validation, to_model_array
from mnist_desktop.core.training.trainer import TrainData

# Digit datasets get the live preprocessing's stroke-width normalisation (issue 15);
# Fashion-MNIST's filled shapes have no strokes to normalise.
WIDTH_NORMALISED = ("mnist", "mnist-subset")


def model_array_for(dataset_name: str, images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) images of ``dataset_name`` as model input, as a drawing would be preprocessed."""
    if dataset_name in WIDTH_NORMALISED:
        from mnist_desktop.core.data.preprocess import normalise_width_batch

        images = normalise_width_batch(images)
    return to_model_array(images)


def train_data_from(dataset: Dataset, validation_split: float = 0.0, seed: int = 0) -> TrainData:
    """Split off a seeded validation set and scale images to float [0, 1] NHWC (digits width-normalised)."""
    tx, ty, vx, vy = split_validation(dataset.train_images, dataset.train_labels, validation_split, seed)
    as_input = lambda images: model_array_for(dataset.name, images)  # noqa: E731
    return TrainData(
        train_x=as_input(tx),
        train_y=np.asarray(ty, np.int32),
        val_x=as_input(vx),
        val_y=np.asarray(vy, np.int32),
        test_x=as_input(dataset.test_images),
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


def add_pendigits(data: TrainData, path, style: str = "canvas", copies: int = 1, seed: int = 0,
                  progress=None) -> int:
    """Append real pen digits (the training blocks of a UCI pen file) drawn as canvas strokes.

    Each trajectory is drawn ``copies`` times with different random pens
    (:data:`~mnist_desktop.core.data.pendigits.PEN_STYLES` ``style``) and goes
    through the live preprocessing. The held-out blocks
    (:func:`~mnist_desktop.core.data.pendigits.split_blocks`) are never used, so
    they stay a validation set. Returns how many images were added.
    """
    from mnist_desktop.core.data.pendigits import PEN_STYLES, load_pendigits, pen_model_inputs, split_blocks

    if style not in PEN_STYLES:
        from mnist_desktop.core.errors import ConfigError

        raise ConfigError("pen_style", f"{style!r} is not one of {', '.join(PEN_STYLES)}")
    pen = load_pendigits(path)
    train_idx, _ = split_blocks(len(pen))
    digits = pen.take(train_idx)
    images = [pen_model_inputs(digits, style, seed=int(seed) * 1000 + k, progress=progress) for k in range(max(0, copies))]
    if not images:
        return 0
    data.train_x = np.concatenate([data.train_x, np.concatenate(images)[..., None]])
    data.train_y = np.concatenate([data.train_y, np.tile(digits.labels, len(images)).astype(np.int32)])
    return len(images) * len(digits)
