"""Turning parameters into pictures: templates, units, kernels, grids (core/weights.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_desktop.core.models.networks import param_shapes
from mnist_desktop.core.analysis.weights import (
    best_columns,
    class_means,
    conv_connection_strength,
    conv_kernels,
    first_layer_units,
    grid_shape,
    layer_tiles,
    logreg_templates,
    mosaic,
    ordered_layers,
    symmetric_limit,
    tile_at,
    tile_origin,
    weight_tile_sets,
)


def random_params(model: str, seed: int = 0) -> dict:
    """Numpy parameters with the model's real shapes (no JAX compile needed)."""
    rng = np.random.default_rng(seed)
    return {module: {name: rng.normal(0, 0.05, shape).astype(np.float32) for name, (shape, _) in group.items()}
            for module, group in param_shapes(model).items()}


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


# --------------------------------------------------------------------------- params -> tiles


def test_logreg_templates_are_the_weight_columns():
    params = random_params("logreg")
    templates = logreg_templates(params)
    w = params["linear"]["w"]
    assert templates.shape == (10, 28, 28)
    for k in (0, 3, 9):
        np.testing.assert_array_equal(templates[k], w[:, k].reshape(28, 28))


def test_trained_logreg_templates_look_like_their_digits(trained_logreg):
    params, dataset = trained_logreg
    templates = logreg_templates(params)
    means = class_means(dataset.train_images, dataset.train_labels)
    # each template correlates positively with its own class's mean image ...
    assert all(correlation(templates[k], means[k]) > 0.3 for k in range(10))
    # ... and matches its own class best once the average digit is taken out
    distinct = means - means.mean(axis=0)
    best = [int(np.argmax([correlation(templates[k], distinct[j]) for j in range(10)])) for k in range(10)]
    assert best == list(range(10))


def test_mlp_units_are_sorted_by_norm_and_keep_their_identity():
    params = random_params("mlp")
    params["hidden1"]["w"][:, 17] *= 10  # one unit that clearly learned something
    tiles, order, norms = first_layer_units(params)
    w = params["hidden1"]["w"]
    assert tiles.shape == (300, 28, 28) and sorted(order.tolist()) == list(range(300))
    assert order[0] == 17
    assert np.all(np.diff(norms) <= 1e-6)
    for i in (0, 5, 299):
        np.testing.assert_array_equal(tiles[i], w[:, order[i]].reshape(28, 28))
    np.testing.assert_allclose(norms, np.linalg.norm(w[:, order], axis=0), rtol=1e-5)


