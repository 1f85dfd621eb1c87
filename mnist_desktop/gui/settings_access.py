"""Reading QSettings through the core's schema: a bad value is dropped, never fatal.

The rules live in :mod:`mnist_desktop.core.settings_schema`; this adapts
QSettings to them (a QByteArray becomes bytes) and removes a refused value so
it cannot fail again on the next launch.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from mnist_desktop.core.settings_schema import validate

log = logging.getLogger(__name__)


def read_setting(settings: QSettings, key: str, default: Any = None) -> Any:
    """The validated value stored under ``key``, or ``default`` (with a log line if one was dropped)."""
    try:
        raw = settings.value(key, None)
    except Exception as err:  # noqa: BLE001 - a garbled settings file must not stop the app
        log.warning("settings: cannot read %s (%s); using the default", key, err)
        return default
    if raw is None:
        return default
    if isinstance(raw, QByteArray):
        raw = bytes(raw.data())
    value, reason = validate(key, raw)
    if reason is not None:
        log.warning("settings: dropped %s = %.60r (%s); using the default", key, raw, reason)
        settings.remove(key)
        return default
    return value
