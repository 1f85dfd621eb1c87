"""The step-through replays each model's forward pass: every number equals the model's own."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_desktop.core.analysis.stepthrough import (
    PLANS,
    conv_cell,
    dense_unit,
    page,
    plan_for,
    pool_cell,
    softmax,
    walk,
)
from mnist_desktop.core.data.datasets import load_dataset
from mnist_desktop.core.models.checkpoints import load_checkpoint
from mnist_desktop.core.models.networks import init_params, with_activations
from mnist_desktop.core.paths import bundled_model_path


@pytest.fixture(scope="module")
def digit():
    return load_dataset("mnist-subset").test_images[3].astype(np.float32) / 255


def _params(name):
    return load_checkpoint(bundled_model_path()).params if name == "cnn" else init_params(name, seed=3)


@pytest.mark.parametrize("name", ["logreg", "mlp", "cnn"])
def test_every_recorded_stage_equals_the_models_activation(name, digit):
    params = _params(name)
    logits, acts = with_activations(name).apply(params, digit[None, :, :, None])
    stages = walk(name, params, digit)
    assert [s.op for s in stages] == list(PLANS[name])
    recorded = {s.op.record: s.output for s in stages if s.op.record}
    assert set(recorded) == set(acts) - {"input"}
    for layer, value in recorded.items():
        np.testing.assert_allclose(value, np.asarray(acts[layer])[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stages[-1].output, np.asarray(softmax(np.asarray(logits)[0])), atol=1e-6)
    np.testing.assert_allclose(stages[0].input[..., 0], digit)


def test_a_conv_cells_arithmetic_is_the_cells_value_before_relu(digit):
    params = _params("cnn")
    stages = walk("cnn", params, digit)
    conv1, relu1 = stages[0], stages[1]
    for r, c, k in [(0, 0, 0), (5, 7, 3), (11, 11, 31)]:
        cell = conv_cell(conv1, r, c, k)
        assert cell.patch.shape == (5, 5, 1) and cell.origin == (2 * r, 2 * c)  # stride 2
        np.testing.assert_allclose(cell.patch[..., 0], digit[2 * r:2 * r + 5, 2 * c:2 * c + 5])
        assert cell.total == pytest.approx(float(conv1.output[r, c, k]), abs=1e-4)
        assert float(relu1.output[r, c, k]) == pytest.approx(max(cell.total, 0.0), abs=1e-4)
        assert cell.products.sum() + cell.bias == pytest.approx(cell.total, abs=1e-4)
    conv2 = stages[3]
    cell = conv_cell(conv2, 2, 1, 10)
    assert cell.per_input_channel.shape == (32,)
    assert cell.per_input_channel.sum() + cell.bias == pytest.approx(float(conv2.output[2, 1, 10]), abs=1e-4)


def test_pool_cells_take_the_window_maximum(digit):
    stages = walk("cnn", _params("cnn"), digit)
    pool = stages[2]
    cell = pool_cell(pool, 3, 4, 5)
    assert cell.window.shape == (2, 2)
    assert cell.value == float(pool.output[3, 4, 5]) == float(cell.window[cell.winner])


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_dense_units_are_weighted_sums_whose_top_contributors_come_first(name, digit):
    stages = walk(name, _params(name), digit)
    dense = next(s for s in stages if s.op.kind == "dense")
    unit = dense_unit(dense, 4, top=8)
    assert unit.total == pytest.approx(float(dense.output[4]), abs=1e-4)
    top = np.abs(unit.contributions[unit.top])
    assert np.all(np.diff(top) <= 0) and top[0] == np.abs(unit.contributions).max()
    assert unit.contributions[unit.top].sum() + unit.rest + unit.bias == pytest.approx(unit.total, abs=1e-4)
    if name == "logreg":  # "template × pixels = score": the weights of a class are a 28×28 template
        template = dense.weights[:, 4].reshape(28, 28)
        assert float((template * digit).sum() + dense.bias[4]) == pytest.approx(unit.total, abs=1e-4)


def test_softmax_temperature_sharpens_and_flattens(digit):
    stages = walk("cnn", _params("cnn"), digit)
    last = len(stages) - 1
    cold, warm, one = (page(stages, last, temperature=t).probabilities for t in (0.25, 4.0, 1.0))
    np.testing.assert_allclose(one, stages[-1].output, atol=1e-6)
    assert cold.max() > one.max() > warm.max()
    assert np.argmax(cold) == np.argmax(warm) == np.argmax(one)
    for p in (cold, warm):
        assert p.sum() == pytest.approx(1.0)


def test_pages_start_on_the_strongest_cell_and_refuse_unknown_models(digit):
    stages = walk("cnn", _params("cnn"), digit)
    first = page(stages, 0)
    assert stages[0].output[first.cell] == stages[0].output.max()
    assert page(stages, 0, (1, 2, 3)).detail.row == 1
    assert page(stages, 0, (99, 0, 0)).cell == first.cell  # out of range: back to the strongest
    with pytest.raises(ValueError, match="no step-through plan for model 'resnet'"):
        plan_for("resnet")
