"""What a sweep varies and the values it tries: parsing only, no JAX (the GUI reads it at start-up).

``parse_axis("width@1=10,30,100")`` is the CLI's ``--vary``; ``parse_values`` reads a
list (``10,30,100``) or a range (``START:STOP:COUNT``, ``:log`` for geometric steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_desktop.core.errors import ConfigError

#: What a sweep can vary: name → (TrainConfig field or architecture edit, kind, title)
PARAMETERS: dict[str, tuple[str, str]] = {
    "learning_rate": ("float", "Learning rate"),
    "batch_size": ("int", "Batch size"),
    "epochs": ("float", "Epochs"),
    "weight_decay": ("float", "Weight decay"),
    "label_smoothing": ("float", "Label smoothing"),
    "seed": ("int", "Seed"),
    "width": ("int", "Layer width"),  # units of a dense / channels of a conv layer
    "dropout": ("float", "Dropout rate"),  # every dropout layer's rate
}
ALIASES = {"lr": "learning_rate", "batch": "batch_size", "wd": "weight_decay", "units": "width", "channels": "width"}
LOG_SCALE = ("learning_rate", "weight_decay", "width", "batch_size")  # plotted (and ranged) geometrically
MAX_RUNS = 64


@dataclass(frozen=True)
class Axis:
    """One swept setting: its name, its values, and for ``width`` the layer (1-based)."""

    name: str
    values: tuple[float, ...]
    layer: int | None = None

    @property
    def title(self) -> str:
        base = PARAMETERS[self.name][1]
        return f"{base} (layer {self.layer})" if self.layer else base

    @property
    def log_scale(self) -> bool:
        return self.name in LOG_SCALE and all(v > 0 for v in self.values)


def parse_values(text: str, name: str) -> tuple[float, ...]:
    """``"10,30,100"``, or a range ``"START:STOP:COUNT"`` (``":log"`` appended for geometric steps)."""
    name = ALIASES.get(name, name)
    kind = PARAMETERS.get(name, ("float",))[0]
    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3].strip().lower() != "log"):
                raise ValueError("a range is START:STOP:COUNT or START:STOP:COUNT:log")
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
            if not 2 <= count <= MAX_RUNS:
                raise ValueError(f"COUNT must be 2 to {MAX_RUNS}")
            if len(parts) == 4:
                if start <= 0 or stop <= 0:
                    raise ValueError("a log range needs positive ends")
                values = np.geomspace(start, stop, count)
            else:
                values = np.linspace(start, stop, count)
        else:
            values = np.array([float(part) for part in text.split(",") if part.strip()])
    except ValueError as err:
        raise ConfigError(name, f"cannot read the values {text[:60]!r}: {err}") from None
    if len(values) == 0:
        raise ConfigError(name, "give at least one value, e.g. 10,30,100")
    if not np.all(np.isfinite(values)):
        raise ConfigError(name, "values must be finite numbers")
    if kind == "int":
        values = np.unique(np.rint(values).astype(int))
    return tuple(int(v) if kind == "int" else float(v) for v in values)


def parse_axis(text: str) -> Axis:
    """``"NAME[@LAYER]=VALUES"`` as the CLI's ``--vary`` takes it (e.g. ``width@1=10,30,100``)."""
    if "=" not in text:
        raise ConfigError("vary", f"{text[:60]!r} should look like NAME=VALUES, e.g. lr=1e-3,3e-3 or width=10:1000:5:log")
    key, values = text.split("=", 1)
    key, _, layer = key.strip().lower().partition("@")
    name = ALIASES.get(key, key)
    if name not in PARAMETERS:
        raise ConfigError("vary", f"cannot sweep {key!r}; choose one of {', '.join(PARAMETERS)}")
    layer_index = None
    if layer:
        if name != "width" or not layer.isdigit():
            raise ConfigError("vary", "only width takes @LAYER, a layer number such as width@3")
        layer_index = int(layer)
    return Axis(name, parse_values(values, name), layer_index)
