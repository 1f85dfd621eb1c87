"""Saliency methods of the core: plain gradient and integrated gradients."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_desktop.core.models.checkpoints import load_checkpoint
from mnist_desktop.core.analysis.insight import analyse_one, attribution, predict_one
from mnist_desktop.core.models.networks import transformed
from mnist_desktop.core.paths import bundled_model_path
from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.core.data.strokes import random_drawn_canvas


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(bundled_model_path())


@pytest.fixture(scope="module")
def drawings():
    rng = np.random.default_rng(7)
    return [to_model_input(random_drawn_canvas(digit, rng, canvas_size=280).astype(np.float32) / 255) for digit in range(10)]


def test_integrated_gradients_add_up_to_the_score_change_from_a_blank_input(model, drawings):
    """Completeness (Sundararajan et al. 2017), up to the 32-step Riemann sum."""
    apply = transformed("cnn").apply
    errors, spans = [], []
    for x in drawings:
        label = int(np.argmax(predict_one("cnn", model.params, x)))
        logits = np.asarray(apply(model.params, np.stack([x, np.zeros_like(x)])[..., None]))
        change = logits[0, label] - logits[1, label]
        errors.append(abs(attribution("cnn", model.params, x, label).sum() - change))
        spans.append(abs(change))
    assert np.median(np.array(errors) / np.array(spans)) < 0.1


def test_integrated_gradients_lie_on_the_ink_and_the_plain_gradient_does_not(model, drawings):
    for x in drawings[:3]:
        analysis = analyse_one("cnn", model.params, x, "integrated")
        integrated, plain = analysis.saliency, analyse_one("cnn", model.params, x, "gradient").saliency
        # the views show the size and, beside it, the sign: strokes argue both for and against
        assert np.abs(analysis.attribution).max() == pytest.approx(1.0)
        assert analysis.attribution.min() < 0 < analysis.attribution.max()
        assert integrated.shape == plain.shape == (28, 28)
        assert integrated.max() == pytest.approx(1.0) and plain.max() == pytest.approx(1.0)
        assert not integrated[x == 0].any()  # blank baseline: paper gets no attribution
        assert np.count_nonzero(integrated[x > 0.5]) > 0.9 * np.count_nonzero(x > 0.5)
        assert plain[x == 0].mean() > 0.05  # the gradient is spread over the paper too


def test_unknown_saliency_method_is_refused(model, drawings):
    with pytest.raises(ValueError, match="unknown saliency method 'smooth'"):
        analyse_one("cnn", model.params, drawings[0], "smooth")
