"""Pictures onto the canvas by drag-and-drop or paste (Ctrl+V), through the same path as File → Load Image.

A person has a digit in a file manager, a browser or a screenshot tool and
wants the model to read it: dropping the file (or the image itself) on the
canvas, or copying it and pressing Ctrl+V, puts it there as "Load Image…"
would. Files go through the window's ``load_image_file`` (the same checks and
messages); image data is written to a temporary PNG and read the same way, so
transparency and polarity are handled once, in the core.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QWidget


def image_source(mime: QMimeData | None) -> Path | QImage | None:
    """What a drop or the clipboard offers: a local file, image data, or nothing usable."""
    if mime is None:
        return None
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and Path(url.toLocalFile()).is_file():
            return Path(url.toLocalFile())
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return image
    if mime.hasText():  # a path copied as text, e.g. from a terminal
        text = mime.text().strip().removeprefix("file://")
        if text and "\n" not in text and len(text) < 4096 and Path(text).expanduser().is_file():
            return Path(text).expanduser()
    return None


def load_qimage(image: QImage, load_file: Callable[[str], bool]) -> bool:
    """Hand image data to ``load_file`` through a temporary PNG (removed afterwards)."""
    handle, name = tempfile.mkstemp(prefix="mnist-desktop-pasted-", suffix=".png")
    os.close(handle)
    try:
        if not image.save(name, "PNG"):
            return False
        return load_file(name)
    finally:
        Path(name).unlink(missing_ok=True)


def deliver(source: Path | QImage | None, load_file: Callable[[str], bool]) -> bool:
    """Put ``source`` on the canvas via ``load_file``; False if there was nothing to put."""
    if isinstance(source, Path):
        return load_file(str(source))
    if isinstance(source, QImage):
        return load_qimage(source, load_file)
    return False


class CanvasDropTarget(QObject):
    """Accepts dragged image files and images on ``canvas`` and loads them with ``load_file``."""

    def __init__(self, canvas: QWidget, load_file: Callable[[str], bool]):
        super().__init__(canvas)
        self._load_file = load_file
        canvas.setAcceptDrops(True)
        canvas.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop) and isinstance(event, QDropEvent):
            source = image_source(event.mimeData())
            if source is None:
                event.ignore()  # the cursor says "no" over the canvas
                return True
            event.acceptProposedAction()
            if kind == QEvent.Type.Drop:
                deliver(source, self._load_file)
            return True
        return super().eventFilter(watched, event)
