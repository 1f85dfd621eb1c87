"""Issue 16 in the window: verdicts beside the digit and the compare strip, driven by drawing."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui_helpers import canvas_point, drag, open_main_window

from mnist_desktop.cli.main import main


@pytest.fixture(scope="module")
def doubt_model(tmp_path_factory):
    """A logistic regression trained on the bundled subset by `train`: outlier exposure + fitted doubt stats."""
    out = tmp_path_factory.mktemp("doubt") / "logreg-doubt.ckpt"
    assert main(["train", "--dataset", "mnist-subset", "--model", "logreg", "--epochs", "3", "--out", str(out)]) == 0
    return out


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path, doubt_model):
    win = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("compare",))
    win.load_model(str(doubt_model))
    qtbot.waitUntil(lambda: win.session.model is not None and win.session.model.path == str(doubt_model)
                    and win.session.model.doubt is not None, timeout=60_000)
    return win


def _draw(qtbot, window, strokes):
    """Draw polylines given in canvas fractions (0..1), one drag per stroke, then wait for the verdict."""
    window.canvas.clear()
    for stroke in strokes:
        drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in stroke])
    qtbot.waitUntil(lambda: window.prediction_view.verdict_text() != "", timeout=20_000)


def test_a_scribble_shows_doesnt_look_like_a_digit(qtbot, window):
    zigzag = [(0.15 + 0.7 * i / 9, 0.2 if i % 2 == 0 else 0.8) for i in range(10)]
    _draw(qtbot, window, [zigzag])
    qtbot.waitUntil(lambda: window.prediction_view.verdict_kind() == "not_a_digit", timeout=20_000)
    assert "Doesn't look like a digit" in window.prediction_view.verdict_text()
    assert window.prediction_view.shown_text().startswith("?")


def test_a_dot_shows_keep_drawing(qtbot, window):
    _draw(qtbot, window, [[(0.5, 0.5)]])
    qtbot.waitUntil(lambda: window.prediction_view.verdict_kind() == "too_small", timeout=20_000)
    assert window.prediction_view.shown_text().startswith("Keep drawing")
    assert "Too small" in window.prediction_view.verdict_text()


def _four_nine(t: float) -> list[list[tuple[float, float]]]:
    """A 4 whose open top closes into a 9's loop as ``t`` goes 0 → 1 (canvas fractions)."""
    left_top = (0.35 + 0.25 * t, 0.2 - 0.05 * t)
    return [[left_top, (0.3, 0.5), (0.68, 0.5)], [(0.62, 0.18), (0.62, 0.85)]] + ([[left_top, (0.62, 0.18)]] if t > 0.5 else [])


def test_an_ambiguous_four_or_nine_shows_both(qtbot, window, doubt_model):
    from mnist_desktop.core.analysis.reading import read_drawing
    from mnist_desktop.core.analysis.verdict import is_too_small
    from mnist_desktop.core.data.preprocess import to_model_input
    from mnist_desktop.core.data.strokes import render_strokes
    from mnist_desktop.core.models.checkpoints import load_checkpoint

    ckpt = load_checkpoint(doubt_model)
    # find, for this model, where between a 4 and a 9 the drawing becomes ambiguous
    found = None
    for t in np.linspace(0, 1, 41):
        picture = render_strokes([np.array(s) * 560 for s in _four_nine(t)], 560, 36)
        v = read_drawing("logreg", ckpt.params, ckpt.doubt, to_model_input(picture), too_small=is_too_small(picture)).verdict
        if v.kind == "unsure" and {v.label, v.runner_up} == {4, 9}:
            found = t
            break
    assert found is not None, "no 4/9 blend was ambiguous for this model"
    _draw(qtbot, window, _four_nine(found))
    qtbot.waitUntil(lambda: window.prediction_view.verdict_kind() == "unsure", timeout=20_000)
    text = window.prediction_view.verdict_text()
    assert "4" in text and "9" in text and text.startswith("Not sure")
    assert " or " in window.prediction_view.shown_text()


def test_three_pinned_models_all_follow_the_drawing(qtbot, window, doubt_model):
    from mnist_desktop.core.paths import bundled_model_path

    strip = window.docks["compare"].widget()
    strip.pin_active()
    strip.pin_file(str(bundled_model_path()))
    strip.pin_file(str(doubt_model))
    qtbot.waitUntil(lambda: len(strip.cards) == 3, timeout=30_000)
    seven = [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]
    _draw(qtbot, window, seven)
    qtbot.waitUntil(lambda: all(not c.answer.text().startswith("—") for c in strip.cards.values()), timeout=20_000)
    first = strip.shown_texts()
    assert all(c.badge.text() for c in strip.cards.values())
    _draw(qtbot, window, [[(0.5, 0.5)]])  # a dot: every card now says keep drawing
    qtbot.waitUntil(lambda: all(c.badge.kind == "too_small" for c in strip.cards.values()), timeout=20_000)
    assert strip.shown_texts() != first
    # clicking the bundled model's card makes it the active model
    card = strip.cards[f"file:{bundled_model_path()}"]
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.model.path == str(bundled_model_path()), timeout=20_000)


def test_why_not_explains_a_chosen_class(qtbot, monkeypatch, tmp_path, doubt_model):
    from gui_helpers import choose

    win = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("saliency",))
    view = win.docks["saliency"].widget()
    win.docks["saliency"].raise_()
    qtbot.waitUntil(lambda: win.session.model is not None, timeout=60_000)
    _draw(qtbot, win, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])  # a 7
    qtbot.waitUntil(lambda: view.explanation.text().startswith("Saliency for the prediction"), timeout=20_000)
    answer = win.session.predicted_class()
    other = (answer + 1) % 10
    before = view.attribution.copy()
    choose(view.target_combo, other)
    qtbot.waitUntil(lambda: view.explanation.text().startswith(f"Why not “{other}”?"), timeout=20_000)
    assert f"answered “{answer}”" in view.explanation.text()
    assert not np.allclose(view.attribution, before)  # another class, another map
    choose(view.target_combo, -1)
    qtbot.waitUntil(lambda: view.explanation.text().startswith("Saliency for the prediction"), timeout=20_000)
