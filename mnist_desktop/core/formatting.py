"""How numbers read in the app: shares as percentages, probabilities, durations.

One set for every view (and the core's text reports), so the same accuracy
never reads "97.3%" in one place and "97.34 %" in another by accident.
"""

from __future__ import annotations

import math


def format_fraction(value: float | None, digits: int = 1) -> str:
    """``0.9734`` → ``"97.3%"`` (``digits`` after the point); None, NaN or ±inf → ``"–"``."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}%}"


def format_probability(probability: float) -> str:
    """``0.934`` → ``"93.4%"``; below 0.05 % ``"<0.1%"`` instead of a misleading ``"0.0%"``.

    Likewise ``">99.9%"`` from 99.95 % up: a model is never certain, and a
    calibrated answer that rounds to "100.0%" (or is 1.0 in float32) claims it is.
    """
    if 0.0 < probability < 0.0005:
        return "<0.1%"
    if probability >= 0.9995 and math.isfinite(probability):
        return ">99.9%"
    return format_fraction(probability, 1)


def format_duration(seconds: float | None) -> str:
    """``65.2`` → ``"1:05"``; hours when needed; ``"–"`` for unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
