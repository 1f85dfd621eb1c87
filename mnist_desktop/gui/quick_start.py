"""The first seconds after launch: predictions before JAX has loaded.

Importing JAX, Haiku and Optax costs 1–3 s on a laptop CPU, more than
everything else start-up needs. Without help the window would sit there with a
"loading model…" label and ignore the first strokes. So at launch:

* :class:`NumpyPreview` reads the start-up model with the NumPy table (no JAX)
  and answers strokes with :mod:`mnist_desktop.core.models.numpy_forward`
  (the same numbers as the jitted forward, to 1e-5; a CNN forward is ~1 ms);
* :class:`JaxLoader` imports JAX and the worker module on a thread, so the
  event loop keeps painting; when it finishes the window starts the worker as
  before, the worker loads the model, and the preview steps aside.

Nothing here calls JAX: the GUI thread still never does.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread

from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.models import numpy_forward
from mnist_desktop.core.models.checkpoints import Checkpoint, load_checkpoint


class NumpyPreview:
    """A model read without JAX, answering single drawings in NumPy."""

    def __init__(self, path: Path, checkpoint: Checkpoint) -> None:
        self.path = path
        self.checkpoint = checkpoint

    @classmethod
    def load(cls, path: str | Path) -> NumpyPreview | None:
        """The preview for ``path``, or None if NumPy cannot serve it.

        None is not an error to show: the worker loads the same file with JAX
        next and reports any real problem with it itself.
        """
        try:
            return cls(Path(path), load_checkpoint(path, numpy_forward.PARAM_SHAPES))
        except MnistDesktopError:
            return None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def class_names(self) -> list[str]:
        return self.checkpoint.class_names

    def predict(self, image: np.ndarray | None) -> np.ndarray | None:
        """Probabilities (10,) for a 28×28 model input; None for an empty canvas."""
        if image is None:
            return None
        return numpy_forward.predict_one(self.checkpoint.model_name, self.checkpoint.params, image)


class JaxLoader(QThread):
    """Imports JAX and the worker module off the GUI thread; ``finished`` says it is done.

    A failed import is left for the GUI thread's own import in ``start_worker``
    to raise, where it was raised before this class existed.
    """

    def run(self) -> None:  # noqa: D401 - QThread API
        try:
            from mnist_desktop.core.jax_setup import configure_jax

            configure_jax()
            import mnist_desktop.gui.worker  # noqa: F401  (imports jax, haiku, optax)
        except Exception:
            traceback.print_exc()
