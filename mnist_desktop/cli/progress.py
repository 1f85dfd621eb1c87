"""A Keras-style text progress bar for the headless CLI.

On a terminal the bar redraws in place (``\\r``); when output goes to a file or
CI log only the per-epoch summary lines are printed, so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class ProgressBar:
    """``[=====>....]`` with a counter and free-form metrics after it."""

    def __init__(self, total: int | None, stream: TextIO | None = None, width: int = 30, interactive: bool | None = None):
        self.total = total
        self.stream = stream or sys.stderr
        self.width = width
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._last_len = 0

    def _bar(self, done: int) -> str:
        if not self.total:
            return f"{done}"
        frac = min(1.0, done / self.total)
        filled = int(frac * self.width)
        arrow = ">" if filled < self.width else ""
        bar = "=" * filled + arrow + "." * (self.width - filled - len(arrow))
        digits = len(str(self.total))
        return f"{done:>{digits}}/{self.total} [{bar}]"

    def update(self, done: int, suffix: str = "") -> None:
        """Redraw in place (terminal only)."""
        if not self.interactive:
            return
        line = f"{self._bar(done)} {suffix}".rstrip()
        pad = max(0, self._last_len - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._last_len = len(line)

    def finish(self, done: int, suffix: str = "") -> None:
        """Print the final line for this bar (always, terminal or not)."""
        line = f"{self._bar(done)} {suffix}".rstrip()
        pad = max(0, self._last_len - len(line)) if self.interactive else 0
        self.stream.write(("\r" if self.interactive else "") + line + " " * pad + "\n")
        self.stream.flush()
        self._last_len = 0
