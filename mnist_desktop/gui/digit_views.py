"""Read-only views of what the model sees and what it answers.

``ModelInputView`` shows the 28×28 array after preprocessing, pixel for pixel
(nearest-neighbour), because the gap between the smooth drawing and the coarse
input is exactly what explains most surprising predictions. ``PredictionView``
shows the top class big and every class as a bar, so a person sees not only the
answer but how sure the model is and what it nearly said instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPaintEvent, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from mnist_desktop.core.data.dataset_specs import DIGIT_NAMES
from mnist_desktop.core.formatting import format_probability
from mnist_desktop.gui.prediction_headline import Headline
from mnist_desktop.gui.qimage_convert import grey_array_to_qimage, heatmap_to_qimage
from mnist_desktop.gui.verdict_badge import STYLES, VerdictBadge, verdict_text

DIGIT_CLASS_NAMES = DIGIT_NAMES


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """Blend two palette colours, so the views follow light and dark themes."""
    return QColor.fromRgbF(
        a.redF() * (1 - t) + b.redF() * t,
        a.greenF() * (1 - t) + b.greenF() * t,
        a.blueF() * (1 - t) + b.blueF() * t,
    )


# --------------------------------------------------------------------------- model input


class _PixelView(QWidget):
    """The 28×28 input as big square pixels, optionally with a heatmap on top."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._placeholder = "empty"
        # No height-for-width: nested layouts honour it unevenly; the square is
        # centred in whatever rectangle the layout hands out instead.
        self.setMinimumSize(112, 112)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(168, 168)

    def set_images(self, image: QImage | None, overlay: QImage | None) -> None:
        self._image, self._overlay = image, overlay
        self.update()

    def image_rect(self) -> QRectF:
        """Centred square whose side is a whole multiple of the image size: crisp pixels."""
        side = min(self.width(), self.height())
        cells = self._image.width() if self._image is not None else 28
        if side >= cells:
            side = side // cells * cells
        return QRectF((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            rect = self.image_rect()
            painter.fillRect(rect, QColor(0, 0, 0))
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            if self._image is not None:
                painter.drawImage(rect, self._image)
                if self._overlay is not None:
                    painter.drawImage(rect, self._overlay)
            else:
                painter.setPen(QColor(255, 255, 255, 110))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self._placeholder)
            painter.setPen(QPen(QColor(90, 90, 90), 1))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        finally:
            painter.end()


class ModelInputView(QWidget):
    """"What the model sees": the preprocessed 28×28 input, upscaled without smoothing.

    ``set_image(None)`` shows an "empty" square, the state before anything is drawn.
    """

    def __init__(self, parent: QWidget | None = None, *, caption: str = "What the model sees"):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._overlay_array: np.ndarray | None = None
        self._caption = QLabel(caption)
        font = self._caption.font()
        font.setBold(True)
        self._caption.setFont(font)
        self._caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._pixels = _PixelView()
        self._detail = QLabel()
        self._detail.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._detail.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self._caption)
        layout.addWidget(self._pixels, 1)
        layout.addWidget(self._detail)
        self.setAccessibleName(caption)
        self._refresh()

    def set_caption(self, text: str) -> None:
        self._caption.setText(text)
        self.setAccessibleName(text)

    def caption(self) -> str:
        return self._caption.text()

    def set_image(self, image: np.ndarray | None) -> None:
        """Show a (H, W) float array in [0, 1] (ink = 1), normally 28×28; None shows "empty"."""
        if image is None:
            self._array = None
        else:
            array = np.asarray(image, dtype=np.float32)
            if array.ndim == 3 and array.shape[-1] == 1:
                array = array[..., 0]
            if array.ndim != 2 or array.size == 0:
                raise ValueError(f"expected a 2-D image, got shape {array.shape}")
            self._array = array.copy()
        self._refresh()

    def set_overlay(self, heatmap: np.ndarray | None) -> None:
        """Blend a heatmap (values in [0, 1], any size) in red over the pixels; None removes it."""
        self._overlay_array = None if heatmap is None else np.asarray(heatmap, dtype=np.float32).copy()
        self._refresh()

    def image(self) -> np.ndarray | None:
        """A copy of the array shown, or None."""
        return None if self._array is None else self._array.copy()

    def is_empty(self) -> bool:
        return self._array is None

    def shown_text(self) -> str:
        """The caption and what the picture area says, as a person reads them."""
        body = "empty" if self._array is None else self._detail.text()
        return f"{self._caption.text()}\n{body}"

    def _refresh(self) -> None:
        if self._array is None:
            self._pixels.set_images(None, None)  # the square itself says "empty"
            self._detail.setText("28 × 28 pixels")
            return
        overlay = None if self._overlay_array is None else heatmap_to_qimage(self._overlay_array)
        self._pixels.set_images(grey_array_to_qimage(self._array), overlay)
        height, width = self._array.shape
        self._detail.setText(f"{width} × {height} pixels" + (" · saliency" if overlay is not None else ""))


