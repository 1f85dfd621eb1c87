"""The verdict beside the digit: one styled line saying how far to trust the answer.

Four looks a person can tell apart at a glance (colour *and* wording, so it
also reads in grey-scale and for colour-blind users): a quiet green "digit",
an amber "not sure", a red "doesn't look like a digit", and a neutral
"keep drawing" for marks too small to read.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

#: kind -> (text colour, background, border) -- readable on light and dark themes
STYLES = {
    "digit": ("#1b5e20", "#e8f5e9", "#81c784"),
    "unsure": ("#7a4f00", "#fff4d6", "#f0b429"),
    "not_a_digit": ("#8e1b1b", "#fde7e7", "#e57373"),
    "too_small": ("#37474f", "#eceff1", "#b0bec5"),
}


def verdict_text(verdict: dict[str, Any] | None, names: Sequence[str]) -> tuple[str, str]:
    """(headline text, badge text) for a verdict dict from the worker; ("", "") for none."""
    if not verdict:
        return "", ""
    label, second = names[verdict["label"]], names[verdict["runner_up"]]
    kind = verdict["kind"]
    if verdict.get("ood_score") is None and kind in ("digit", "unsure"):
        # an older model: say that only its confidence was judged (the tooltip says why)
        headline, badge = verdict_text(dict(verdict, ood_score=0.0), names)
        return headline, f"{badge} (confidence only)"
    if kind == "too_small":
        return "Keep drawing", "Too small to read yet"
    if kind == "not_a_digit":
        return "?", "Doesn't look like a digit"
    if kind == "unsure":
        return f"{label} or {second}?", f"Not sure: {label} or {second}?"
    return label, "Digit"


class VerdictBadge(QLabel):
    """A rounded, coloured line with the verdict; hidden when there is none."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = ""
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAccessibleName("Verdict")
        self.hide()

    def show_verdict(self, kind: str, text: str, note: str = "") -> None:
        self.kind = kind
        if not kind:
            self.setText("")
            self.hide()
            return
        fg, bg, border = STYLES[kind]
        weight = "600" if kind != "digit" else "500"
        self.setStyleSheet(f"QLabel {{ color: {fg}; background: {bg}; border: 1px solid {border}; "
                           f"border-radius: 6px; padding: 4px 8px; font-weight: {weight}; }}")
        self.setText(text)
        self.setToolTip(note)
        self.setAccessibleDescription(text)
        self.show()
