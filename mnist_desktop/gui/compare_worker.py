"""The worker's side of the compare strip: up to four pinned models read every drawing.

Lives on the worker thread with the rest of the JAX state (the strip only ever
sees plain numbers). Each pinned model's weights are put on the device once;
every drawing then costs one jitted call per model (logits, features and the
gradient saliency of its answer) plus the numpy OOD score -- measured by
``mnist-desktop bench compare``. Newest drawing wins because the worker's
pending-drawing slot holds only the latest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mnist_desktop.core.analysis.reading import read_drawing

MAX_PINNED = 4


@dataclass
class Pinned:
    key: str
    title: str
    model_name: str
    params: Any
    doubt: Any
    info: dict[str, Any]


class PinnedModels:
    """Ordered pinned models, keyed by a caller-chosen id (a run, a file path, "active", "tuned")."""

    def __init__(self) -> None:
        self._models: dict[str, Pinned] = {}

    def __bool__(self) -> bool:
        return bool(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def keys(self) -> list[str]:
        return list(self._models)

    def get(self, key: str) -> Pinned | None:
        return self._models.get(key)

    def pin(self, key: str, title: str, model_name: str, params: Any, doubt: Any, info: dict[str, Any]) -> None:
        """Add (or refresh) a model; the fifth distinct one is refused with a ValueError."""
        import jax

        if key not in self._models and len(self._models) >= MAX_PINNED:
            raise ValueError(f"at most {MAX_PINNED} models can be compared; unpin one first")
        self._models[key] = Pinned(key, title, model_name, jax.device_put(params), doubt, dict(info))

    def unpin(self, key: str) -> None:
        self._models.pop(key, None)

    def read_all(self, image: np.ndarray | None, too_small: bool) -> list[dict[str, Any]]:
        """Every pinned model's reading of ``image`` (None: the empty canvas) as plain dicts."""
        out = []
        for p in self._models.values():
            row: dict[str, Any] = {"key": p.key, "title": p.title, "model_name": p.model_name, "has_doubt": p.doubt is not None}
            if image is None:
                row.update(probabilities=None, verdict=None, saliency=None)
            else:
                reading = read_drawing(p.model_name, p.params, p.doubt, image, too_small=too_small, saliency=True)
                row.update(probabilities=reading.probabilities, verdict=asdict(reading.verdict), saliency=reading.saliency)
            out.append(row)
        return out