# --------------------------------------------------------------------------- prediction


class _ProbabilityBars(QWidget):
    """One row per class: name, a bar as long as the probability, the percentage."""

    ROW_HEIGHT = 22
    MAX_ROW_HEIGHT = 30

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.names: list[str] = list(DIGIT_CLASS_NAMES)
        self.probabilities: np.ndarray | None = None
        self.muted = False  # no class is the answer (not a digit / too small): no bar is highlighted
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def sizeHint(self) -> QSize:
        return QSize(240, self.ROW_HEIGHT * len(self.names))

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.ROW_HEIGHT * len(self.names))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            palette = self.palette()
            text_colour = palette.color(QPalette.ColorRole.WindowText)
            accent = palette.color(QPalette.ColorRole.Highlight)
            window = palette.color(QPalette.ColorRole.Window)
            track = _mix(window, text_colour, 0.10)
            other = _mix(accent, window, 0.55)
            plain = QFont(self.font())
            bold = QFont(self.font())
            bold.setBold(True)
            metrics = QFontMetricsF(bold)
            name_width = max(metrics.horizontalAdvance(name) for name in self.names) + 10
            value_width = metrics.horizontalAdvance("100.0%") + 10
            top = int(np.argmax(self.probabilities)) if self.probabilities is not None and not self.muted else -1
            row_height = min(max(float(self.ROW_HEIGHT), self.height() / max(len(self.names), 1)),
                             self.MAX_ROW_HEIGHT)
            bar_height = min(14.0, row_height * 0.6)
            for index, name in enumerate(self.names):
                y = index * row_height
                row = QRectF(0, y, self.width(), row_height)
                highlighted = index == top
                painter.setFont(bold if highlighted else plain)
                painter.setPen(text_colour)
                painter.drawText(QRectF(row.left(), y, name_width - 8, row_height),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
                bar = QRectF(name_width, y + (row_height - bar_height) / 2,
                             max(row.width() - name_width - value_width, 10.0), bar_height)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(track)
                painter.drawRoundedRect(bar, bar_height / 2, bar_height / 2)
                if self.probabilities is None:
                    continue
                probability = float(self.probabilities[index])
                if probability > 0:
                    # Clip a full-length rounded bar: the fill is exactly as long as
                    # the probability and still has a rounded start (no fake minimum).
                    painter.save()
                    painter.setClipRect(QRectF(bar.left(), bar.top(), bar.width() * probability, bar_height))
                    painter.setBrush(accent if highlighted else other)
                    painter.drawRoundedRect(bar, bar_height / 2, bar_height / 2)
                    painter.restore()
                painter.setPen(text_colour if highlighted else palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(QRectF(bar.right(), y, value_width, row_height),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 format_probability(probability))
        finally:
            painter.end()


def label_smoothing_note(smoothing: float, classes: int = 10) -> str:
    """Why a model trained with label smoothing is never 100 % sure -- or "" without it.

    Smoothing ε trains towards 1 - ε + ε/classes for the right class (0.91 for
    ε = 0.1), so a learner seeing "93 %" on a perfect 7 should know that is the
    design, not doubt.
    """
    if not smoothing or smoothing <= 0:
        return ""
    target = 1 - smoothing + smoothing / classes
    return (f"Trained with label smoothing {smoothing:g}, so even a clear digit scores near "
            f"{target:.0%}, not 100%: by design, not doubt.")


class PredictionView(QWidget):
    """The model's answer: the top class with its confidence, and a bar for every class.

    ``set_probabilities(None)`` is the resting state (nothing drawn / no model):
    a placeholder instead of a prediction, and empty bars.
    """

    def __init__(self, parent: QWidget | None = None, *, class_names: Sequence[str] = DIGIT_CLASS_NAMES):
        super().__init__(parent)
        self._placeholder = "Draw a digit"
        self._invalid = False
        self._verdict: dict | None = None
        self._kind = ""  # "Fashion-MNIST model" when the model does not read digits
        self._headline = Headline()
        self._badge = VerdictBadge()
        self._bars = _ProbabilityBars()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self._note = QLabel()
        self._note.setWordWrap(True)
        self._note.setStyleSheet("color: palette(placeholder-text);")
        self._note.hide()
        layout.addWidget(self._headline)
        layout.addWidget(self._badge)
        layout.addWidget(self._bars)
        layout.addWidget(self._note)
        layout.addStretch(1)
        self.setAccessibleName("Prediction")
        self.set_class_names(class_names)

    # ------------------------------------------------------------------ setters

    def set_class_names(self, names: Sequence[str]) -> None:
        """Label the rows (e.g. Fashion-MNIST's "Sneaker"); drops a prediction of another length."""
        names = [str(name) for name in names]
        if not names:
            raise ValueError("class_names must not be empty")
        self._bars.names = names
        probabilities = self._bars.probabilities
        if probabilities is not None and len(probabilities) != len(names):
            probabilities = None
        self._bars.updateGeometry()
        self.set_probabilities(probabilities)

    def set_model_kind(self, kind: str) -> None:
        """Name a model that is not a digit model in every answer ("Fashion-MNIST model: Coat"); "" for digits."""
        self._kind = kind
        self._refresh()

    def set_note(self, text: str) -> None:
        """A small line under the bars about the model (e.g. :func:`label_smoothing_note`); "" hides it."""
        self._note.setText(text)
        self._fit_note()

    def note(self) -> str:
        return self._note.text()

    def _fit_note(self) -> None:
        """Show the note only where it fits under the bars (in a short window it would be painted
        over the last rows); otherwise it is the tooltip."""
        text = self._note.text()
        spare = self.height() - self._headline.sizeHint().height() - self._bars.minimumSizeHint().height() - 16
        fits = bool(text) and self._note.heightForWidth(max(self.width(), 1)) <= spare
        self._note.setVisible(fits)
        self.setToolTip("" if fits else text)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_note()  # depends on our own size only: hiding it never resizes us

    def set_placeholder(self, text: str) -> None:
        """The text shown while there is no prediction (default "Draw a digit")."""
        self._placeholder = text
        self._refresh()

    def set_verdict(self, verdict: dict | None) -> None:
        """Show the worker's verdict for the current reading (a dict as ``core.analysis.verdict.Verdict``)."""
        self._verdict = dict(verdict) if verdict else None
        self._refresh()

    def verdict_text(self) -> str:
        """The verdict line as shown ("" when none)."""
        return self._badge.text() if self._badge.isVisibleTo(self) else ""

    def verdict_kind(self) -> str:
        return self._badge.kind if self._badge.isVisibleTo(self) else ""

    def set_probabilities(self, probabilities: np.ndarray | None) -> None:
        """Show one probability per class (values in [0, 1]); None shows the placeholder.

        A vector with NaN or infinity (a diverged model) is shown as "no valid
        prediction" instead of a confident-looking garbage answer.
        """
        if probabilities is None:
            self._bars.probabilities = None
            self._invalid = False
        else:
            values = np.asarray(probabilities, dtype=np.float64).reshape(-1)
            if values.shape[0] != len(self._bars.names):
                raise ValueError(
                    f"got {values.shape[0]} probabilities for {len(self._bars.names)} classes"
                )
            self._invalid = not bool(np.all(np.isfinite(values)))
            self._bars.probabilities = None if self._invalid else np.clip(values, 0.0, 1.0)
        self._refresh()

    # ------------------------------------------------------------------ accessors

    def class_names(self) -> list[str]:
        return list(self._bars.names)

    def probabilities(self) -> np.ndarray | None:
        return None if self._bars.probabilities is None else self._bars.probabilities.copy()

    def predicted_label(self) -> int | None:
        """Index of the top class, or None when no prediction is shown."""
        if self._bars.probabilities is None:
            return None
        return int(np.argmax(self._bars.probabilities))

    def shown_text(self) -> str:
        """The headline as a person reads it: "7  93.4%" or the placeholder."""
        if self._headline.label:
            return f"{self._headline.label}  {self._headline.confidence}"
        return self._headline.placeholder

    # ------------------------------------------------------------------ internals

    def _refresh(self) -> None:
        label = self.predicted_label()
        if label is None:
            self._headline.label = ""
            self._headline.confidence = ""
            self._headline.placeholder = "No valid prediction" if self._invalid else self._placeholder
            self._headline.colour = None
            self._badge.show_verdict("", "")
            self.setAccessibleDescription(self.shown_text())
        else:
            assert self._bars.probabilities is not None
            name = self._bars.names[label]
            self._headline.label = f"{self._kind}: {name}" if self._kind else name
            self._headline.confidence = format_probability(float(self._bars.probabilities[label]))
            # verdicts speak of digits: a model of other classes (issue 14's kind line) shows none
            verdict = (self._verdict if self._verdict and self._verdict.get("label") == label and not self._kind
                       else None)
            headline, badge = verdict_text(verdict, self._bars.names) if verdict else ("", "")
            if verdict:
                kind = verdict["kind"]
                self._headline.label = headline
                self._headline.colour = QColor(STYLES[kind][0]) if kind != "digit" else None
                if kind in ("too_small", "not_a_digit"):
                    self._headline.confidence = ""
            else:
                self._headline.colour = None
            self._bars.muted = bool(verdict) and verdict["kind"] in ("too_small", "not_a_digit")
            self._badge.show_verdict(verdict["kind"] if verdict else "", badge, (verdict or {}).get("reason", ""))
            self.setAccessibleDescription(
                f"{badge + '. ' if badge else ''}Predicted {self._bars.names[label]} with "
                f"{format_probability(float(self._bars.probabilities[label]))} confidence"
            )
        self._headline.update()
        self._bars.update()
