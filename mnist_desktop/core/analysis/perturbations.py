"""The perturbations the robustness curves sweep: names, units and levels (no JAX here).

Kept apart from ``robustness.py`` so the GUI can build its sliders before the
worker has imported JAX.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Perturbation:
    name: str
    title: str
    unit: str
    levels: tuple[float, ...]  # what a curve sweeps; the neutral level (no change) is among them
    neutral: float


def _levels(lo: float, hi: float, n: int = 13) -> tuple[float, ...]:
    return tuple(float(v) for v in np.round(np.linspace(lo, hi, n), 4))


PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in (
    Perturbation("rotation", "Rotation", "°", _levels(-90, 90), 0.0),
    Perturbation("scale", "Scale", "×", _levels(0.4, 1.6), 1.0),
    Perturbation("shift", "Shift right", "px", _levels(-9, 9, 19), 0.0),
    Perturbation("thickness", "Stroke thickness", "px", _levels(-1, 2, 13), 0.0),
    Perturbation("noise", "Noise", "σ", _levels(0, 0.6), 0.0),
)}


def get_perturbation(name: str) -> Perturbation:
    try:
        return PERTURBATIONS[name]
    except KeyError:
        raise ValueError(f"unknown perturbation {name!r}; choose one of {', '.join(PERTURBATIONS)}") from None
