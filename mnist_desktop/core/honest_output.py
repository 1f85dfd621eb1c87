"""Output that cannot lie or misbehave: strict JSON and terminal-safe strings.

Why: ``json.dumps`` writes bare ``NaN``/``Infinity`` (not JSON; every strict
parser rejects the line), and strings that come from a model file -- class
names, dataset names -- reach the terminal. A crafted checkpoint could then
move the cursor, recolour or clear the screen (ANSI escapes) or reorder what
the person reads (Unicode bidi controls). Everything the CLI prints from a
file goes through :func:`terminal_safe`; every JSON line through :func:`strict_json`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any, Mapping

import numpy as np

# ESC-introduced sequences (CSI, OSC, ...) first, then any single control left over.
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def terminal_safe(text: Any, max_len: int = 200, *, newlines: bool = False) -> str:
    """``text`` with escape sequences, control and bidi characters made visible and harmless.

    Removed sequences become nothing; other control characters (C0, C1, DEL)
    and bidi overrides become ``\\uXXXX`` so the person sees that something
    was there. Long strings are cut to ``max_len`` characters with an ellipsis.
    ``newlines`` keeps line breaks (for multi-line error messages).
    """
    s = _ANSI.sub("", str(text))
    out = []
    for ch in s:
        if newlines and ch == "\n":
            out.append(ch)
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200d":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    s = "".join(out)
    return s if len(s) <= max_len else s[: max_len - 1] + "…"


def finite_or_none(value: Any) -> Any:
    """A float for finite numbers, None for NaN/±inf (so JSON can say null)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _clean(value: Any, path: str, reasons: dict[str, str]) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v, f"{path}.{k}" if path else str(k), reasons) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, f"{path}[{i}]", reasons) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist(), path, reasons)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        reasons[path] = "nan" if value != value else ("inf" if value > 0 else "-inf")
        return None
    return value


def strict_json(obj: Mapping[str, Any]) -> str:
    """One line of valid JSON: NaN/±inf become null, and ``"null_reasons"`` says which and why.

    ``null_reasons`` maps each nulled field (dotted path) to "nan"/"inf"/"-inf",
    so a script can tell "not computed" from "computed but not a number" -- the
    latter means the model's outputs are not finite (huge or broken weights).
    """
    reasons: dict[str, str] = {}
    cleaned = _clean(obj, "", reasons)
    if reasons:
        cleaned["null_reasons"] = {k: f"value was {v}: the model's output is not a finite number"
                                   for k, v in reasons.items()}
    return json.dumps(cleaned, allow_nan=False)
