"""The drawing canvas and the digit views, driven the way a person uses them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QInputDevice, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from mnist_desktop.gui import canvas as canvas_module
from mnist_desktop.gui import drawing_history
from mnist_desktop.gui.canvas import CANVAS_SIZE, DEFAULT_BRUSH_WIDTH, DrawingCanvas
from mnist_desktop.core.formatting import format_probability as format_percent
from mnist_desktop.gui.digit_views import ModelInputView, PredictionView
from gui_helpers import canvas_point, drag

pytestmark = pytest.mark.gui

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.fixture
def canvas(qtbot) -> DrawingCanvas:
    widget = DrawingCanvas()
    qtbot.addWidget(widget)
    widget.resize(300, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def vertical_bar(qtbot, canvas: DrawingCanvas, fx: float = 0.5, button=Qt.MouseButton.LeftButton) -> None:
    drag(qtbot, canvas, [canvas_point(canvas, fx, 0.25), canvas_point(canvas, fx, 0.75)], button)


def horizontal_bar(qtbot, canvas: DrawingCanvas, fy: float = 0.5, button=Qt.MouseButton.LeftButton) -> None:
    drag(qtbot, canvas, [canvas_point(canvas, 0.2, fy), canvas_point(canvas, 0.8, fy)], button)


def ink(array: np.ndarray, fx: float, fy: float) -> float:
    """Ink at a fraction of the image (mean of a 5×5 patch, robust to anti-aliasing)."""
    x, y = int(fx * array.shape[1]), int(fy * array.shape[0])
    return float(array[y - 2:y + 3, x - 2:x + 3].mean())


def block_mean(array: np.ndarray, size: int = 28) -> np.ndarray:
    factor = array.shape[0] // size
    return array.reshape(size, factor, size, factor).mean(axis=(1, 3))


# --------------------------------------------------------------------------- drawing


def test_new_canvas_is_empty_black_and_square(canvas):
    array = canvas.to_array()
    assert array.shape == (CANVAS_SIZE, CANVAS_SIZE) and array.dtype == np.float32
    assert array.max() == 0.0 and canvas.is_empty()
    assert canvas.brush_width() == DEFAULT_BRUSH_WIDTH
    assert canvas.hasHeightForWidth() and canvas.heightForWidth(333) == 333
    assert not canvas.undo_action.isEnabled() and not canvas.redo_action.isEnabled()
    assert not canvas.clear_action.isEnabled()


def test_dragging_a_vertical_bar_puts_ink_along_the_bar(qtbot, canvas):
    with qtbot.waitSignal(canvas.strokeFinished, timeout=1000):
        vertical_bar(qtbot, canvas)
    array = canvas.to_array()
    assert not canvas.is_empty()
    pixels = canvas.to_bytes()  # what the live prediction reads: the same picture as bytes
    assert pixels.dtype == np.uint8 and pixels.max() == 255
    np.testing.assert_array_equal(pixels.astype(np.float32) / 255.0, array)
    for fy in (0.3, 0.4, 0.5, 0.6, 0.7):
        assert ink(array, 0.5, fy) > 0.9, f"no ink at y={fy}"
    for fx, fy in ((0.2, 0.5), (0.8, 0.5), (0.5, 0.1), (0.5, 0.9)):
        assert ink(array, fx, fy) == 0.0, f"stray ink at {(fx, fy)}"
    # Stroke width is the brush width in image pixels (560 wide), not in screen pixels.
    row = array[CANVAS_SIZE // 2]
    assert abs(int((row > 0.5).sum()) - DEFAULT_BRUSH_WIDTH) <= 2
    assert len(canvas.strokes()) == 1
    assert canvas.undo_action.isEnabled() and canvas.clear_action.isEnabled()


def test_changed_is_emitted_on_every_move_while_drawing(qtbot, canvas):
    seen: list[int] = []
    canvas.changed.connect(lambda: seen.append(len(seen)))
    drag(qtbot, canvas, [canvas_point(canvas, 0.5, 0.2), canvas_point(canvas, 0.5, 0.8)], steps=12)
    assert len(seen) >= 12  # press + one per move
    # The picture is already visible to a listener while the button is still down.
    assert canvas.strokes() and not canvas.is_empty()


def test_a_click_without_moving_leaves_a_dot(qtbot, canvas):
    drag(qtbot, canvas, [canvas_point(canvas, 0.5, 0.5)])
    assert ink(canvas.to_array(), 0.5, 0.5) > 0.9


def test_undo_removes_the_stroke_and_redo_restores_it(qtbot, canvas):
    vertical_bar(qtbot, canvas, 0.3)
    first = canvas.to_array()
    vertical_bar(qtbot, canvas, 0.7)
    both = canvas.to_array()
    assert ink(both, 0.7, 0.5) > 0.9

    with qtbot.waitSignal(canvas.changed, timeout=1000):
        canvas.undo_action.trigger()
    np.testing.assert_array_equal(canvas.to_array(), first)
    assert canvas.redo_action.isEnabled()

    canvas.undo()
    assert canvas.is_empty() and not canvas.undo_action.isEnabled()

    canvas.redo_action.trigger()
    canvas.redo()
    np.testing.assert_array_equal(canvas.to_array(), both)
    assert not canvas.redo_action.isEnabled()


def test_a_new_stroke_after_undo_drops_the_redo_history(qtbot, canvas):
    vertical_bar(qtbot, canvas, 0.3)
    canvas.undo()
    assert canvas.can_redo()
    horizontal_bar(qtbot, canvas)
    assert not canvas.can_redo() and not canvas.redo_action.isEnabled()


def test_clear_empties_the_canvas_and_is_undoable(qtbot, canvas):
    vertical_bar(qtbot, canvas)
    drawn = canvas.to_array()
    with qtbot.waitSignal(canvas.changed, timeout=1000):
        canvas.clear()
    assert canvas.is_empty() and canvas.to_array().max() == 0.0
    assert not canvas.clear_action.isEnabled()
    canvas.undo()
    np.testing.assert_array_equal(canvas.to_array(), drawn)


def test_clear_on_an_empty_canvas_adds_no_undo_step(canvas):
    canvas.clear()
    assert not canvas.can_undo()


def test_right_button_drag_erases(qtbot, canvas):
    horizontal_bar(qtbot, canvas)
    assert ink(canvas.to_array(), 0.5, 0.5) > 0.9
    vertical_bar(qtbot, canvas, 0.5, button=Qt.MouseButton.RightButton)
    array = canvas.to_array()
    assert ink(array, 0.5, 0.5) == 0.0, "the crossing should be erased"
    assert ink(array, 0.25, 0.5) > 0.9 and ink(array, 0.75, 0.5) > 0.9
    assert canvas.strokes()[-1].erase
    canvas.undo()
    assert ink(canvas.to_array(), 0.5, 0.5) > 0.9


def test_eraser_mode_makes_the_left_button_erase(qtbot, canvas):
    horizontal_bar(qtbot, canvas)
    canvas.set_eraser(True)
    assert canvas.eraser_action.isChecked()
    vertical_bar(qtbot, canvas)
    assert ink(canvas.to_array(), 0.5, 0.5) == 0.0
    canvas.eraser_action.trigger()  # toggles back to the pen
    assert not canvas.is_eraser()


def test_erasing_everything_makes_the_canvas_empty_again(qtbot, canvas):
    drag(qtbot, canvas, [canvas_point(canvas, 0.5, 0.5)])
    drag(qtbot, canvas, [canvas_point(canvas, 0.5, 0.5)], Qt.MouseButton.RightButton)
    assert canvas.is_empty()


def test_grid_and_overlay_are_painted_only_never_part_of_the_picture(qtbot, canvas):
    vertical_bar(qtbot, canvas)
    before = canvas.to_array()
    canvas.set_grid_visible(True)
    assert canvas.grid_action.isChecked() and canvas.is_grid_visible()
    canvas.set_overlay(np.random.default_rng(0).random((28, 28)))
    assert canvas.has_overlay()
    canvas.grab()  # paints with grid and overlay
    np.testing.assert_array_equal(canvas.to_array(), before)
    canvas.set_overlay(None)
    canvas.grid_action.trigger()
    assert not canvas.has_overlay() and not canvas.is_grid_visible()


def test_overlay_rejects_a_non_image(canvas):
    with pytest.raises(ValueError):
        canvas.set_overlay(np.zeros(10))
    with pytest.raises(ValueError):
        canvas.set_overlay(np.zeros((28, 28)), region=(0, 0, 0, 10))
    assert not canvas.has_overlay()


def test_overlay_can_cover_just_the_region_the_model_saw(canvas):
    canvas.set_overlay(np.ones((28, 28)), region=(140, 140, 280, 280))
    shot = canvas.grab().toImage()
    rect = canvas.canvas_rect()

    def red_at(fx: float, fy: float) -> int:
        return shot.pixelColor(int(rect.left() + fx * rect.width()), int(rect.top() + fy * rect.height())).red()

    assert red_at(0.5, 0.5) > 100  # inside the region: tinted
    assert red_at(0.1, 0.1) == 0   # outside: plain black canvas


def test_the_picture_does_not_depend_on_the_widget_size(qtbot, canvas):
    vertical_bar(qtbot, canvas)
    small = canvas.to_array()
    canvas.clear()
    canvas.resize(620, 450)  # not square: the drawing square is centred
    rect = canvas.canvas_rect()
    assert rect.width() == rect.height() == 450
    vertical_bar(qtbot, canvas)
    assert np.abs(block_mean(canvas.to_array()) - block_mean(small)).max() < 0.05


def test_brush_width_is_clamped_and_used(qtbot, canvas):
    canvas.set_brush_width(1000)
    assert canvas.brush_width() == canvas_module.MAX_BRUSH_WIDTH
    canvas.set_brush_width(20)
    vertical_bar(qtbot, canvas)
    row = canvas.to_array()[CANVAS_SIZE // 2]
    assert abs(int((row > 0.5).sum()) - 20) <= 2


# --------------------------------------------------------------------------- keyboard


def test_keyboard_shortcuts_clear_undo_and_redo(qtbot, canvas):
    canvas.setFocus()
    vertical_bar(qtbot, canvas)
    drawn = canvas.to_array()
    triggered: list[str] = []
    for name in ("undo_action", "redo_action", "clear_action"):
        getattr(canvas, name).triggered.connect(lambda *_, n=name: triggered.append(n))

    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.is_empty()
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(canvas.to_array(), drawn)
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert canvas.is_empty()
    canvas.undo()
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.is_empty()
    canvas.undo()
    QTest.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert canvas.is_empty()
    # Each key press triggered its action exactly once (no double handling).
    assert triggered == ["clear_action", "undo_action", "redo_action", "clear_action", "redo_action"]


def test_actions_are_ready_for_menus(canvas):
    assert canvas.undo_action.shortcut().toString() == "Ctrl+Z"
    assert {s.toString() for s in canvas.redo_action.shortcuts()} == {"Ctrl+Shift+Z", "Ctrl+Y"}
    assert {s.toString() for s in canvas.clear_action.shortcuts()} == {"Esc", "Del"}
    assert canvas.eraser_action.isCheckable() and canvas.grid_action.isCheckable()
    assert "Ctrl+Z" in canvas.undo_action.toolTip()


# --------------------------------------------------------------------------- pictures in and out


def ring_digit() -> np.ndarray:
    """A 28×28 '0'-like ring in an MNIST-style frame."""
    yy, xx = np.mgrid[0:28, 0:28]
    radius = np.hypot((yy - 13.5) / 9.0, (xx - 13.5) / 6.5)
    return np.clip(1.0 - np.abs(radius - 1.0) * 5.0, 0.0, 1.0).astype(np.float32)


def test_load_image_fills_the_canvas_and_round_trips(qtbot, canvas):
    digit = ring_digit()
    with qtbot.waitSignal(canvas.changed, timeout=1000):
        canvas.load_image(digit)
    back = block_mean(canvas.to_array())
    assert np.abs(back - digit).mean() < 0.05
    assert not canvas.is_empty() and canvas.undo_action.isEnabled()


def test_load_image_is_one_undo_step_over_what_was_drawn(qtbot, canvas):
    vertical_bar(qtbot, canvas)
    drawn = canvas.to_array()
    canvas.load_image(ring_digit())
    assert canvas.strokes() == []  # a fresh picture: no strokes on top of it yet
    horizontal_bar(qtbot, canvas, 0.9)  # touch up the loaded digit
    assert len(canvas.strokes()) == 1
    canvas.undo()
    canvas.undo()
    np.testing.assert_array_equal(canvas.to_array(), drawn)
    canvas.redo()
    assert np.abs(block_mean(canvas.to_array()) - ring_digit()).mean() < 0.05


def test_load_image_keeps_the_aspect_ratio_and_centres(canvas):
    wide = np.ones((10, 40), dtype=np.float32)
    canvas.load_image(wide)
    array = canvas.to_array()
    rows = np.flatnonzero(array.max(axis=1) > 0.5)
    assert array[:, 0].max() > 0.5 and array[:, -1].max() > 0.5  # full width
    assert abs(len(rows) - CANVAS_SIZE // 4) <= 2  # height scaled by the same factor
    assert abs((rows[0] + rows[-1]) / 2 - (CANVAS_SIZE - 1) / 2) <= 1.5  # centred


def test_load_image_clamps_odd_values_and_rejects_non_images(canvas):
    odd = np.full((28, 28), np.nan, dtype=np.float32)
    odd[10:18, 10:18] = 7.0
    canvas.load_image(odd)
    array = canvas.to_array()
    assert array.max() == 1.0 and array.min() == 0.0
    before = canvas.to_array()
    for bad in (np.zeros(5), np.zeros((0, 3)), np.zeros((2, 3, 4))):
        with pytest.raises(ValueError):
            canvas.load_image(bad)
    np.testing.assert_array_equal(canvas.to_array(), before)


def test_save_png_writes_a_readable_picture(qtbot, canvas, tmp_path):
    vertical_bar(qtbot, canvas)
    path = tmp_path / "digit.png"
    canvas.save_png(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    np.testing.assert_allclose(pixels, canvas.to_array(), atol=1 / 255)
    assert not QImage(str(path)).isNull()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_save_png_to_a_missing_folder_raises_oserror(canvas, tmp_path):
    with pytest.raises(OSError):
        canvas.save_png(tmp_path / "missing" / "digit.png")


def test_undo_history_is_bounded_without_losing_old_strokes(qtbot, canvas, monkeypatch):
    monkeypatch.setattr(drawing_history, "MAX_UNDO_STEPS", 3)
    for fx in (0.2, 0.35, 0.5, 0.65, 0.8):
        vertical_bar(qtbot, canvas, fx)
    while canvas.can_undo():
        canvas.undo()
    array = canvas.to_array()
    # The two oldest strokes were baked in; the three newest were undone.
    assert ink(array, 0.2, 0.5) > 0.9 and ink(array, 0.35, 0.5) > 0.9
    assert ink(array, 0.5, 0.5) == 0.0 and ink(array, 0.8, 0.5) == 0.0


# --------------------------------------------------------------------------- pen and touch


def test_pen_pressure_draws_a_slightly_thinner_stroke(qtbot, canvas):
    pen = QPointingDevice("test pen", 4242, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                          QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 3)

    def tablet(kind, point: QPointF, button, buttons) -> None:
        event = QTabletEvent(kind, pen, point, QPointF(canvas.mapToGlobal(point)), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier, button, buttons)
        QApplication.sendEvent(canvas, event)
        assert event.isAccepted()  # no synthesised mouse events on top

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    tablet(QEvent.Type.TabletPress, canvas_point(canvas, 0.5, 0.25), left, left)
    for step in range(1, 11):
        tablet(QEvent.Type.TabletMove, canvas_point(canvas, 0.5, 0.25 + step * 0.05), none, left)
    tablet(QEvent.Type.TabletRelease, canvas_point(canvas, 0.5, 0.75), left, none)
    row = canvas.to_array()[CANVAS_SIZE // 2]
    width = int((row > 0.5).sum())
    assert 0.6 * DEFAULT_BRUSH_WIDTH <= width < DEFAULT_BRUSH_WIDTH
    assert len(canvas.strokes()) == 1


def test_a_finger_draws(qtbot, canvas):
    device = QTest.createTouchDevice()
    start, end = canvas_point(canvas, 0.2, 0.5).toPoint(), canvas_point(canvas, 0.8, 0.5).toPoint()
    QTest.touchEvent(canvas, device).press(0, start, canvas).commit()
    for step in range(1, 9):
        x = start.x() + (end.x() - start.x()) * step // 8
        QTest.touchEvent(canvas, device).move(0, QPoint(x, start.y()), canvas).commit()
    QTest.touchEvent(canvas, device).release(0, end, canvas).commit()
    array = canvas.to_array()
    assert ink(array, 0.3, 0.5) > 0.9 and ink(array, 0.7, 0.5) > 0.9
    assert len(canvas.strokes()) == 1


# --------------------------------------------------------------------------- digit views


def test_model_input_view_shows_the_array_or_empty(qtbot):
    view = ModelInputView()
    qtbot.addWidget(view)
    assert view.is_empty() and "empty" in view.shown_text()
    view.set_image(ring_digit())
    assert not view.is_empty() and "28 × 28" in view.shown_text()
    np.testing.assert_array_equal(view.image(), ring_digit())
    view.set_overlay(np.ones((28, 28)))
    assert "saliency" in view.shown_text()
    view.grab()
    view.set_image(None)
    assert view.is_empty() and view.shown_text().endswith("empty")
    with pytest.raises(ValueError):
        view.set_image(np.zeros(3))


def test_prediction_view_shows_the_top_class_and_its_confidence(qtbot):
    view = PredictionView()
    qtbot.addWidget(view)
    assert view.predicted_label() is None and view.shown_text() == "Draw a digit"
    probabilities = np.full(10, 0.02)
    probabilities[7] = 0.82
    view.set_probabilities(probabilities)
    assert view.predicted_label() == 7
    assert view.shown_text() == "7  82.0%"
    view.grab()
    view.set_probabilities(None)
    assert view.predicted_label() is None and view.shown_text() == "Draw a digit"


def test_prediction_view_uses_class_names(qtbot):
    view = PredictionView()
    qtbot.addWidget(view)
    view.set_class_names(FASHION)
    assert view.class_names() == FASHION
    probabilities = np.zeros(10)
    probabilities[7] = 1.0
    view.set_probabilities(probabilities)
    assert view.shown_text().startswith("Sneaker")
    view.set_placeholder("Draw a piece of clothing")
    view.set_probabilities(None)
    assert view.shown_text() == "Draw a piece of clothing"


def test_prediction_view_rejects_a_wrong_length_and_survives_nan(qtbot):
    view = PredictionView()
    qtbot.addWidget(view)
    with pytest.raises(ValueError):
        view.set_probabilities(np.ones(3) / 3)
    view.set_probabilities(np.full(10, np.nan))
    assert view.predicted_label() is None and view.shown_text() == "No valid prediction"
    view.set_probabilities(np.eye(10)[3])
    assert view.predicted_label() == 3


def test_format_percent():
    assert format_percent(0.934) == "93.4%"
    assert format_percent(1.0) == ">99.9%" and format_percent(0.9996) == ">99.9%" and format_percent(0.9994) == "99.9%"
    assert format_percent(0.0) == "0.0%"
    assert format_percent(0.0001) == "<0.1%"


def test_the_headline_keeps_a_two_digit_answer_whole_in_a_narrow_column(qtbot):
    from PySide6.QtCore import QRectF

    from mnist_desktop.gui.prediction_headline import Headline

    headline = Headline()
    qtbot.addWidget(headline)
    rect = QRectF(0, 0, 160, 76)  # the prediction column at the window's default width
    headline.label, headline.confidence = "1 or 7", "60.0%"
    big, text, *_ = headline.fit(rect)
    assert text == "1 or 7" and big.pixelSize() >= 24  # was elided to "1 o…" at 12 px
    headline.label, headline.confidence = "9", ">99.9%"
    big, text, *_ = headline.fit(rect)
    assert text == "9" and big.pixelSize() >= int(76 * 0.9) - 2  # the digit stays big; the number gives way


def test_grid_lies_over_the_crop_the_model_reads(qtbot, canvas):
    """Preprocessing crops the ink and scales it into 28×28: the grid covers that crop, not the canvas."""
    assert canvas.grid_region() is None  # empty: the grid spans the canvas
    drag(qtbot, canvas, [canvas_point(canvas, 0.1, 0.1), canvas_point(canvas, 0.1, 0.3)])
    x, y, w, h = canvas.grid_region()
    assert w < CANVAS_SIZE / 2 and abs(w - h) < 0.05 * w  # about square, around a small stroke
    ink = np.argwhere(canvas.to_bytes() > 0)
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0)
    assert x <= left and right <= x + w and y <= top and bottom <= y + h  # the stroke lies inside it
    drag(qtbot, canvas, [canvas_point(canvas, 0.8, 0.8), canvas_point(canvas, 0.9, 0.9)])
    assert canvas.grid_region()[2] > w  # re-computed after the drawing changed
