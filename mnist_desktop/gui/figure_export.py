"""Export a view's figure as a PNG for a report or a slide: rendered, not screen-grabbed.

A screenshot carries the view's buttons, combo boxes and scrollbars, is only
as sharp as the screen, and cuts off whatever is scrolled away. Instead each
plot of the view (every visible pyqtgraph view: mosaics, matrices, bar charts)
is rendered again by pyqtgraph's :class:`ImageExporter` at :data:`MIN_SCALE`×
(or more on a HiDPI screen) its size on screen, the caption labels above the
plots are drawn at the same scale, all in the arrangement the person sees, and
a caption line says what it is: view, model, dataset, date.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers pg.exporters)
from PySide6.QtCore import QBuffer, QIODevice, QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import QLabel, QWidget

from mnist_desktop.core.fileio import atomic_write_bytes

MIN_SCALE = 2.0  # at least twice the on-screen resolution
MARGIN = 12  # logical pixels around the figure


@dataclass(frozen=True)
class FigureCaption:
    """What a figure shows, for the line under it."""

    view: str  # "Saliency"
    model: str = ""  # "default (CNN, 151,818 parameters)"
    dataset: str = ""  # "MNIST test set" / "trained on mnist"
    when: _dt.datetime | None = None

    def text(self) -> str:
        when = (self.when or _dt.datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M")
        parts = [f"MNIST Desktop · {self.view}"]
        if self.model:
            parts.append(f"model {self.model}")
        if self.dataset:
            parts.append(self.dataset)
        parts.append(when)
        return " · ".join(parts)


def figure_views(panel: QWidget) -> list[pg.GraphicsView]:
    """The plots a person sees in ``panel``, in reading order (pages not shown are skipped)."""
    views = [v for v in panel.findChildren(pg.GraphicsView) if v.isVisibleTo(panel) and v.width() > 1 and v.height() > 1]
    return sorted(views, key=lambda v: (v.mapTo(panel, QPoint(0, 0)).y(), v.mapTo(panel, QPoint(0, 0)).x()))


def _captions_of(view: QWidget, panel: QWidget) -> list[QLabel]:
    """The label(s) placed with a plot in its own box (a layer's name, "Mean image per class")."""
    parent = view.parentWidget()
    if parent is None or parent is panel:
        return []
    return [w for w in parent.findChildren(QLabel, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if w.isVisibleTo(panel) and w.text()]


def render_view(view: pg.GraphicsView, scale: float) -> QImage:
    """One plot through pyqtgraph's ImageExporter, ``scale``× its on-screen size."""
    exporter = pg.exporters.ImageExporter(view.scene())
    exporter.parameters()["width"] = max(1, round(view.width() * scale))
    image = exporter.export(toBytes=True)
    if not isinstance(image, QImage) or image.isNull():
        raise OSError("pyqtgraph could not render the figure")
    return image


def export_scale(panel: QWidget) -> float:
    return max(MIN_SCALE, 2.0 * panel.devicePixelRatioF())


def render_figure(panel: QWidget, caption: FigureCaption, scale: float | None = None) -> QImage:
    """The panel's plots and their labels as one image at ``scale``× with ``caption`` under them."""
    scale = scale or export_scale(panel)
    views = figure_views(panel)
    if not views:
        raise OSError("this view has no figure to export yet")
    pieces: list[tuple[QRect, QWidget | QImage]] = []
    for view in views:
        pieces.append((QRect(view.mapTo(panel, QPoint(0, 0)), view.size()), render_view(view, scale)))
        for label in _captions_of(view, panel):
            pieces.append((QRect(label.mapTo(panel, QPoint(0, 0)), label.size()), label))
    box = pieces[0][0]
    for rect, _ in pieces[1:]:
        box = box.united(rect)
    font = QFont(panel.font())
    flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap
    metrics = panel.fontMetrics()
    caption_height = metrics.boundingRect(QRect(0, 0, box.width(), 10_000), flags, caption.text()).height() \
        + metrics.height() // 2  # the line may wrap on a narrow dock
    width = box.width() + 2 * MARGIN
    height = box.height() + 2 * MARGIN + caption_height
    image = QImage(round(width * scale), round(height * scale), QImage.Format.Format_ARGB32)
    background = panel.palette().color(QPalette.ColorRole.Window)
    image.fill(background)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.scale(scale, scale)
        origin = QPoint(MARGIN - box.left(), MARGIN - box.top())
        for rect, piece in pieces:
            target = rect.translated(origin)
            if isinstance(piece, QImage):
                painter.drawImage(target, piece)
            else:  # a caption label: drawn (vector text) at the same scale
                painter.save()
                painter.translate(target.topLeft())
                piece.render(painter, QPoint(0, 0), renderFlags=QWidget.RenderFlag.DrawChildren)
                painter.restore()
        painter.setFont(font)
        text = panel.palette().color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(text if text.alpha() else QColor(128, 128, 128))
        line = QRect(MARGIN, MARGIN + box.height(), box.width(), caption_height)
        painter.drawText(line, flags, caption.text())
    finally:
        painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the figure as PNG")
    return bytes(buffer.data())


def export_figure(panel: QWidget, caption: FigureCaption, path: str | Path) -> Path:
    """Render ``panel``'s figure and write it to ``path`` atomically (an old file survives a failure)."""
    atomic_write_bytes(path, png_bytes(render_figure(panel, caption)))
    return Path(path)
