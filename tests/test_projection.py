"""The map's core: layers in order, PCA, where a new input lands, and a cancellable t-SNE."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_desktop.core.analysis.layers import layer_features, layer_names, layer_shapes, one_features
from mnist_desktop.core.analysis.projection import (
    NeighbourPlacer,
    PCAMap,
    fit_pca,
    map_sample,
    orient_like,
    reduce_for_tsne,
    tsne_available,
    tsne_steps,
)
from mnist_desktop.core.models.networks import init_params


def test_layers_are_listed_in_forward_order_for_every_model():
    assert layer_names("logreg") == ["input", "logits"]
    assert layer_names("mlp") == ["input", "hidden1", "hidden2", "logits"]
    assert layer_names("cnn") == ["input", "conv1", "conv2", "dense", "logits"]
    assert layer_shapes("cnn")["conv1"] == (12, 12, 32)


def test_layer_features_match_one_at_a_time_and_predictions_are_the_models(bundled_model, mnist_subset):
    images = mnist_subset.test_images[:37]  # not a multiple of the batch: the padding must not leak
    feats, preds = layer_features("cnn", bundled_model.params, images, "dense", batch=16)
    assert feats.shape == (37, 128)
    np.testing.assert_allclose(one_features("cnn", bundled_model.params, images[5].astype(np.float32) / 255, "dense"),
                               feats[5], rtol=1e-4, atol=1e-5)
    assert (preds == mnist_subset.test_labels[:37]).mean() > 0.9
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        layer_features("cnn", bundled_model.params, images, "conv9")


def test_map_sample_is_fixed_and_takes_everything_when_small():
    assert np.array_equal(map_sample(1000), np.arange(1000))
    a, b = map_sample(10_000), map_sample(10_000)
    assert len(a) == 5000 and np.array_equal(a, b) and np.all(np.diff(a) > 0)


def test_pca_finds_the_direction_of_largest_spread_and_its_share():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 3)) * np.array([5.0, 1.0, 0.1])
    pca = fit_pca(x)
    assert abs(pca.components[0, 0]) > 0.99 and pca.components[0, 0] > 0  # sign fixed: largest loading positive
    assert pca.explained[0] == pytest.approx(25 / 26.01, abs=0.03)


def test_randomised_pca_of_a_wide_layer_agrees_with_the_exact_one(bundled_model, mnist_subset):
    feats, _ = layer_features("cnn", bundled_model.params, mnist_subset.test_images[:400], "conv1")  # 4,608 numbers wide
    fast = fit_pca(feats)
    centred = feats - feats.mean(axis=0)
    exact = np.linalg.svd(centred, full_matrices=False)[2][:2]
    for axis in range(2):
        assert abs(float(np.dot(fast.components[axis], exact[axis]))) > 0.999


def test_a_training_image_projects_exactly_onto_its_own_pca_point(bundled_model, mnist_subset):
    feats, _ = layer_features("mlp", init_params("mlp"), mnist_subset.test_images[:300], "hidden2")
    pca = fit_pca(feats)
    coords = pca.transform(feats)
    live = pca.transform(one_features("mlp", init_params("mlp"), mnist_subset.test_images[42].astype(np.float32) / 255, "hidden2"))
    np.testing.assert_allclose(live, coords[42], atol=1e-3 * np.abs(coords).max())


def test_the_neighbour_placement_lands_a_new_point_in_its_cluster_and_a_sample_point_on_itself():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 10)) * 10
    feats = np.concatenate([c + rng.normal(size=(100, 10)) for c in centres])
    spots = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]])
    coords = np.repeat(spots, 100, axis=0) + rng.normal(size=(300, 2))
    placer = NeighbourPlacer(feats, coords)
    new = centres[1] + rng.normal(size=10)
    assert np.linalg.norm(placer.place(new) - spots[1]) < 3
    # a point whose neighbours are split between two clusters lands in one of them, not between
    between = placer.place(0.5 * (centres[0] + centres[1]))
    assert min(np.linalg.norm(between - spots[0]), np.linalg.norm(between - spots[1])) < 5
    many = placer.place(feats[[5, 150, 299]])
    assert many.shape == (3, 2)
    assert np.all(np.linalg.norm(many - spots[[0, 1, 2]], axis=1) < 3)


def test_orient_like_undoes_a_mirrored_refit_for_the_map_and_new_points():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(100, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.1])
    pca = fit_pca(feats)
    coords = pca.transform(feats)
    mirrored = PCAMap(pca.mean, pca.components * np.array([[-1.0], [1.0]], np.float32), pca.explained)
    fixed, fixed_coords = orient_like(mirrored, mirrored.transform(feats), coords)
    np.testing.assert_allclose(fixed_coords, coords, atol=1e-5)
    np.testing.assert_allclose(fixed.transform(feats[3]), coords[3], atol=1e-5)
    assert orient_like(pca, coords, None)[1] is not None


@pytest.mark.skipif(not tsne_available(), reason="openTSNE (the [maps] extra) is not installed")
def test_tsne_reports_progress_and_stops_when_cancelled_mid_way(bundled_model, mnist_subset):
    feats, _ = layer_features("cnn", bundled_model.params, mnist_subset.test_images[:300], "dense")
    _, reduced = reduce_for_tsne(feats)
    steps = tsne_steps(reduced, iterations=120, chunk=10)
    reports = []
    for report in steps:
        reports.append(report)
        if report.iteration >= 30:
            break  # cancel: nothing runs past the last yield
    steps.close()
    assert [r.iteration for r in reports] == [0, 10, 20, 30]
    assert reports[0].phase == "neighbours" and reports[-1].phase == "early exaggeration"
    assert reports[-1].coords.shape == (300, 2) and np.isfinite(reports[-1].coords).all()
    assert reports[-1].total == 120


@pytest.mark.skipif(not tsne_available(), reason="openTSNE (the [maps] extra) is not installed")
def test_tsne_runs_to_the_end_and_separates_the_digits(bundled_model, mnist_subset):
    feats, _ = layer_features("cnn", bundled_model.params, mnist_subset.test_images[:300], "dense")
    _, reduced = reduce_for_tsne(feats)
    last = list(tsne_steps(reduced, iterations=120, chunk=40))[-1]
    assert last.phase == "done" and last.iteration == 120
    labels = mnist_subset.test_labels[:300]
    placer = NeighbourPlacer(reduced, last.coords)  # the live point of a sample digit lands by its own point
    spread = np.median(np.linalg.norm(last.coords - last.coords.mean(axis=0), axis=1))
    assert np.linalg.norm(placer.place(reduced[7]) - last.coords[7]) < 0.1 * spread
    # neighbours on the map share their digit far more often than chance (10 %)
    d = np.linalg.norm(last.coords[:, None] - last.coords[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (labels[np.argmin(d, axis=1)] == labels).mean() > 0.8
