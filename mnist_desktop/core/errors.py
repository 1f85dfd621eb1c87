"""User-facing error types.

Every error raised for bad input carries a message that names the file or field
and says what to do, because the CLI prints ``str(err)`` as its one error line and
the GUI shows it in a dialog. Catching :class:`MnistDesktopError` is enough to
keep the app running after any bad input.
"""

from __future__ import annotations


class MnistDesktopError(Exception):
    """Base class: the message is meant for the user, not for a traceback."""


class DatasetError(MnistDesktopError):
    """A dataset file is missing, truncated, corrupt or fails its checksum."""


class DownloadError(DatasetError):
    """Every mirror failed (network down, 404, bad checksum, ...)."""


class DownloadCancelled(DatasetError):
    """The user cancelled a download; no half-written file is left in the cache."""


class CheckpointError(MnistDesktopError):
    """A checkpoint file cannot be read, or does not match its declared model."""


class ImageError(MnistDesktopError):
    """An image file cannot be read as a picture."""


class ConfigError(MnistDesktopError, ValueError):
    """A hyperparameter is out of range; ``field`` names it for forms to highlight."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
