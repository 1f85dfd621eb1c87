"""What a saved setting may hold; anything else is dropped with a log line, never fatal.

Why (issue 14, defect 7): the settings file is plain text a person (or a crash,
or another version) can change, and the GUI trusted it: ``brush=inf`` raised
OverflowError before the window existed, a deeply nested ``training/config``
raised RecursionError, and a FIFO or ``/dev/zero`` saved as ``model/last`` left
the window on "loading model…" at every launch (``/dev/zero`` growing memory
without bound). Here every key has a rule -- type, range, size, nesting depth,
and for paths: a regular file / an existing folder -- and :func:`validate` says
what a raw value means or why it is refused. Pure: no Qt (the GUI's
``settings_access`` adapts QSettings to it).
"""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any, Callable

MAX_TEXT = 4096
MAX_JSON_BYTES = 64 << 10
MAX_JSON_DEPTH = 4  # a training config is one flat object; nested objects go no deeper than this
MAX_BLOB = 256 << 10  # window geometry/state blobs are a few KiB
MAX_MODEL_BYTES = 512 << 20


class SettingRejected(ValueError):
    """A stored value that does not fit its rule; the message says why."""


def as_number(lo: float, hi: float, *, integer: bool = False) -> Callable[[Any], float]:
    def check(raw: Any) -> float:
        if isinstance(raw, bool):
            raise SettingRejected(f"{raw!r} is not a number")
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise SettingRejected(f"{str(raw)[:40]!r} is not a number") from None
        if not math.isfinite(value):
            raise SettingRejected(f"{raw!r} is not a finite number")
        if not lo <= value <= hi:
            raise SettingRejected(f"{value:g} is outside {lo:g}..{hi:g}")
        return float(round(value)) if integer else value

    return check


def as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise SettingRejected(f"{str(raw)[:40]!r} is not true or false")


def as_text(raw: Any, max_len: int = MAX_TEXT) -> str:
    if not isinstance(raw, str):
        raise SettingRejected(f"a {type(raw).__name__} where text belongs")
    if len(raw) > max_len or "\0" in raw:
        raise SettingRejected(f"text of {len(raw):,} characters (limit {max_len:,}) or with a NUL byte")
    return raw


def as_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(raw: Any) -> str:
        text = as_text(raw, 64)
        if text not in choices:
            raise SettingRejected(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return check


def as_regular_file(raw: Any, max_bytes: int = MAX_MODEL_BYTES) -> str:
    """A path to an existing regular file of sane size (a FIFO or device would hang the loader)."""
    path = Path(as_text(raw))
    try:
        info = path.stat()
    except (OSError, ValueError) as err:
        raise SettingRejected(f"{str(path)[:120]} cannot be used ({getattr(err, 'strerror', None) or err})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SettingRejected(f"{str(path)[:120]} is not a regular file")
    if info.st_size > max_bytes:
        raise SettingRejected(f"{str(path)[:120]} is {info.st_size:,} bytes, larger than any model")
    return str(path)


def as_folder(raw: Any) -> str:
    path = Path(as_text(raw))
    try:
        ok = stat.S_ISDIR(path.stat().st_mode)
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise SettingRejected(f"{str(path)[:120]} is not an existing folder")
    return str(path)


def as_blob(raw: Any) -> bytes:
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise SettingRejected(f"a {type(raw).__name__} where saved window data belongs")
    if len(raw) > MAX_BLOB:
        raise SettingRejected(f"{len(raw):,} bytes of window data (limit {MAX_BLOB:,})")
    return bytes(raw)


def _depth(text: str) -> int:
    """Deepest bracket nesting, counted without parsing (json.loads would recurse first)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped = not escaped and ch == "\\"
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def as_json_object(raw: Any) -> dict[str, Any]:
    """A JSON object of bounded size and depth whose values are plain scalars or small lists."""
    text = as_text(raw, MAX_JSON_BYTES)
    if _depth(text) > MAX_JSON_DEPTH:
        raise SettingRejected(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise SettingRejected(f"not valid JSON ({str(err)[:80]})") from None
    if not isinstance(value, dict):
        raise SettingRejected("not a JSON object")
    for key, item in value.items():
        if isinstance(item, float) and not math.isfinite(item):
            raise SettingRejected(f"{key!r} is not a finite number")
    return value


#: key (or "prefix/*") -> rule. Unknown keys are left alone (other versions may own them).
SCHEMA: dict[str, Callable[[Any], Any]] = {
    "window/geometry": as_blob,
    "window/state": as_blob,
    "canvas/brush": as_number(1, 500),
    "canvas/grid": as_bool,
    "model/last": as_regular_file,
    "training/config": as_json_object,
    "insight/saliency_on_canvas": as_bool,
    "insight/saliency_method": lambda raw: as_text(raw, 64),
    "dirs/*": as_folder,
}


def rule_for(key: str) -> Callable[[Any], Any] | None:
    if key in SCHEMA:
        return SCHEMA[key]
    head = key.split("/", 1)[0]
    return SCHEMA.get(f"{head}/*")


def validate(key: str, raw: Any) -> tuple[Any, str | None]:
    """``(value, None)`` when ``raw`` fits the rule for ``key``, else ``(None, reason)``."""
    rule = rule_for(key)
    if rule is None:
        return raw, None
    try:
        return rule(raw), None
    except SettingRejected as err:
        return None, str(err)
    except (RecursionError, MemoryError, OverflowError) as err:  # belt and braces: never fatal
        return None, f"unreadable ({type(err).__name__})"