def cnn_shapes() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(kh, kw, 1, out) of conv1 and (kh, kw, in, out) of conv2, whatever the CNN currently is."""
    shapes = param_shapes("cnn")
    return shapes["conv1"]["w"][0], shapes["conv2"]["w"][0]


def test_cnn_kernels_and_conv2_connection_strengths():
    params = random_params("cnn")
    (kh, kw, _, n1), (_, _, n_in, n2) = cnn_shapes()
    kernels = conv_kernels(params, "conv1")
    assert kernels.shape == (n1, kh, kw)
    np.testing.assert_array_equal(kernels[4], params["conv1"]["w"][:, :, 0, 4])
    strength = conv_connection_strength(params, "conv2")
    assert strength.shape == (n_in, n2)  # rows: conv1 maps, columns: conv2 filters
    np.testing.assert_allclose(strength[3, 7], np.linalg.norm(params["conv2"]["w"][:, :, 3, 7]), rtol=1e-5)


def expected_sets(model: str) -> tuple[list[str], list[tuple[int, ...]]]:
    if model == "logreg":
        return ["templates"], [(10, 28, 28)]
    if model == "mlp":
        return ["units"], [(300, 28, 28)]
    (kh, kw, _, n1), (_, _, n_in, n2) = cnn_shapes()
    return ["conv1", "conv2"], [(n1, kh, kw), (1, n_in, n2)]


@pytest.mark.parametrize("model", ["logreg", "mlp", "cnn"])
def test_weight_tile_sets_per_model(model):
    keys, shapes = expected_sets(model)
    sets = weight_tile_sets(model, random_params(model), ["zero"] + [str(i) for i in range(1, 10)])
    assert [s.key for s in sets] == keys
    assert [s.tiles.shape for s in sets] == shapes
    for tile_set in sets:
        assert tile_set.limit > 0 and tile_set.explanation
        assert len(tile_set.labels) == len(tile_set.tiles)
    if model == "logreg":
        assert sets[0].labels[0] == "zero"  # class names label the templates
        assert sets[0].limit == pytest.approx(float(np.abs(sets[0].tiles).max()))


def test_weight_tile_sets_reject_unknown_models_and_params():
    with pytest.raises(ValueError, match="unknown layer type 'transformer'"):  # not a preset nor a layer list
        weight_tile_sets("transformer", {})
    with pytest.raises(ValueError, match="linear"):
        logreg_templates({"hidden1": {"w": np.zeros((784, 3))}})


def test_symmetric_limit_ignores_outliers_and_is_never_zero():
    values = np.linspace(-1, 1, 10_001)
    values[0] = -1000.0
    assert symmetric_limit(values) == pytest.approx(1.0, abs=0.02)
    assert symmetric_limit(values, 100.0) == 1000.0
    assert symmetric_limit(np.zeros((5, 5))) > 0
    assert symmetric_limit(np.array([np.nan, np.inf])) > 0


# --------------------------------------------------------------------------- grids


def test_mosaic_and_tile_lookup_agree():
    tiles = np.arange(7 * 3 * 4, dtype=np.float32).reshape(7, 3, 4)
    gap = (3, 1)
    grid = mosaic(tiles, 3, gap)
    assert grid.shape == (3 * (3 + 3) - 3, 3 * (4 + 1) - 1)
    assert np.isnan(grid[3, 0]) and np.isnan(grid[0, 4])  # gaps are transparent
    for index in range(7):
        x, y = tile_origin(index, (3, 4), 3, gap)
        np.testing.assert_array_equal(grid[y:y + 3, x:x + 4], tiles[index])
        assert tile_at(x + 2, y + 1, (3, 4), 3, 7, gap) == index
    assert tile_at(4.5, 0, (3, 4), 3, 7, gap) is None  # in a gap
    assert tile_at(2 * 5 + 1, 2 * 6 + 1, (3, 4), 3, 7, gap) is None  # an empty slot after the last tile
    assert tile_at(-1, 0, (3, 4), 3, 7, gap) is None


def test_best_columns_fill_wide_and_tall_areas():
    assert best_columns(10, (28, 28), (1400, 150), 3) == 10
    assert best_columns(10, (28, 28), (150, 1400), 3) == 1
    assert best_columns(16, (5, 5), (400, 400), 1) == 4
    assert best_columns(0, (28, 28), (100, 100)) == 1


def test_grid_shape_prefers_exact_rectangles():
    assert grid_shape(128, 2.0) == (8, 16)
    assert grid_shape(16, 1.0) == (4, 4)
    for n in (1, 7, 100, 300):
        rows, cols = grid_shape(n, 1.5)
        assert rows * cols >= n and (rows - 1) * cols < n


def test_layer_tiles_and_order():
    assert layer_tiles(np.zeros((12, 12, 16))).shape == (16, 12, 12)
    assert layer_tiles(np.zeros(128)).shape == (128, 1, 1)
    assert ordered_layers({"logits": 1, "conv2": 1, "input": 1, "dense": 1, "conv1": 1, "extra": 1}) == [
        "input", "conv1", "conv2", "dense", "extra", "logits"]  # other layers before the logits, which come last
    # a custom network's layers in network order: convs first, then by number (dense10 after dense2)
    assert ordered_layers({"logits": 1, "dense10": 1, "dense2": 1, "conv1": 1, "input": 1}) == [
        "input", "conv1", "dense2", "dense10", "logits"]


def test_class_means_match_a_direct_computation():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 3, 50).astype(np.uint8)
    means = class_means(images, labels, num_classes=4)
    assert means.shape == (4, 28, 28)
    np.testing.assert_allclose(means[1], images[labels == 1].mean(axis=0) / 255, rtol=1e-5)
    assert not means[3].any()  # an empty class is all zero, not NaN
