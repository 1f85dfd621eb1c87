"""Targeted FGSM / PGD and the robustness curves, on the bundled model and real test digits."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_desktop.core.analysis.adversarial import attack, change_size, smallest_budget
from mnist_desktop.core.analysis.insight import predict_one
from mnist_desktop.core.analysis.robustness import PERTURBATIONS, curve, curves, perturb, probe


def _digit(mnist_subset, label):
    index = int(np.flatnonzero(mnist_subset.test_labels == label)[0])
    return mnist_subset.test_images[index].astype(np.float32) / 255


@pytest.mark.parametrize("norm, epsilon", [("linf", 0.25), ("l2", 4.0)])
def test_pgd_on_the_bundled_model_reaches_its_target_within_the_budget(bundled_model, mnist_subset, norm, epsilon):
    x = _digit(mnist_subset, 7)
    assert np.argmax(predict_one("cnn", bundled_model.params, x)) == 7
    result = attack("cnn", bundled_model.params, x, 3, method="pgd", norm=norm, epsilon=epsilon, steps=20)
    assert result.success and int(np.argmax(predict_one("cnn", bundled_model.params, result.adversarial))) == 3
    assert result.size() <= epsilon * (1 + 1e-5)
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1
    assert 0 < result.first_success <= 20
    assert result.target_trace[0] < 0.05 and result.target_trace[-1] == pytest.approx(result.probs_after[3])
    np.testing.assert_allclose(result.probs_after, predict_one("cnn", bundled_model.params, result.adversarial), atol=1e-5)


def test_fgsm_takes_one_step_of_the_whole_budget(bundled_model, mnist_subset):
    x = _digit(mnist_subset, 1)
    result = attack("cnn", bundled_model.params, x, 8, method="fgsm", norm="linf", epsilon=0.1)
    assert len(result.target_trace) == 2
    changed = np.abs(result.delta)[(x > 0.1) & (x < 0.9)]  # away from the clipped ends: exactly ±ε
    assert np.allclose(changed[changed > 0], 0.1, atol=1e-6)
    assert result.probs_after[8] > result.probs_before[8]


def test_a_tiny_budget_fails_and_the_smallest_budget_is_between(bundled_model, mnist_subset):
    x = _digit(mnist_subset, 0)
    assert not attack("cnn", bundled_model.params, x, 6, epsilon=0.005).success
    best = smallest_budget("cnn", bundled_model.params, x, 6, rounds=5)
    assert best is not None and best.success and 0.005 < best.epsilon < 1.0
    assert change_size(best.delta, "linf") <= best.epsilon + 1e-6


def test_bad_attack_settings_are_refused_with_the_field_named(bundled_model, mnist_subset):
    x = _digit(mnist_subset, 2)
    with pytest.raises(ValueError, match="budget norm 'l3'"):
        attack("cnn", bundled_model.params, x, 1, norm="l3")
    with pytest.raises(ValueError, match="budget ε must be a positive"):
        attack("cnn", bundled_model.params, x, 1, epsilon=0)
    with pytest.raises(ValueError, match="target must be a class"):
        attack("cnn", bundled_model.params, x, 10)


def test_perturbations_are_neutral_at_their_neutral_level_and_change_the_image_away_from_it(mnist_subset):
    x = mnist_subset.test_images[:4].astype(np.float32) / 255
    for spec in PERTURBATIONS.values():
        np.testing.assert_allclose(perturb(x, spec.name, spec.neutral), x, atol=1e-5)
        assert np.abs(perturb(x, spec.name, spec.levels[-1]) - x).mean() > 0.01
    shifted = perturb(x[0], "shift", 3)
    np.testing.assert_allclose(shifted[:, 3:], x[0][:, :-3], atol=1e-5)  # whole pixels: an exact move right
    assert perturb(x, "thickness", 1).sum() > x.sum() > perturb(x, "thickness", -1).sum()
    np.testing.assert_array_equal(perturb(x, "noise", 0.3), perturb(x, "noise", 0.3))  # seeded


def test_robustness_curves_start_at_the_clean_accuracy_and_fall(bundled_model, mnist_subset):
    x, y = mnist_subset.test_images[:200], mnist_subset.test_labels[:200]
    rotation = curve("cnn", bundled_model.params, x, y, "rotation")
    clean = rotation.accuracy[list(rotation.levels).index(0.0)]
    assert clean > 0.95 and rotation.accuracy[0] < 0.5 and rotation.accuracy[-1] < 0.5
    assert rotation.predictions.shape == (13, 200) and np.all((0 <= rotation.confidence) & (rotation.confidence <= 1))
    names = [c.name for c in curves("cnn", bundled_model.params, x[:20], y[:20], ("noise", "scale"))]
    assert names == ["noise", "scale"]


def test_probe_gives_the_perturbed_drawing_and_its_answer(bundled_model, mnist_subset):
    x = _digit(mnist_subset, 4)
    image, probs = probe("cnn", bundled_model.params, x, "rotation", 180.0)
    np.testing.assert_allclose(image, x[::-1, ::-1], atol=1e-4)  # half a turn about the centre
    np.testing.assert_allclose(probs, predict_one("cnn", bundled_model.params, image), atol=1e-5)
